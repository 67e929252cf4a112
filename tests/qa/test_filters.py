"""Filters by date and outlet: what ``ArticleFilter`` reads and admits, and retrieval that applies the
filter before it ranks, over a real index (Chroma) with the real embedder."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.documents import Document
from index.embeddings import embed_query
from index.metadata import METADATA_VERSION, is_current, metadata_version
from index.vectors import CHUNKS, SENTENCES
from qa.engine import Engine
from qa.filters import ArticleFilter, DateSpan, FilterError, Outlet
from qa.settings import Settings
from tests.conftest import SEEDS, write_articles

LAWROW = "Wie lange traf Lawrow den nordkoreanischen Machthaber Kim Jong Un?"


# Builds an index of its own with the real embedder (seconds on 2 cores): the tests that use it are
# marked slow, and `make check` leaves them out.
@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The seeds (3 undated, 2 dated only by month, 2 without an outlet) and the five ARTICLES of tests/conftest.py."""
    corpus = write_articles(tmp_path_factory.mktemp("filter-corpus"))
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    engine = Engine(Settings.load(index_dir=tmp_path_factory.mktemp("filter-index")))
    engine.index([corpus])
    yield engine
    engine.close()


def document(date: str | None, publisher: str | None) -> Document:
    return Document("d", "t", "s", "x", date=date, publisher=publisher)


# ArticleFilter ----------------------------------------------------------------------------------------


def test_dates_are_read_as_users_write_them_and_outlets_once_each():
    parsed = ArticleFilter.parse("5.10.2023", "20. Oktober 2023", [" DPA ", "afp", "dpa", ""])
    assert parsed == ArticleFilter("2023-10-05", "2023-10-20", ("DPA", "afp"))
    assert (parsed.first_day, parsed.last_day) == (20231005, 20231020)
    assert parsed.describe() == "since 2023-10-05, until 2023-10-20, from DPA or afp"
    assert ArticleFilter.parse(since="2023-10").first_day == 20231001
    assert ArticleFilter.parse(until="2023-10").last_day == 20231031
    assert ArticleFilter.parse(sources="Reuters").describe() == "from Reuters"
    assert ArticleFilter.parse(sources=["a", "b", "c"]).describe() == "from a, b or c"
    empty = ArticleFilter.parse("", "  ", [])
    assert empty.is_empty and empty.where() is None and empty.describe() == "no filter"


def test_a_date_that_cannot_be_read_or_a_reversed_range_is_one_sentence():
    with pytest.raises(FilterError) as unreadable:
        ArticleFilter.parse("xyz", names=("--since", "--until"))
    assert str(unreadable.value) == "the date 'xyz' for --since cannot be read; write it as 2023-10-05 or 5.10.2023"
    with pytest.raises(FilterError, match=r"the date '31\.02\.2023' for until cannot be read"):
        ArticleFilter.parse(until="31.02.2023")
    with pytest.raises(FilterError) as reversed_range:
        ArticleFilter.parse("2023-10-20", "5.10.2023")
    assert str(reversed_range.value) == (
        "since 2023-10-20 comes after until 2023-10-05; swap them, or leave one out for an open end"
    )
    assert ArticleFilter.parse("2023-10-20", "2023-10").until == "2023-10"  # the month holds the day


def test_a_document_matches_when_its_days_overlap_and_its_outlet_is_named_in_any_case():
    october = ArticleFilter.parse("2023-10-15", "2023-10-31")
    assert october.matches(document("2023-10-15", None))
    assert october.matches(document("2023-10", None))  # a month overlaps its days
    assert not october.matches(document("2023-10-14", None))
    assert not october.matches(document("2023-11-01", None))
    assert not october.matches(document(None, "dpa"))  # no date: no date filter admits it
    outlets = ArticleFilter.parse(sources=["DPA", "Deutsche  Welle"])
    assert outlets.matches(document(None, " dpa "))
    assert outlets.matches(document("1999-01-01", "deutsche welle"))
    assert not outlets.matches(document("2023-10-20", None))
    assert not outlets.matches(document("2023-10-20", "AFP"))
    assert ArticleFilter().matches(document(None, None))


def test_the_where_clause_compares_day_numbers_and_outlet_keys():
    assert ArticleFilter.parse(since="5.10.2023").where() == {"date_to": {"$gte": 20231005}}
    assert ArticleFilter.parse("2023-10", "2023-11", ["AFP", "dpa"]).where() == {
        "$and": [
            {"date_to": {"$gte": 20231001}},
            {"date_from": {"$lte": 20231130}},
            {"publisher_key": {"$in": ["afp", "dpa"]}},
        ]
    }


# The index --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_outlets_and_the_date_span_of_the_index(engine):
    assert engine.outlets() == [
        Outlet("AFP", 1),
        Outlet("dpa", 2),
        Outlet("DTZ", 1),
        Outlet("Reuters", 2),  # "REUTERS" in one article, "Reuters" in another: one outlet
        Outlet("Tagesspiegel", 1),
        Outlet("toi-allgemeines", 1),
    ]
    assert engine.date_span() == DateSpan("2023-10", "2023-11", dated=6, undated=4)


@pytest.mark.slow
def test_both_collections_carry_the_filter_keys(engine):
    vector = embed_query(engine.store.embedder, LAWROW)
    where = ArticleFilter.parse(sources=["tagesspiegel"]).where()
    for kind in (CHUNKS, SENTENCES):
        matches = engine.store.vectors.query(kind, vector, 50, where)
        assert matches and {m.id.split(":")[0] for m in matches} == {"wetter"}, kind
    dated = engine.store.vectors.query(SENTENCES, vector, 200, ArticleFilter.parse("2023-10-06", "2023-10-19").where())
    assert {m.id.split(":")[0] for m in dated} == {"bahn", "003_fc0805797345d969", "004_6896b54b9ced829e"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("since", "until", "sources", "expected"),
    [
        (None, None, ["DPA"], {"hafen", "kuerbis"}),
        ("2023-10-15", None, None, {"wetter", "wahl", "003_fc0805797345d969", "004_6896b54b9ced829e"}),
        (None, "10.10.2023", None, {"hafen", "003_fc0805797345d969", "004_6896b54b9ced829e"}),
        ("2023-10-01", "2023-10-31", ["afp", "Tagesspiegel"], {"bahn", "wetter"}),
        (None, None, ["reuters"], {"wahl", "000_c0f6a50aa29bb6c2"}),
    ],
)
def test_retrieval_returns_only_the_admitted_articles(engine, since, until, sources, expected):
    article_filter = ArticleFilter.parse(since, until, sources)
    admitted = {doc_id for doc_id, d in engine.documents().items() if article_filter.matches(d)}
    assert admitted == expected
    for question in (LAWROW, "Wo wurde gestreikt?", "Was geschah in Bremen?"):
        hits = engine.retrieve(question, k=8, since=since, until=until, sources=sources)
        assert hits and {hit.doc_id for hit in hits} <= expected, (question, [h.doc_id for h in hits])


@pytest.mark.slow
def test_the_filter_is_applied_before_ranking_not_after(engine):
    """Unfiltered, the best 5 sentences about Lawrow come from the seeds, and the storm article is not
    among the candidate chunks at all. Filtered to its outlet, retrieval still gives 5 sentences, all
    of the storm article: a filter applied to the unfiltered results would leave none."""
    unfiltered = engine.retrieve(LAWROW, k=5)
    assert len(unfiltered) == 5 and "wetter" not in {hit.doc_id for hit in unfiltered}
    deep = engine.retrieve(LAWROW, k=40)
    assert "wetter" not in {hit.doc_id for hit in deep}  # not even among the candidates' sentences
    filtered = engine.retrieve(LAWROW, k=5, sources=["Tagesspiegel"])
    assert len(filtered) == 5 and {hit.doc_id for hit in filtered} == {"wetter"}
    assert [h.score for h in filtered] == sorted((h.score for h in filtered), reverse=True)
    # BM25 alone finds the strike articles for "Streik"; restricted to the storm article it gives
    # the storm's sentences, not fewer.
    storm = engine.retrieve("Streik Gewerkschaft Lokführer", k=4, sources=["Tagesspiegel"])
    assert len(storm) == 4 and {hit.doc_id for hit in storm} == {"wetter"}


@pytest.mark.slow
def test_the_sentence_after_the_best_respects_the_filter(engine):
    hit = engine.retrieve("Wie viele Beschäftigte legten im Hamburger Hafen die Arbeit nieder?", k=1)[0]
    assert hit.doc_id == "hafen"
    retriever = engine.retriever
    assert retriever.following(hit).sentence_index == hit.sentence_index + 1
    assert retriever.following(hit, ArticleFilter.parse(sources=["dpa"])).doc_id == "hafen"
    assert retriever.following(hit, ArticleFilter.parse(sources=["AFP"])) is None


@pytest.mark.slow
def test_a_filter_that_matches_no_article_names_it_and_what_the_index_holds(engine):
    held = (
        "the 10 articles are dated 2023-10 to 2023-11 (4 have no date); "
        "outlets: AFP, dpa, DTZ, Reuters, Tagesspiegel, toi-allgemeines"
    )
    with pytest.raises(FilterError) as late:
        engine.retrieve(LAWROW, since="1.1.2030")
    assert str(late.value) == f"no article matches since 2030-01-01: {held}"
    with pytest.raises(FilterError) as nowhere:
        engine.retrieve(LAWROW, until="2023-12-31", sources=["BBC", "kuerbis-kurier"])
    assert str(nowhere.value) == f"no article matches until 2023-12-31, from BBC or kuerbis-kurier: {held}"
    with pytest.raises(FilterError, match="no article matches since 2023-10-06, from dpa"):
        engine.retrieve(LAWROW, since="2023-10-06", sources=["dpa"])  # dpa: 2023-10-05 and undated
    # Refused when the answer is asked for, before the model is loaded or anything is generated.
    with pytest.raises(FilterError, match="no article matches since 2030-01-01"):
        engine.stream(LAWROW, since="2030-01-01")
    with pytest.raises(FilterError, match="cannot be read"):
        engine.ask(LAWROW, until="gestern")
    assert engine._llm is None


# Indexes from before the filters ----------------------------------------------------------------------


def strip_filter_metadata(engine: Engine) -> None:
    """Make ``engine``'s index look as one written before the filters existed."""
    chunks, sentences = engine.store.docstore.vector_ids()
    stale = {"date_from": None, "date_to": None, "publisher_key": None}
    for kind, ids in ((CHUNKS, sorted(chunks)), (SENTENCES, sorted(sentences))):
        engine.store.vectors.update_metadata(kind, ids, [stale] * len(ids))
    engine.store.docstore.set_meta("metadata_version", None)


# Builds an index of its own with the real embedder (seconds on 2 cores): the tests that use it are
# marked slow, and `make check` leaves them out.
@pytest.fixture
def old_index(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    corpus = write_articles(tmp_path / "corpus", ["hafen", "bahn", "kuerbis"])
    engine = Engine(Settings.load(index_dir=tmp_path / "index"))
    engine.index([corpus])
    assert metadata_version(engine.store.docstore) == METADATA_VERSION
    strip_filter_metadata(engine)
    yield engine, corpus
    engine.close()


@pytest.mark.slow
def test_an_old_index_gets_the_metadata_in_place_on_its_first_filtered_question(old_index):
    engine, _ = old_index
    _, sentence_ids = engine.store.docstore.vector_ids()
    before = engine.store.vectors.vectors(SENTENCES, sorted(sentence_ids))
    vector = embed_query(engine.store.embedder, "Streik")
    assert not engine.store.vectors.query(SENTENCES, vector, 10, ArticleFilter.parse(sources=["dpa"]).where())
    assert {hit.doc_id for hit in engine.retrieve("Wo wurde gestreikt?", k=5)} >= {"hafen", "bahn"}
    assert not is_current(engine.store.docstore)  # an unfiltered question changes nothing

    hits = engine.retrieve("Wo wurde gestreikt?", k=5, sources=["dpa"])
    assert len(hits) == 5 and {hit.doc_id for hit in hits} <= {"hafen", "kuerbis"}
    assert is_current(engine.store.docstore)
    after = engine.store.vectors.vectors(SENTENCES, sorted(sentence_ids))
    assert all(np.array_equal(before[i], after[i]) for i in before)  # nothing was embedded again
    assert {m.id.split(":")[0] for m in engine.store.vectors.query(CHUNKS, vector, 10, {"date_to": {"$gte": 0}})} == {
        "hafen",
        "bahn",
    }


@pytest.mark.slow
def test_qa_index_brings_an_old_index_up_to_date_without_embedding(old_index):
    engine, corpus = old_index
    report = engine.index([corpus])
    assert report.unchanged == 3 and report.embedded_sentences == 0 and report.embedded_chunks == 0
    assert is_current(engine.store.docstore)
    hits = engine.retrieve("Wo wurde gestreikt?", k=3, since="2023-10-10")
    assert hits and {hit.doc_id for hit in hits} == {"bahn"}


@pytest.mark.slow
def test_an_old_index_that_cannot_be_updated_now_is_refused_with_the_way_out(old_index):
    engine, _ = old_index
    with open(engine.index_dir / "index.lock", "w") as lock:  # another run holds the index
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FilterError) as refused:
            engine.retrieve("Wo wurde gestreikt?", sources=["dpa"])
    message = str(refused.value)
    assert "predates filters by date and outlet" in message and message.endswith("run 'qa index' on it again")
    assert "another run is updating the index" in message
    assert engine.retrieve("Wo wurde gestreikt?", k=3, sources=["dpa"])  # the lock is gone: it migrates
