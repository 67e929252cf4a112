"""The answering chain around the model, with a scripted model. Real-model tests are in
test_answers.py."""

import pytest

from qa.answer import Answer
from qa.answering import ABSTENTION, Answerer, conversation
from qa.retrieval import SentenceHit
from qa.settings import Settings
from tests.conftest import ScriptedModel

SENTENCE = "Der Minister traf auf Kim selbst - für rund eine Stunde."
HIT = SentenceHit(
    "003", "Titel", "seeds/003.txt", 6, SENTENCE, 100, 100 + len(SENTENCE), 0.9, 0.9, 1.0, None, None, "v"
)


def answerer(model, hits=(HIT,), similarity=0.9, **settings):
    return Answerer(
        lambda: model,
        lambda q, k: list(hits),
        lambda text, offered: [similarity] * len(offered),
        Settings.load(**settings),
    )


def run(answerer_, question, history=None):
    items = list(answerer_.stream(question, history))
    assert isinstance(items[-1], Answer) and all(isinstance(i, str) for i in items[:-1])
    return "".join(items[:-1]), items[-1]


def test_streams_the_answer_text_then_the_checked_answer():
    model = ScriptedModel('{"answer": "Rund eine Stunde.", "sources": [1]}')
    streamed, answer = run(answerer(model), "Wie lange traf Lawrow Kim?")
    assert streamed == "Rund eine Stunde."
    assert answer.text == "Rund eine Stunde [1]." and answer.language == "de" and answer.answerable
    assert answer.citations[0].sentence == SENTENCE
    assert {"retrieve", "first_token", "generate", "total"} <= set(answer.timings)
    prompt = model.calls[0][-1]["content"]
    assert "[1] " + SENTENCE in prompt and prompt.endswith("Frage: Wie lange traf Lawrow Kim?")


def test_english_question_gets_the_english_prompt():
    model = ScriptedModel('{"answer": "About an hour.", "sources": [1]}')
    _, answer = run(answerer(model), "How long did Lavrov meet Kim?")
    assert answer.language == "en" and model.calls[0][0]["content"].startswith("You answer")


def test_low_retrieval_score_abstains_without_asking_the_model():
    model = ScriptedModel()
    streamed, answer = run(answerer(model, abstain_below=0.95), "Wie wird das Wetter?")
    assert streamed == answer.text == ABSTENTION["de"]
    assert not answer.answerable and answer.citations == [] and model.calls == []


def test_backend_without_json_streams_plain_text():
    model = ScriptedModel("Rund eine Stunde [1].")
    streamed, answer = run(answerer(model), "Wie lange traf Lawrow Kim?")
    assert streamed == "Rund eine Stunde [1]."
    assert answer.text == "Rund eine Stunde [1]." and len(answer.citations) == 1


def test_follow_up_is_rewritten_before_retrieval():
    asked = []
    model = ScriptedModel('{"question": "Wann traf Lawrow Kim?"}', '{"answer": "Am Donnerstag.", "sources": [1]}')
    chain = Answerer(lambda: model, lambda q, k: asked.append(q) or [HIT], lambda t, o: [0.9], Settings.load())
    _, answer = run(chain, "Und wann war das?", [("Wen traf Lawrow?", "Lawrow traf Kim [1].")])
    assert asked == ["Wann traf Lawrow Kim?"] and answer.question == "Wann traf Lawrow Kim?"
    assert "Frage: Wen traf Lawrow?\nAntwort: Lawrow traf Kim." in model.calls[0][-1]["content"]


def test_unusable_rewrite_keeps_the_question():
    model = ScriptedModel("{}", '{"answer": "Rund eine Stunde.", "sources": [1]}')
    _, answer = run(
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


class JudgingModel(ScriptedModel):
    """A scripted model that also judges, with a fixed P(yes), and records what it was asked."""

    def __init__(self, p_yes: float, *replies: str):
        super().__init__(*replies)
        self.p_yes = p_yes
        self.judged: list[list[dict]] = []

    def judge(self, messages, yes, no):
        self.judged.append(messages)
        return self.p_yes


def test_an_answer_the_judge_rejects_is_withheld_with_its_draft_or_shown_marked():
    reply = '{"sources": [1], "answer": "Rund eine Stunde."}'
    _, withheld = run(answerer(JudgingModel(0.1, reply)), "Wie lange traf Lawrow Kim?")
    assert not withheld.answerable and withheld.text == ABSTENTION["de"] and withheld.citations == []
    assert withheld.withheld.text == "Rund eine Stunde [1]." and not withheld.withheld.verified
    assert withheld.unsupported_claims == ["Rund eine Stunde."] and withheld.confidence == pytest.approx(0.1)
    _, marked = run(answerer(JudgingModel(0.1, reply), unverified="mark"), "Wie lange traf Lawrow Kim?")
    assert marked.answerable and not marked.verified and marked.citations[0].verdict == "related"
    assert Answer.from_dict(withheld.to_dict()) == withheld


def test_the_judge_sees_only_the_cited_sentence_the_question_and_the_answer():
    model = JudgingModel(0.8, '{"sources": [1], "answer": "Rund eine Stunde."}')
    _, answer = run(answerer(model), "Wie lange traf Lawrow Kim?")
    (asked,) = model.judged
    assert asked[-1]["content"] == f"Satz: {SENTENCE}\nFrage: Wie lange traf Lawrow Kim?\nAntwort: Rund eine Stunde."
    assert answer.answerable and answer.verified and answer.signals["judge"] == 0.8
    assert answer.confidence == pytest.approx(0.8) and answer.citations[0].verdict == "states"
    assert answer.citations[0].evidence == "Stunde" and "judge" in answer.timings


def test_without_the_judge_the_terms_decide():
    model = JudgingModel(0.0, '{"sources": [1], "answer": "Rund eine Stunde."}')
    _, answer = run(answerer(model, judge="off"), "Wie lange traf Lawrow Kim?")
    assert model.judged == [] and answer.answerable and "judge" not in answer.signals
