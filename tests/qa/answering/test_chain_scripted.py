"""The answering chain around the model, with a scripted model. Real-model tests are in
tests/qa/answering/test_chain_real_model.py."""

import pytest

from index.retrieval import SentenceHit
from qa.answer import Answer
from qa.answering import ABSTENTION, Answerer, conversation
from qa.settings import Settings
from tests.conftest import ScriptedModel
from tests.qa.answering.conftest import HIT, SENTENCE, JudgingModel, answerer, reply, run


def test_streams_the_quote_then_the_checked_answer():
    model = ScriptedModel(reply("Rund eine Stunde."))
    streamed, answer, quote = run(answerer(model, answer_form="quote"), "Wie lange traf Lawrow Kim?")
    assert quote == "rund eine Stunde" and answer.quote == "rund eine Stunde"
    assert streamed == "Rund eine Stunde."
    assert answer.text == "Rund eine Stunde [1]." and answer.language == "de" and answer.answerable
    assert answer.citations[0].evidence == "rund eine Stunde"
    assert answer.citations[0].sentence == SENTENCE
    assert {"retrieve", "first_token", "generate", "total"} <= set(answer.timings)
    prompt = model.calls[0][-1]["content"]
    assert "[1] " + SENTENCE in prompt and prompt.endswith("Frage: Wie lange traf Lawrow Kim?")


def test_english_question_gets_the_english_prompt():
    model = ScriptedModel(reply("About an hour."))
    _, answer, _ = run(answerer(model), "How long did Lavrov meet Kim?")
    assert answer.language == "en" and model.calls[0][0]["content"].startswith("You answer")


def test_low_retrieval_score_abstains_without_asking_the_model():
    model = ScriptedModel()
    streamed, answer, _ = run(answerer(model, abstain_below=0.95), "Wie wird das Wetter?")
    assert streamed == answer.text == ABSTENTION["de"]
    assert not answer.answerable and answer.citations == [] and model.calls == []


def test_a_reply_without_a_quote_is_no_answer():
    """A backend that cannot be held to JSON gives plain text: no quote, so no answer."""
    for text in ("Rund eine Stunde [1].", reply("Rund eine Stunde.", quote="")):
        streamed, answer, _ = run(answerer(ScriptedModel(text), answer_form="quote"), "Wie lange traf Lawrow Kim?")
        assert not answer.answerable and streamed == ABSTENTION["de"]
        assert "the quote is not a verbatim part of the sentence it names" in answer.notes[-1]


def test_a_quote_that_is_not_in_its_sentence_is_no_answer():
    """A server holds the quote to a string only: the code checks it against the sentence it names."""
    model = ScriptedModel(reply("Rund zwei Stunden.", "rund zwei Stunden"))
    _, answer, _ = run(answerer(model, answer_form="quote"), "Wie lange?")
    assert not answer.answerable and answer.withheld is None


def test_a_unit_that_is_not_in_the_quote_is_not_shown():
    """The sentence says one hour; an answer that makes it one minute changes the unit."""
    model = JudgingModel(0.99, reply("About one minute."))
    streamed, answer, _ = run(answerer(model, answer_form="quote"), "How long did Lavrov meet Kim?")
    assert not answer.answerable and streamed == ABSTENTION["en"]
    assert answer.withheld.text.startswith("About one minute") and not answer.withheld.verified
    assert "not in the quote: min" in answer.notes[-1]
    model = JudgingModel(0.99, reply("About an hour."))
    _, kept, _ = run(answerer(model, answer_form="quote"), "How long did Lavrov meet Kim?")
    assert kept.answerable and kept.quote == "rund eine Stunde"


def test_a_number_that_is_not_in_the_sentence_is_not_shown():
    _, answer, _ = run(answerer(JudgingModel(0.99, reply("About 60 minutes."))), "How long did Lavrov meet Kim?")
    assert not answer.answerable and "no supporting sentence holds the number(s) 60" in answer.notes[-1]


def test_a_quote_too_short_for_the_answer_grows_within_its_sentence():
    model = JudgingModel(0.99, reply("Der Minister traf Kim eine Stunde lang.", quote="Der Minister"))
    _, answer, _ = run(answerer(model, answer_form="quote"), "Wer traf Kim?")
    assert answer.answerable and answer.quote == "Der Minister traf auf Kim selbst - für rund eine Stunde"
    assert answer.signals["quote_grown"] == 1.0


def test_a_quote_from_a_sentence_without_the_answer_moves_to_the_one_that_holds_it():
    other = SentenceHit("003", "Titel", "seeds/003.txt", 2, "Lawrow kam nach Pjöngjang.", 10, 36, 0.9, 0.9, 1.0)
    model = JudgingModel(0.99, reply("Zuletzt 2018.", quote="Lawrow kam nach Pjöngjang", sources=(1,)))
    year = "Zuletzt war Lawrow 2018 in Nordkorea."
    third = SentenceHit("003", "Titel", "seeds/003.txt", 9, year, 200, 200 + len(year), 0.9, 0.9, 1.0)
    _, answer, _ = run(
        answerer(model, hits=(other, third), answer_form="quote"), "Wann war Lawrow zuletzt in Nordkorea?"
    )
    assert answer.answerable and answer.quote == "2018" and answer.signals["quote_moved"] == 1.0
    assert [c.sentence for c in answer.citations] == [year] and answer.citations[0].evidence == "2018"


def test_a_how_many_question_answered_with_a_name_abstains():
    model = JudgingModel(0.99, reply("Kim traf den Minister.", quote="Der Minister traf auf Kim"))
    _, answer, _ = run(answerer(model), "Wie viele Leute trafen den Minister?")
    assert not answer.answerable and "the question asks how many, the answer has no number" in answer.notes[-1]


@pytest.mark.parametrize("form", ["answer", "quote"])
def test_an_answer_of_the_wrong_type_is_withheld(form):
    model = JudgingModel(0.99, reply("Kim.", quote="Kim"))
    _, answer, _ = run(answerer(model, answer_form=form), "Welche Farbe hatte der Wagen des Ministers?")
    assert not answer.answerable and answer.withheld is not None
    assert "the question asks for a colour, and the quote or the answer gives none" in answer.notes[-1]


def test_without_a_quote_the_evidence_is_found_in_code_and_nothing_streams_before_the_checks():
    model = JudgingModel(0.99, reply("Rund eine Stunde.", quote=""))
    streamed, answer, quote = run(answerer(model), "Wie lange traf Lawrow Kim?")
    assert quote == "" and answer.quote == "" and streamed == "Rund eine Stunde."
    assert answer.answerable and answer.citations[0].evidence == "Stunde"
    assert answer.signals["quoted_by_model"] == 0.0


def test_follow_up_is_rewritten_before_retrieval():
    asked = []
    model = ScriptedModel('{"question": "Wann traf Lawrow Kim?"}', reply("Am Donnerstag.", "Der Minister"))
    chain = Answerer(lambda: model, lambda q, k: asked.append(q) or [HIT], lambda t, o: [0.9], Settings.load())
    _, answer, _ = run(chain, "Und wann war das?", [("Wen traf Lawrow?", "Lawrow traf Kim [1].")])
    assert asked == ["Wann traf Lawrow Kim?"] and answer.question == "Wann traf Lawrow Kim?"
    assert "Frage: Wen traf Lawrow?\nAntwort: Lawrow traf Kim." in model.calls[0][-1]["content"]


def test_unusable_rewrite_keeps_the_question():
    model = ScriptedModel("{}", reply("Rund eine Stunde."))
    _, answer, _ = run(
        answerer(model),
        "Und wie lange?",
        [{"role": "user", "content": "Wen traf er?"}, {"role": "assistant", "content": "Kim."}],
    )
    assert answer.question == "Und wie lange?"


@pytest.mark.parametrize(
    "history, expected",
    [
        ([("F1", "A1 [1]."), ("F2", "A2")], [("F1", "A1."), ("F2", "A2")]),
        (
            [{"role": "user", "content": "F1"}, {"role": "assistant", "content": [{"type": "text", "text": "A1"}]}],
            [("F1", "A1")],
        ),
        ([{"role": "assistant", "content": "Hallo"}, {"role": "user", "content": "F1"}], []),
        (None, []),
    ],
)
def test_conversation_accepts_pairs_and_chat_messages(history, expected):
    assert conversation(history) == expected


def test_conversation_keeps_the_last_three_exchanges():
    assert [q for q, _ in conversation([(f"F{i}", "A") for i in range(6)])] == ["F3", "F4", "F5"]


def test_an_answer_the_judge_rejects_is_withheld_with_its_draft_or_shown_marked():
    drafted = reply("Rund eine Stunde.")
    _, withheld, _ = run(answerer(JudgingModel(0.1, drafted)), "Wie lange traf Lawrow Kim?")
    assert not withheld.answerable and withheld.text == ABSTENTION["de"] and withheld.citations == []
    assert withheld.withheld.text == "Rund eine Stunde [1]." and not withheld.withheld.verified
    assert withheld.unsupported_claims == ["Rund eine Stunde."] and withheld.confidence == pytest.approx(0.1)
    _, marked, _ = run(answerer(JudgingModel(0.1, drafted), unverified="mark"), "Wie lange traf Lawrow Kim?")
    assert marked.answerable and not marked.verified and marked.citations[0].verdict == "related"
    assert Answer.from_dict(withheld.to_dict()) == withheld


def test_the_judge_sees_only_the_cited_sentence_the_question_and_the_answer():
    model = JudgingModel(0.8, reply("Rund eine Stunde."))
    _, answer, _ = run(answerer(model), "Wie lange traf Lawrow Kim?")
    (asked,) = model.judged
    assert asked[-1]["content"] == f"Satz: {SENTENCE}\nFrage: Wie lange traf Lawrow Kim?\nAntwort: Rund eine Stunde."
    assert answer.answerable and answer.verified and answer.signals["judge"] == 0.8
    assert answer.confidence == pytest.approx(0.8) and answer.citations[0].verdict == "states"
    assert answer.citations[0].evidence == "Stunde" and "judge" in answer.timings


def test_without_the_judge_the_terms_decide():
    model = JudgingModel(0.0, reply("Rund eine Stunde."))
    _, answer, _ = run(answerer(model, judge="off"), "Wie lange traf Lawrow Kim?")
    assert model.judged == [] and answer.answerable and "judge" not in answer.signals


@pytest.mark.parametrize("form", ["answer", "quote"])
def test_by_default_no_article_is_read_and_the_quoted_citation_is_recorded(form):
    """Without a calibrator the signals read from whole articles decide nothing: the chain leaves
    them to the evaluation (qa.evaluation.signals) and records which citation its answer comes from."""
    read = []
    chain = answerer(JudgingModel(0.8, reply("Rund eine Stunde.")), answer_form=form)
    chain.article = lambda doc_id: read.append(doc_id) or "Titel\nLawrow reiste nach Pjöngjang."
    _, answer, _ = run(chain, "Wie lange traf Lawrow Kim?")
    assert answer.answerable and answer.verified and answer.confidence == pytest.approx(0.8)
    assert read == [] and not {"question_found", "subject_found"} & set(answer.signals)
    assert answer.signals["quoted_citation"] == 0.0 and answer.citations[0].sentence == SENTENCE
