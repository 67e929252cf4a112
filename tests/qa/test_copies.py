"""One statement in several articles, at question time: retrieval shows it once with its copies,
citations carry them, ``qa ask`` and the chat page say "also reported by" with a link to each copy,
and evaluation counts a copy of a gold sentence as that gold sentence. Real index of the seeds and two
reprints of them by other outlets (tests/data/outlet_copies), real embedder, and the embedded model
for one answer."""

from html import escape
from types import SimpleNamespace

import pytest

from index.retrieval import SentenceHit
from qa.answer import Answer, Citation
from qa.chat import render
from qa.chat.app import ChatPage
from qa.chat.session import ChatSession, Turn
from qa.cli import format_answer
from qa.engine import Engine
from qa.evaluation.metrics import question_metrics
from qa.settings import Settings
from tests.conftest import DATA, SEEDS, llm_where_translated, retrieval_questions, seed_questions

COPIES = DATA / "outlet_copies"
QUESTIONS = retrieval_questions() + retrieval_questions("retrieval_dev_questions.jsonl")
WINE = seed_questions()["de-33"]  # "Womit stießen Putin und Kim auf ihre Freundschaft an?"
WEEKDAY = seed_questions()["en-32"]  # "On which day of the week did Lavrov arrive in Pyongyang?"
ARRIVAL = "Wann ist Lawrow in Pjöngjang eingetroffen?"
HAFEN = "006_hafenkurier_lawrow_eingetroffen"
ALPEN = "005_alpenblick_lawrow_pjoengjang"
LAWROW = "004_6896b54b9ced829e"


# Builds an index of its own with the real embedder (seconds on 2 cores): the tests that use it are
# marked slow, and `make check` leaves them out.
@pytest.fixture(scope="module")
def copies_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = Engine(Settings.load(index_dir=tmp_path_factory.mktemp("copies-index")))
    report = engine.index([SEEDS, COPIES])
    assert report.grouped_sentences == 33
    yield engine
    engine.close()


def keys(hit: SentenceHit | Citation) -> set[tuple[str, str]]:
    """The (document, sentence) pairs a hit or citation stands for: its own and its copies'."""
    return {(hit.doc_id, hit.sentence), *((c.doc_id, c.sentence) for c in hit.also)}


def assert_copies_verbatim(engine: Engine, hit: SentenceHit | Citation) -> None:
    documents = engine.documents()
    for copy in hit.also:
        document = documents[copy.doc_id]
        assert document.text[copy.start : copy.end] == copy.sentence
        assert document.sentences[copy.sentence_index].start == copy.start
        assert (copy.title, copy.publisher, copy.url, copy.date) == (
            document.title,
            document.publisher,
            document.url,
            document.date,
        )


@pytest.mark.slow
def test_a_statement_that_three_outlets_print_is_retrieved_once_with_the_other_two(copies_engine):
    hits = copies_engine.retrieve(ARRIVAL, k=8)
    arrived = [h for h in hits if {d for d, _ in keys(h)} >= {LAWROW, ALPEN, HAFEN}]
    assert len(arrived) == 1 and arrived[0] is hits[0], [(h.doc_id, h.sentence) for h in hits]
    best = arrived[0]
    assert len(best.also) == 2 and best.doc_id not in {c.doc_id for c in best.also}
    assert all("eingetroffen" in c.sentence and "Mittwoch" in c.sentence for c in best.also)
    assert_copies_verbatim(copies_engine, best)
    assert {c.publisher for c in best.also} <= {"Alpenblick Zeitung", "Hafenstadt-Kurier", None}
    assert best.to_dict()["also"][0]["sentence"] == best.also[0].sentence


@pytest.mark.slow
@pytest.mark.parametrize("case", llm_where_translated(QUESTIONS))  # English: the LLM translates
def test_the_gold_sentence_or_a_copy_of_it_stays_in_the_top_3_and_no_statement_shows_twice(copies_engine, case):
    hits = copies_engine.retrieve(case["question"], k=8)
    assert (case["doc"], case["sentence"]) in set().union(*(keys(h) for h in hits[:3]))
    snapshot = copies_engine.store.snapshot()
    groups = [snapshot.group_of(snapshot.sentence_row[h.vector_id]) for h in hits]
    assert len(set(groups)) == len(groups)
    for hit in hits:
        assert_copies_verbatim(copies_engine, hit)


@pytest.mark.slow
def test_the_sentence_after_the_best_is_not_a_copy_of_one_already_offered(copies_engine):
    snapshot = copies_engine.store.snapshot()
    for question in (ARRIVAL, WINE["question"], "Wie lange traf Lawrow in Pjöngjang mit Kim Jong Un zusammen?"):
        offered = copies_engine.retriever.retrieve(question, 3, following=True)
        groups = [snapshot.group_of(snapshot.sentence_row[h.vector_id]) for h in offered]
        assert len(set(groups)) == len(groups), question
        after = copies_engine.retriever.following(offered[0])
        if after is not None:  # the sentence after carries its own copies too
            row = snapshot.sentence_row[after.vector_id]
            assert len(after.also) == len(snapshot.members(row)) - 1


@pytest.mark.slow
@pytest.mark.llm
def test_an_answer_cites_the_statement_once_and_names_the_other_outlets(copies_engine, seed_engine):
    """The embedded model over the same index: the sentence it cites is printed by three outlets. The
    question is searched as asked: its German form ("Am welchem Tag der Woche kam Lavrov in
    Pyongyang?") puts "Anfang der Woche …" beside the same best sentence, the small model then answers
    "Monday", and the verifier withholds it; this test is about the copies of what is cited."""
    engine = Engine(copies_engine.settings.replace(query_translation="off"), chat_model=seed_engine.llm)
    answer = engine.ask(WEEKDAY["question"])
    assert answer.answerable and "Wednesday" in answer.text, answer.text
    cited = [c for c in answer.citations if "Mittwoch" in c.sentence]
    assert len(cited) == 1, answer.citations
    citation = cited[0]
    assert {d for d, _ in keys(citation)} == {LAWROW, ALPEN, HAFEN} and len(citation.also) == 2
    assert_copies_verbatim(engine, citation)
    shown = format_answer(answer)
    copies = ", ".join(f"{c.outlet} ({c.doc_id}, sentence {c.sentence_index})" for c in citation.also)
    assert f"also reported by {copies}" in shown, shown
    assert Answer.from_dict(answer.to_dict()) == answer

    # Scored against any of the three versions as the gold sentence, the answer cites the gold sentence.
    prediction = {
        "answer": answer.text,
        "answerable": True,
        "citations": [c.to_dict() for c in answer.citations],
    }
    for gold in keys(citation):
        expected = {"answerable": True, "answers": WEEKDAY["answers"], "gold": [{"doc": gold[0], "sentence": gold[1]}]}
        metrics = question_metrics(prediction, expected)
        assert metrics["gold_cited"] and metrics["correct_and_gold_cited"] and metrics["cited_doc_recall"] == 1.0
    engine.close()


def _answer_citing(engine: Engine, question: str) -> Answer:
    """A hand-made answer that cites the best sentence for ``question``, as the chain would."""
    hit = engine.retrieve(question, k=1)[0]
    fields = {name: getattr(hit, name) for name in ("doc_id", "title", "source", "sentence_index", "sentence")}
    citation = Citation(**fields, start=hit.start, end=hit.end, score=0.9, verdict="states", also=list(hit.also))
    return Answer(text="Am Mittwoch [1].", language="de", answerable=True, citations=[citation])


@pytest.mark.slow
def test_the_chat_page_says_also_reported_by_and_opens_each_copy_in_its_article(copies_engine):
    answer = _answer_citing(copies_engine, ARRIVAL)
    citation = answer.citations[0]
    html = render.answer_message(answer, 0)
    assert "auch berichtet von" in html
    for number, copy in enumerate(citation.also):
        anchor = render.copy_anchor(0, 1, number)
        assert f'<a class="qa-cite qa-copy" href="{anchor}"' in html and f">{copy.outlet}</a>" in html
        assert render.parse_anchor(anchor + ":1700000000") == (0, 0)
        assert render.parse_copy(anchor + ":1700000000") == number
    assert render.parse_copy(render.cite_anchor(0, 1)) is None and render.parse_anchor("#qa-cite-0-1-0") is None
    english = render.answer_message(Answer("On Wednesday [1].", "en", True, [citation]), 0)
    assert "also reported by" in english

    session = ChatSession()
    session.turns.append(Turn(ARRIVAL, answer=answer))
    page = ChatPage(copies_engine, library=SimpleNamespace())
    copy = citation.also[1]
    _, _picker, panel = page.open_link(render.copy_anchor(0, 1, 1)[1:] + ":1700000000", session)
    assert (session.selected, session.copy) == ((0, 0), 1)
    document = copies_engine.documents()[copy.doc_id]
    assert f'<mark class="qa-cited" id="qa-cited">{escape(copy.sentence)}</mark>' in panel
    assert escape(document.text[: copy.start][-40:]) in panel and "the same statement in another article" in panel
    assert session.selected_citation()[1].doc_id == copy.doc_id
    _, _picker, panel = page.open_link(render.cite_anchor(0, 1)[1:] + ":1700000001", session)
    assert session.copy is None and f'<mark class="qa-cited" id="qa-cited">{escape(citation.sentence)}' in panel
    page.open_link(render.copy_anchor(0, 1, 0)[1:], session)
    page.step(session, 1)  # stepping goes to the next citation (here the same one), itself
    assert session.copy is None


def test_evaluation_counts_a_copy_of_a_gold_sentence_and_nothing_else_changes():
    gold = [{"doc": "a", "sentence": "Lawrow traf am Mittwoch ein."}]
    copy = {"doc_id": "a", "sentence_index": 3, "sentence": "Lawrow  traf am Mittwoch ein."}
    cited = {
        "doc_id": "b",
        "sentence_index": 1,
        "sentence": "Lawrow traf am Mittwoch in Pjöngjang ein.",
        "also": [copy],
    }
    other = {"doc_id": "c", "sentence_index": 0, "sentence": "Kim empfing ihn."}
    expected = {"answerable": True, "answers": ["Mittwoch"], "gold": gold}
    with_copy = question_metrics(
        {"answer": "Am Mittwoch [1].", "citations": [cited, other], "retrieved": [other, cited]}, expected
    )
    alone = {**cited, "also": []}
    without = question_metrics(
        {"answer": "Am Mittwoch [1].", "citations": [alone, other], "retrieved": [other, alone]}, expected
    )
    assert with_copy["gold_cited"] and not without["gold_cited"]
    assert (with_copy["retrieval_recall@1"], with_copy["retrieval_recall@3"]) == (False, True)
    assert not without["retrieval_recall@3"]
    # Two cited sentences, one of them standing for the gold one: precision counts sentences, not copies.
    assert with_copy["citation_precision"] == without["citation_precision"] == 0.5  # "Mittwoch" in both
    assert (with_copy["cited_doc_precision"], with_copy["cited_doc_recall"]) == (0.5, 1.0)
    assert (without["cited_doc_precision"], without["cited_doc_recall"]) == (0.0, 0.0)
    assert with_copy["correct"] and with_copy["correct_and_gold_cited"] and not without["correct_and_gold_cited"]
