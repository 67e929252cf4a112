import pytest

from qa.engine import QuestionError
from tests.conftest import llm_where_translated, retrieval_questions

QUESTIONS = retrieval_questions() + retrieval_questions("retrieval_dev_questions.jsonl")


@pytest.mark.parametrize("case", llm_where_translated(QUESTIONS))  # English: the LLM translates
def test_gold_sentence_is_in_the_top_3(seed_engine, case):
    hits = seed_engine.retrieve(case["question"], k=3)
    # A hit stands for its copies in other articles too (the same statement, shown once), as in qa eval.
    found = [(h.doc_id, h.sentence) for h in hits] + [(c.doc_id, c.sentence) for h in hits for c in h.also]
    assert (case["doc"], case["sentence"]) in found


def test_hits_are_verbatim_ranked_and_unique(seed_engine):
    hits = seed_engine.retrieve("Welche Waffen lieferte Nordkorea an Russland?", k=8)
    assert len(hits) == 8
    snapshot = seed_engine.store.snapshot()
    for hit in hits:
        document = snapshot.documents[hit.doc_id]
        assert document.text[hit.start : hit.end] == hit.sentence
        assert document.sentences[hit.sentence_index].start == hit.start
        assert hit.title == document.title and hit.source == document.source
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({(h.doc_id, h.sentence) for h in hits}) == len(hits)
    assert set(hits[0].to_dict()) >= {"doc_id", "title", "source", "sentence_index", "sentence", "start", "end"}


def test_repeated_headlines_are_returned_once(seed_engine):
    hits = seed_engine.retrieve("Lawrow trifft Nordkoreas Machthaber Kim Jong Un", k=8)
    texts = [h.sentence for h in hits]
    assert texts.count("Russischer Außenminister Lawrow trifft Nordkoreas Machthaber Kim Jong Un") == 1


def test_numbers_match_across_formats(seed_engine):
    hits = seed_engine.retrieve("Wurden 1000 Container geliefert?", k=3)
    assert any("1.000 Container" in h.sentence for h in hits)


@pytest.mark.parametrize("question", ["", "   \n", "x" * 2001, None])
def test_bad_questions_get_one_clear_error(seed_engine, question):
    with pytest.raises(QuestionError):
        seed_engine.retrieve(question)


def test_k_out_of_range_is_refused(seed_engine):
    with pytest.raises(QuestionError, match="between 1 and 100"):
        seed_engine.retrieve("Wer ist Lawrow?", k=0)


def test_the_following_sentence_stays_in_its_document(seed_engine):
    hits = seed_engine.retrieve("Auf welcher Ebene gab es einen telefonischen Austausch mit dem Iran?", k=1)
    after = seed_engine.retriever.following(hits[0])
    assert (after.doc_id, after.sentence_index) == (hits[0].doc_id, hits[0].sentence_index + 1)
    assert after.sentence == "Dabei sei es um militärische Zusammenarbeit und die regionale Sicherheit gegangen."
    last = seed_engine.retrieve("(Reuters)", k=1)[0]
    assert last.sentence == "(Reuters)" and seed_engine.retriever.following(last) is None
