"""The signals qa eval adds to each draft, read from the cited articles' whole texts: the answering
chain leaves them out by default, and the evaluation computes them with the values the chain gives
where a calibrator weighs them (the same formula over the same inputs)."""

import json

import pytest

from index.retrieval import SentenceHit
from qa.answer import Answer
from qa.answering import Answerer
from qa.answering.asked import subject_found
from qa.answering.calibration import Calibrator
from qa.answering.verify import question_found
from qa.crosslingual import SearchQuery
from qa.evaluation.signals import draft_signals
from qa.settings import Settings
from tests.conftest import ScriptedModel

BEFORE = "Kim Jong Un empfing den Gast in Pjöngjang. " * 8
MEETING = "Der Minister traf auf Kim selbst - für rund eine Stunde."
TALKS = "Lawrow und Kim sprachen eine Stunde lang."
ARTICLES = {
    "003": ("Lawrow in Nordkorea", BEFORE + MEETING),
    "007": ("Gespräche in Pjöngjang", "Vorspann. " + TALKS),
}
QUESTION = "Wie lange traf Lawrow Kim am Montag in Pjöngjang?"


def hit(doc_id: str, index: int, sentence: str) -> SentenceHit:
    title, text = ARTICLES[doc_id]
    start = text.index(sentence)
    return SentenceHit(
        doc_id, title, f"seeds/{doc_id}.txt", index, sentence, start, start + len(sentence), 0.9, 0.9, 1.0
    )


HITS = (hit("003", 8, MEETING), hit("007", 1, TALKS))


def article_text(doc_id: str) -> str:
    """As the runner gives it (``Engine.article_text``): the title, a line break, the text."""
    title, text = ARTICLES[doc_id]
    return f"{title}\n{text}"


class JudgingModel(ScriptedModel):
    def __init__(self, p_yes: float, *replies: str):
        super().__init__(*replies)
        self.p_yes = p_yes

    def judge(self, messages, yes, no):
        return self.p_yes


def reply(answer: str, sources=(1,)) -> str:
    return json.dumps({"sources": list(sources), "quote": "", "answer": answer}, ensure_ascii=False)


def answer(p_yes=0.8, sources=(1,), question=QUESTION, read=None, search=None, **settings) -> Answer:
    chain = Answerer(
        lambda: JudgingModel(p_yes, reply("Rund eine Stunde.", sources)),
        lambda q, k: list(HITS),
        lambda text, offered: [0.9] * len(offered),
        Settings.load(**settings),
        article=None if read is None else (lambda doc_id: read.append(doc_id) or article_text(doc_id)),
        search=search,
    )
    *_, final = chain.stream(question)
    return final


def expected(question: str, in_german: str, draft: Answer) -> dict[str, float]:
    """The formulas the chain applied before the signals moved, over the same inputs."""
    quoted = draft.citations[int(draft.signals["quoted_citation"])]
    text = article_text(quoted.doc_id)
    before = text[max(0, quoted.start - 300) : quoted.start]
    articles = [article_text(d) for d in dict.fromkeys(c.doc_id for c in draft.citations)]
    return {
        "question_found": round(question_found(question, articles), 4),
        "subject_found": subject_found(in_german, f"{quoted.title} {before} {quoted.sentence}"),
    }


def test_the_evaluation_adds_what_the_chain_leaves_out_by_the_same_formulas():
    read: list[str] = []
    shown = answer(sources=(2, 1), read=read)
    assert shown.answerable and read == []
    assert [c.doc_id for c in shown.citations] == ["007", "003"]
    # The answer was written from the first offered sentence that holds it: the second citation.
    assert shown.signals["quoted_citation"] == 1.0
    signals = draft_signals(shown, article_text)
    assert signals == {**shown.signals, **expected(QUESTION, QUESTION, shown)}
    # Lawrow is in the quoted sentence's title, Kim in the sentence, Pjöngjang just before it (the
    # article's text is read), Montag nowhere; the articles name all but Montag.
    assert signals["subject_found"] == 0.75 and signals["question_found"] == 0.75
    assert draft_signals(shown) == shown.signals and "subject_found" not in shown.signals


def test_a_calibrator_that_weighs_them_gets_the_values_the_evaluation_records(tmp_path):
    path = tmp_path / "calibrator.json"
    weighs = {"judge": 4.0, "question_found": 1.0, "subject_found": 2.0}
    Calibrator(weighs, dict.fromkeys(weighs, 0.5), dict.fromkeys(weighs, 0.25), 0.0, [], {}).save(path)
    read: list[str] = []
    calibrated = answer(sources=(2, 1), read=read, calibrator=str(path), min_calibrated=0.5)
    assert sorted(set(read)) == ["003", "007"]
    recorded = draft_signals(answer(sources=(2, 1)), article_text)
    assert {name: calibrated.signals[name] for name in ("question_found", "subject_found")} == {
        name: recorded[name] for name in ("question_found", "subject_found")
    }
    assert calibrated.confidence == Calibrator.load(path).probability(calibrated.signals, "de")
    # One that does not weigh them reads no article.
    path = tmp_path / "judge-only.json"
    Calibrator({"judge": 4.0}, {"judge": 0.5}, {"judge": 0.25}, 0.0, [], {}).save(path)
    read.clear()
    judged = answer(read=read, calibrator=str(path), min_calibrated=0.5)
    assert read == [] and not {"question_found", "subject_found"} & set(judged.signals)
    assert judged.confidence == pytest.approx(Calibrator.load(path).probability(judged.signals, "de"))


def test_a_withheld_draft_gets_them_and_an_english_question_is_looked_for_in_its_german_form():
    german = "Wie lange traf Lawrow den Machthaber Kim?"
    withheld = answer(
        p_yes=0.1,
        question="How long did Lavrov meet Kim?",
        search=lambda q: SearchQuery(q, "en", german),
    )
    assert not withheld.answerable and withheld.withheld is not None and withheld.searched_as == german
    draft = withheld.withheld
    signals = draft_signals(withheld, article_text)
    assert signals == {**draft.signals, **expected("How long did Lavrov meet Kim?", german, draft)}
    # The German form's names: Lawrow and Kim are found, Machthaber is not; the English "Lavrov" would be.
    assert signals["subject_found"] == pytest.approx(2 / 3, abs=1e-4)


def test_nothing_drafted_has_no_signals():
    nothing = Answer("Dazu steht nichts in den Artikeln.", "de", False)
    assert draft_signals(nothing, article_text) == {}
