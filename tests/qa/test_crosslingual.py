"""An English question searched in German as well: the code around the model with a scripted model,
the fusion with a German form written by hand, then the real embedded model on the seeds."""

import json

import pytest

from index.retrieval import SentenceHit
from qa.answering import Answerer
from qa.crosslingual import SearchForms, SearchQuery, german_form
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import ScriptedModel, seed_questions

QUESTION = "Who views the rapprochement between Kim and Putin with concern?"
GERMAN = "Wer sieht die Annäherung von Kim und Putin mit Sorge?"
EN_22_GERMAN = "In welchem Jahr hatte Lawrow Nordkorea zuletzt besucht, bevor er am Mittwoch in Pjöngjang ankam?"
GOLD = "Die US-Regierung und ihre asiatischen Verbündeten sehen die Annäherung von Kim und Putin mit Sorge."
US_REPLY = '{"sources": [1], "quote": "Die US-Regierung", "answer": "The US government."}'


def test_the_prompt_carries_the_question_and_the_german_form_is_read_from_the_json():
    model = ScriptedModel(json.dumps({"german": f"  {GERMAN} "}))
    assert german_form(model, 'Who said "enough"?') == GERMAN
    assert model.calls[0][0]["role"] == "system" and model.calls[0][-1]["content"] == "English: Who said 'enough'?"


@pytest.mark.parametrize("reply", ["{}", '{"german": ""}', "not json", json.dumps({"german": QUESTION}), "[1]"])
def test_no_usable_german_form_searches_the_question_as_asked(reply):
    assert german_form(ScriptedModel(reply), QUESTION) is None


def test_a_runaway_reply_is_not_searched():
    assert german_form(ScriptedModel(json.dumps({"german": "Wer " * 200})), QUESTION) is None


def test_only_english_questions_ask_the_model_and_each_question_once():
    model = ScriptedModel(json.dumps({"german": GERMAN}))
    forms = SearchForms(lambda: model)
    assert forms.query(QUESTION) == SearchQuery(QUESTION, "en", GERMAN)
    assert forms.query(QUESTION).german == GERMAN  # kept: the model is asked once
    assert forms.query(GERMAN) == SearchQuery(GERMAN, "de")
    assert len(model.calls) == 1


def test_switched_off_no_question_asks_the_model():
    def no_model():
        raise AssertionError("the model was asked")

    assert SearchForms(no_model, enabled=False).query(QUESTION) == SearchQuery(QUESTION, "en")


def test_the_kept_forms_are_bounded():
    model = ScriptedModel(*(json.dumps({"german": f"Frage {i}?"}) for i in range(4)))
    forms = SearchForms(lambda: model, kept=2)
    for i in range(3):
        forms.query(f"What is question {i}?")
    forms.query("What is question 0?")  # forgotten, so asked again
    assert len(model.calls) == 4


def test_the_answer_records_the_german_form_and_its_time():
    model = ScriptedModel(US_REPLY)
    hit = SentenceHit("004", "Titel", "seeds/004.txt", 3, GOLD, 10, 10 + len(GOLD), 0.9, 0.9, 1.0, vector_id="v")
    searched = []
    chain = Answerer(
        lambda: model,
        lambda q, k: [hit],
        lambda text, offered: [0.9] * len(offered),
        Settings.load(judge="off"),
        search=lambda q: searched.append(q) or SearchQuery(q, "en", GERMAN),
    )
    answer = list(chain.stream(QUESTION))[-1]
    assert searched == [QUESTION]
    assert answer.searched_as == GERMAN and answer.notes[0] == f"searched in German as well: {GERMAN}"
    assert "translate" in answer.timings and answer.to_dict()["searched_as"] == GERMAN


def test_a_question_searched_in_german_too_abstains_below_its_own_threshold():
    """Its score is the mean of two similarities and runs higher, so it has a threshold of its own."""
    hit = SentenceHit("004", "Titel", "seeds/004.txt", 3, GOLD, 10, 10 + len(GOLD), 0.82, 0.82, 1.0, vector_id="v")
    settings = Settings.load(judge="off", abstain_below=0.81, abstain_below_translated=0.825)

    def chain(model, search=None):
        return Answerer(lambda: model, lambda q, k: [hit], lambda t, o: [0.9] * len(o), settings, search=search)

    searched_in_german = chain(ScriptedModel(), lambda q: SearchQuery(q, "en", GERMAN))
    translated = list(searched_in_german.stream(QUESTION))[-1]
    assert not translated.answerable and "0.825" in translated.notes[-1]
    as_asked = list(chain(ScriptedModel(US_REPLY)).stream(QUESTION))[-1]
    assert as_asked.answerable


def gold_rank(hits: list[SentenceHit], doc_id: str, sentence: str) -> int | None:
    found = [(h.doc_id, h.sentence) for h in hits]
    return found.index((doc_id, sentence)) if (doc_id, sentence) in found else None


def test_a_german_form_lifts_the_sentence_an_english_question_ranks_low(seed_engine):
    """The fusion alone, with a German form written by hand: the English question ranks its sentence
    below the first three, the German form beside it brings it up; a German question is unchanged."""
    case = seed_questions()["en-22"]
    gold = case["gold"][0]
    retriever = seed_engine.retriever
    alone = retriever.retrieve(case["question"], 10)
    both = retriever.retrieve(case["question"], 10, german=EN_22_GERMAN)
    assert gold_rank(alone, gold["doc"], gold["sentence"]) >= 3
    assert gold_rank(both, gold["doc"], gold["sentence"]) < 3
    assert retriever.retrieve(GERMAN, 5) == retriever.retrieve(GERMAN, 5, None)


@pytest.mark.llm
def test_an_english_question_is_searched_in_the_models_german_everywhere(seed_engine, tmp_path):
    """The real embedded model writes the German form; retrieve, the answer and its notes show it."""
    found = seed_engine.search(QUESTION, k=3)
    german = found.query.german
    assert german and german != QUESTION and "Kim" in german and "Putin" in german
    assert GOLD in [hit.sentence for hit in found.hits]
    answer = seed_engine.ask(QUESTION)
    assert answer.searched_as == german and f"searched in German as well: {german}" in answer.notes
    assert seed_engine.search(GERMAN, k=3).query == SearchQuery(GERMAN, "de")

    off = Engine(seed_engine.settings.replace(query_translation="off"), chat_model=ScriptedModel())
    try:
        assert off.search(QUESTION, k=3).query.german is None  # the scripted model has no reply to give
    finally:
        off.close()
