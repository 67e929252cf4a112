"""Hybrid retrieval in two stages.

1. Recall: chunks ranked three ways (dense chunk similarity, the chunks of the most similar
   sentences, BM25 with German stems) and fused by reciprocal rank.
2. Citation: the sentences of the best chunks ranked by their own similarity to the question, with
   small bonuses for BM25 overlap and for the rank of their chunk.

The sentence's own similarity dominates the second stage on purpose: on the seed questions, rank
fusion at that stage let long, name-heavy sentences of a top chunk push the answering sentence out
of the top 3, while the sentence similarity ranked it first. ``score`` is therefore close to a
cosine similarity, which keeps it usable as an abstention threshold.

A statement that several articles print (near-duplicate sentences, grouped at indexing) is returned
once: its best-scoring sentence, with the others in ``also``, so the model does not read one fact
three times and a reader can still open each copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from index.documents import Document, Sentence
from index.embeddings import embed_query
from index.lexical import analyse_query
from index.vectors import CHUNKS, SENTENCES, VectorStore
from qa.answer import Copy
from qa.corpus import AllowedRows, Corpus
from qa.crosslingual import SearchQuery
from qa.filters import ArticleFilter


@dataclass(frozen=True, slots=True)
class SentenceHit:
    doc_id: str
    title: str
    source: str
    sentence_index: int
    sentence: str
    start: int
    end: int
    score: float
    similarity: float
    lexical: float
    date: str | None = None
    publisher: str | None = None
    #: The sentence's id in the vector store.
    vector_id: str = ""
    #: The article's address, when known.
    url: str | None = None
    #: The same statement in other articles (near-duplicate sentences), best first.
    also: tuple[Copy, ...] = ()

    def to_dict(self) -> dict:
        """Plain JSON data: ``also`` as a list of dicts, as it reads back from JSON."""
        data = asdict(self)
        data["also"] = list(data["also"])
        return data


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The sentences found for a question, and the question as it was searched."""

    query: SearchQuery
    hits: list[SentenceHit]

    def to_dict(self) -> dict:
        return {"query": self.query.to_dict(), "hits": [hit.to_dict() for hit in self.hits]}


#: Copies listed per hit: a line of boilerplate that hundreds of articles share lists the first ones.
MAX_COPIES = 20


class HybridRetriever:
    def __init__(
        self,
        vectors: VectorStore,
        embedder: BaseEmbedding,
        candidate_chunks: int = 8,
        rrf_k: int = 60,
        lexical_weight: float = 0.02,
        context_weight: float = 0.01,
    ):
        self.vectors = vectors
        self.embedder = embedder
        self.candidate_chunks = candidate_chunks
        self.rrf_k = rrf_k
        self.lexical_weight = lexical_weight
        self.context_weight = context_weight

    def retrieve(
        self,
        corpus: Corpus,
        question: str,
        k: int,
        filter: ArticleFilter | None = None,
        german: str | None = None,
    ) -> list[SentenceHit]:
        """The ``k`` best sentences; with ``filter``, only from the articles it admits. The filter is
        applied before anything is ranked (the vector store's ``where``, masked BM25 scores), so a
        filtered question gets ``k`` sentences as long as the admitted articles hold them. ``german``
        is the question's German form, for a question asked in another language: it is searched
        beside the question (``qa.crosslingual``)."""
        allowed = corpus.allowed(filter)
        if not corpus.chunks or (allowed is not None and not allowed.chunk_count):
            return []
        where = filter.where() if filter is not None else None
        forms = [question] if german is None else [question, german]
        query_vectors = [embed_query(self.embedder, form) for form in forms]
        query_tokens = analyse_query(" ".join(forms))
        depth = max(4 * self.candidate_chunks, 2 * k, 20)
        sentence_matches = [
            dict(self._dense(SENTENCES, vector, 3 * depth, corpus.sentence_row, where, _mask(allowed, SENTENCES)))
            for vector in query_vectors
        ]
        candidates = self._recall_chunks(corpus, query_vectors, query_tokens, sentence_matches, depth, where, allowed)
        return self._rank_sentences(corpus, candidates, query_vectors, query_tokens, sentence_matches, k)

    def following(self, corpus: Corpus, hit: SentenceHit, filter: ArticleFilter | None = None) -> SentenceHit | None:
        """The sentence after ``hit`` in its document: news sentences often finish their thought in
        the next one ("Dabei sei es um militärische Zusammenarbeit … gegangen."). None where there is
        none, or where ``filter`` does not admit its article."""
        row = corpus.sentence_row.get(hit.vector_id)
        if row is None or row + 1 >= len(corpus.sentences) or corpus.sentences[row + 1].doc_id != hit.doc_id:
            return None
        allowed = corpus.allowed(filter)
        if allowed is not None and not allowed.sentences[row + 1]:
            return None
        return _hit(corpus, row + 1, hit.score, hit.similarity, 0.0, _copies(corpus, row + 1))

    def _recall_chunks(
        self,
        corpus: Corpus,
        query_vectors: list[np.ndarray],
        query_tokens: list[str],
        sentence_matches: list[dict[int, float]],
        depth: int,
        where: dict | None = None,
        allowed: AllowedRows | None = None,
    ) -> list[int]:
        """The best chunks by rank fusion of, for each form of the question, its dense chunks and the
        chunks of its most similar sentences, and of BM25 over the words of all forms."""
        rankings = []
        for vector, matches in zip(query_vectors, sentence_matches, strict=True):
            nearest = self._dense(CHUNKS, vector, depth, corpus.chunk_row, where, _mask(allowed, CHUNKS))
            rankings.append([row for row, _ in nearest])
            rankings.append(list(dict.fromkeys(corpus.sentences[row].chunk_row for row in matches)))
        scores = corpus.chunk_lexical.scores(query_tokens)
        if allowed is not None:  # chunks of other articles score nothing, before the best are taken
            scores = np.where(allowed.chunks, scores, 0.0)
        rankings.append(_top(scores, depth))
        return list(self._fuse(rankings))[: self.candidate_chunks]

    def _rank_sentences(
        self,
        corpus: Corpus,
        candidates: list[int],
        query_vectors: list[np.ndarray],
        query_tokens: list[str],
        sentence_matches: list[dict[int, float]],
        k: int,
    ) -> list[SentenceHit]:
        """The sentences of the candidate chunks by their similarity to the question (the mean over its
        forms), with the small BM25 and chunk-rank bonuses."""
        rows = [row for chunk in candidates for row in corpus.chunk_sentence_rows[chunk]]
        similarity = self._similarities(corpus, rows, sentence_matches, query_vectors)
        lexical = corpus.sentence_lexical.scores(query_tokens)
        lexical_max = max(float(lexical[rows].max()), 1e-9)
        position = {chunk: i for i, chunk in enumerate(candidates)}
        scores = {
            row: similarity[row]
            + self.lexical_weight * float(lexical[row]) / lexical_max
            + self.context_weight * (1 - position[corpus.sentences[row].chunk_row] / len(candidates))
            for row in rows
        }
        hits: list[SentenceHit] = []
        seen: set[tuple[str, str]] = set()
        shown: set[int] = set()
        for row in sorted(rows, key=lambda r: -scores[r]):
            group = corpus.group_of(row)
            if group in shown:  # a copy of a better-scoring sentence, listed in that one's ``also``
                continue
            hit = _hit(corpus, row, scores[row], similarity[row], float(lexical[row]), _copies(corpus, row, scores))
            if (hit.doc_id, hit.sentence) not in seen:
                seen.add((hit.doc_id, hit.sentence))
                shown.add(group)
                hits.append(hit)
            if len(hits) == k:
                break
        return hits

    def _dense(
        self,
        kind: str,
        vector: np.ndarray,
        n: int,
        rows: dict[str, int],
        where: dict | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Nearest live entries; with ``where``, only those the vector store's filter admits (and
        ``allowed``, the same filter as a row mask, confirms). Vectors of an interrupted run that the
        document store does not know are skipped; where they crowd the first page, a deeper page is
        fetched."""
        wanted = min(n, len(rows) if allowed is None else int(allowed.sum()))
        if wanted <= 0:
            return []
        while True:
            matches = self.vectors.query(kind, vector, n, where)
            found = ((rows[m.id], m.similarity) for m in matches if m.id in rows)
            live = [(row, similarity) for row, similarity in found if allowed is None or allowed[row]]
            if len(live) >= wanted or len(matches) < n:
                return live[:wanted]
            n *= 4

    def _fuse(self, rankings: Iterable[list[int]]) -> dict[int, float]:
        """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings an item appears in."""
        scores: dict[int, float] = {}
        for ranking in rankings:
            for rank, item in enumerate(ranking, start=1):
                scores[item] = scores.get(item, 0.0) + 1.0 / (self.rrf_k + rank)
        return dict(sorted(scores.items(), key=lambda kv: -kv[1]))

    def _similarities(
        self, corpus: Corpus, rows: list[int], known: list[dict[int, float]], query_vectors: list[np.ndarray]
    ) -> dict[int, float]:
        """Each row's similarity to the question, the mean over its forms: from the dense searches where
        they scored the row, else from its stored vector, fetched once for all forms."""
        missing = [corpus.sentences[r].vector_id for r in rows if any(r not in matches for matches in known)]
        fetched = {corpus.sentence_row[v]: vector for v, vector in self.vectors.vectors(SENTENCES, missing).items()}
        similarity = {}
        for row in rows:
            values = [
                matches[row] if row in matches else float(fetched[row] @ vector) if row in fetched else 0.0
                for matches, vector in zip(known, query_vectors, strict=True)
            ]
            similarity[row] = sum(values) / len(values)
        return similarity


def _mask(allowed: AllowedRows | None, kind: str) -> np.ndarray | None:
    if allowed is None:
        return None
    return allowed.chunks if kind == CHUNKS else allowed.sentences


def _top(scores: np.ndarray, n: int) -> list[int]:
    if scores.size == 0:
        return []
    order = np.argsort(-scores, kind="stable")[:n]
    return [int(i) for i in order if scores[i] > 0]


def _copies(corpus: Corpus, row: int, scores: dict[int, float] | None = None) -> tuple[Copy, ...]:
    """The other sentences of ``row``'s group: those ranked for this question best first, then the
    rest in index order; at most ``MAX_COPIES``."""
    scores = scores or {}
    others = sorted(
        (other for other in corpus.members(row) if other != row),
        key=lambda other: (other not in scores, -scores.get(other, 0.0), other),
    )
    copies = []
    for other in others[:MAX_COPIES]:
        document, sentence = _located(corpus, other)
        copies.append(
            Copy(
                doc_id=document.doc_id,
                title=document.title,
                sentence_index=sentence.index,
                sentence=document.text[sentence.start : sentence.end],
                start=sentence.start,
                end=sentence.end,
                date=document.date,
                publisher=document.publisher,
                url=document.url,
                source=document.source,
            )
        )
    return tuple(copies)


def _located(corpus: Corpus, row: int) -> tuple[Document, Sentence]:
    """The document and sentence of the corpus's sentence ``row``."""
    sentence_row = corpus.sentences[row]
    document = corpus.documents[sentence_row.doc_id]
    return document, document.sentences[sentence_row.index]


def _hit(
    corpus: Corpus, row: int, score: float, similarity: float, lexical: float, also: tuple[Copy, ...] = ()
) -> SentenceHit:
    document, sentence = _located(corpus, row)
    return SentenceHit(
        doc_id=document.doc_id,
        title=document.title,
        source=document.source,
        sentence_index=sentence.index,
        sentence=document.text[sentence.start : sentence.end],
        start=sentence.start,
        end=sentence.end,
        score=round(score, 4),
        similarity=round(similarity, 4),
        lexical=round(lexical, 4),
        date=document.date,
        publisher=document.publisher,
        vector_id=corpus.sentences[row].vector_id,
        url=document.url,
        also=also,
    )
