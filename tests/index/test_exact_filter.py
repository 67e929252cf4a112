"""A filter that admits few rows is searched exactly: over the admitted rows' own vectors, kept by
the snapshot, and not by the vector store's approximate search with a ``where``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest

from index.embeddings import embed_query
from index.retrieval import HybridRetriever
from index.snapshot import RowVectors, Snapshot, best_first
from index.vectors import CHUNKS, SENTENCES
from qa.engine import Engine
from qa.filters import ArticleFilter
from qa.settings import Settings
from tests.conftest import SEEDS, write_articles

QUESTIONS = (
    "Wie lange traf Lawrow den nordkoreanischen Machthaber Kim Jong Un?",
    "Wo wurde gestreikt?",
    "Was geschah in Bremen?",
)
FILTERS = (
    ArticleFilter.parse(sources=["dpa"]),
    ArticleFilter.parse(sources=["reuters"]),
    ArticleFilter.parse("2023-10-01", "2023-10-31"),
    ArticleFilter.parse("2023-10-01", "2023-10-31", ["afp", "Tagesspiegel"]),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The seeds and the five ARTICLES of tests/conftest.py (dated, from several outlets), with the real
    embedder."""
    corpus = write_articles(tmp_path_factory.mktemp("exact-corpus"))
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    engine = Engine(Settings.load(index_dir=tmp_path_factory.mktemp("exact-index")))
    engine.index([corpus])
    yield engine
    engine.close()


def brute_force(engine: Engine, snapshot: Snapshot, kind: str, mask: np.ndarray, vector: np.ndarray) -> list[int]:
    """The admitted rows by cosine similarity to ``vector``, computed here from the stored vectors."""
    rows = [int(row) for row in np.flatnonzero(mask)]
    ids = [snapshot.chunks[r].chunk_id if kind == CHUNKS else snapshot.sentences[r].vector_id for r in rows]
    stored = engine.store.vectors.vectors(kind, ids)
    query = vector / np.linalg.norm(vector)
    similarity = {row: float(stored[i] @ query / np.linalg.norm(stored[i])) for row, i in zip(rows, ids, strict=True)}
    return sorted(rows, key=lambda row: (-round(similarity[row], 5), row))


@pytest.mark.parametrize("article_filter", FILTERS, ids=lambda f: f.describe())
@pytest.mark.parametrize("kind", [CHUNKS, SENTENCES])
def test_a_small_filter_ranks_exactly_the_admitted_rows(engine, article_filter, kind):
    retriever: HybridRetriever = engine.retriever
    snapshot = engine.store.snapshot()
    allowed = snapshot.allowed(article_filter)
    mask = allowed.chunks if kind == CHUNKS else allowed.sentences
    assert 0 < mask.sum() <= retriever.exact_rows
    for question in QUESTIONS:
        vector = embed_query(engine.store.embedder, question)
        found = retriever._dense(snapshot, kind, vector, 10_000, article_filter, allowed)
        assert all(mask[row] for row, _ in found)  # nothing outside the filter
        assert len(found) == mask.sum()  # every admitted row, ranked
        expected = brute_force(engine, snapshot, kind, mask, vector)
        # Equal similarities may come in either order; the similarities themselves must agree.
        assert [round(s, 5) for _, s in found] == sorted((round(s, 5) for _, s in found), reverse=True)
        ranked = sorted(found, key=lambda item: (-round(item[1], 5), item[0]))
        assert [row for row, _ in ranked] == expected


@pytest.mark.parametrize("article_filter", FILTERS, ids=lambda f: f.describe())
def test_a_small_filter_does_not_ask_the_vector_store_to_filter(engine, article_filter, monkeypatch):
    """The filtered question reads the admitted vectors (once, kept by the snapshot) and never runs a
    filtered approximate search; its hits are all of admitted articles."""
    vectors = engine.store.vectors
    query = vectors.query
    filtered_queries = []

    def watched(kind, vector, n, where=None):
        if where:
            filtered_queries.append(where)
        return query(kind, vector, n, where)

    monkeypatch.setattr(vectors, "query", watched)
    snapshot = engine.store.snapshot()
    admitted = {doc_id for doc_id, d in snapshot.documents.items() if article_filter.matches(d)}
    for question in QUESTIONS:
        hits = engine.retriever.retrieve(question, 8, article_filter)
        assert hits and {hit.doc_id for hit in hits} <= admitted
    assert filtered_queries == []


@pytest.mark.parametrize("article_filter", FILTERS, ids=lambda f: f.describe())
def test_exact_and_approximate_search_agree_on_a_small_index(engine, article_filter):
    """On a few hundred vectors Chroma's filtered search finds the true nearest ones too: the exact
    path gives the same sentences, with the same scores."""
    exact = engine.retriever
    approximate = HybridRetriever(
        engine.store, exact.candidate_chunks, exact.rrf_k, exact.lexical_weight, exact.context_weight, exact_rows=0
    )
    for question in QUESTIONS:
        ours = exact.retrieve(question, 8, article_filter)
        theirs = approximate.retrieve(question, 8, article_filter)
        assert [(h.doc_id, h.sentence_index) for h in ours] == [(h.doc_id, h.sentence_index) for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=2e-4)


def test_best_first_is_a_stable_sort_of_the_best():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 20, 500).astype(np.float32)  # many ties
    for n in (0, 1, 7, 100, 500, 900):
        expected = np.argsort(-values, kind="stable")[:n]
        assert best_first(values, n).tolist() == expected.tolist()
    assert best_first(np.zeros(0, dtype=np.float32), 5).tolist() == []


def test_row_vectors_rank_by_cosine_and_look_up_their_rows():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((300, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rows = np.arange(0, 900, 3, dtype=np.int64)
    vectors = RowVectors(rows, matrix)
    query = rng.standard_normal(16).astype(np.float32)
    cosine = matrix @ (query / np.linalg.norm(query))
    assert [row for row, _ in vectors.nearest(query * 5, 10)] == [int(rows[i]) for i in np.argsort(-cosine)[:10]]
    found = vectors.lookup([3, 4, 897, 900])
    assert sorted(found) == [3, 897] and np.array_equal(found[897], matrix[-1])


def test_a_filter_is_searched_exactly_when_it_is_small_or_a_small_share():
    retriever = HybridRetriever(None, exact_rows=20_000)  # type: ignore[arg-type]
    assert retriever._exact(20_000, 500)
    assert not retriever._exact(20_001, 500)  # a large share: the approximate search, deep enough
    assert retriever._exact(60_000, 10_000)  # too deep for the approximate search
    assert not retriever._exact(90_000, 10_000)  # too many vectors to keep
