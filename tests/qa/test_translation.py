"""Machine translation of article sentences: the code around the model with a scripted model, then the
real embedded model on a seed sentence."""

import html
import re

import pytest

from index.errors import UserError
from qa.llm import LLMUnavailableError
from qa.prompts import load_prompt
from qa.translation import (
    TranslationError,
    UnfaithfulTranslationError,
    check_translation,
    token_budget,
    translate,
)
from tests.conftest import seed_questions
from tests.qa.conftest import TranslatingEngine, page_with_answer

SENTENCE = 'Der Minister sagte, die Lage sei "sehr ernst".'


class ScriptedModel:
    description = "scripted"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.calls: list[tuple[list[dict], dict | None, int]] = []

    def warm_up(self, prompts=()) -> None:
        pass

    def stream(self, messages, schema, max_tokens):
        self.calls.append((messages, schema, max_tokens))
        reply = self.replies.pop(0)
        for i in range(0, len(reply), 5):
            yield reply[i : i + 5]


def test_the_prompt_carries_the_sentence_and_the_json_reply_is_parsed():
    model = ScriptedModel('{"translation": "The minister said the situation was \\"very serious\\"."}')
    assert translate(model, SENTENCE) == 'The minister said the situation was "very serious".'
    messages, schema, max_tokens = model.calls[0]
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    # Straight double quotes reach the model as single ones, so a copied quote cannot end its JSON string.
    assert messages[-1]["content"] == "German: Der Minister sagte, die Lage sei 'sehr ernst'."
    assert schema == {"type": "object", "properties": {"translation": {"type": "string"}}, "required": ["translation"]}
    assert max_tokens == 2 * len(SENTENCE.split()) + 40


def test_replies_that_ignore_the_schema_or_are_cut_short_still_give_the_text():
    assert translate(ScriptedModel("  The minister spoke.\n"), "Der Minister sprach.") == "The minister spoke."
    assert translate(ScriptedModel('{"text": "The minister spoke."}'), "Der Minister sprach.") == "The minister spoke."
    cut = translate(ScriptedModel('{"translation": "The minister said that'), SENTENCE)
    assert cut == "The minister said that …"  # marked as incomplete


@pytest.mark.parametrize("reply", ["", "   ", '{"translation": ""}', '{"translation": '])
def test_an_empty_translation_is_an_error_not_a_blank(reply):
    with pytest.raises(LLMUnavailableError, match="no translation"):
        translate(ScriptedModel(reply), SENTENCE)


def test_only_english_is_offered_and_the_model_is_not_asked_otherwise():
    model = ScriptedModel()
    for language in ("fr", "de", ""):
        with pytest.raises(TranslationError, match="English") as raised:
            translate(model, SENTENCE, language)
        assert isinstance(raised.value, UserError)
    with pytest.raises(TranslationError, match="no text"):
        translate(model, "  \n ")
    assert model.calls == []


def test_the_token_budget_grows_with_the_sentence_and_is_capped():
    assert token_budget("Kurz.") == 42
    assert token_budget(" ".join(["Wort"] * 500)) == 300


def test_the_prompt_file_has_short_few_shot_turns_and_the_text_last():
    turns = load_prompt("translate", "en")
    assert turns[0].role == "system" and turns[-1].role == "user" and "$text" in turns[-1].content
    assert 1 <= len([t for t in turns if t.role == "assistant"]) <= 3
    assert sum(len(t.content) for t in turns) < 1500, "keep prompts short: each 100 tokens cost about a second"


@pytest.mark.llm
def test_the_embedded_model_translates_a_seed_sentence_into_english(seed_engine):
    sentence = seed_questions()["de-08"]["gold"][0]["sentence"]
    assert "Wonsan" in sentence and "sagte" in sentence
    english = seed_engine.translate(sentence, "en")
    assert "Wonsan" in english, english
    assert re.search(r"\b(the|after|said)\b", english, re.IGNORECASE), english
    assert english != sentence and "sagte" not in english and "nach einem Treffen" not in english, english


# Held to the sentence's numbers and names ---------------------------------------------------------------

PORT = "Der Hamburger Hafen hat im April 1,2 Millionen Container umgeschlagen."
VISIT = "Lawrow besuchte Nordkorea zuletzt im Jahr 2018."


def _reply(english: str) -> str:
    return '{"translation": "' + english + '"}'


def test_a_faithful_rendering_passes_on_the_first_try():
    sentence = "Lawrow sprach vor Hunderten Zuhörern über 1,2 Millionen Granaten."
    model = ScriptedModel(_reply("Lavrov spoke to hundreds of listeners about 1.2 million shells."))
    assert translate(model, sentence) == "Lavrov spoke to hundreds of listeners about 1.2 million shells."
    assert len(model.calls) == 1


@pytest.mark.parametrize(
    ("english", "german"),
    [
        ("hundreds of listeners", "Hunderten Zuhörern"),
        ("1.2 million containers", "1,2 Millionen Container"),
        ("Lavrov met Kim.", "Lawrow traf Kim."),
        ("two ministers", "zwei Minister"),
        ("2 ministers", "zwei Minister"),
        ("more than 1,000 containers", "mehr als 1.000 Container"),
        ("tens of thousands protested", "Zehntausende protestierten"),
        ("at 10:30 a.m. on March 3", "um 10.30 Uhr am 3. März"),
        ("one of the ministers", "einer der Minister"),
        ("in the early 1990s", "Anfang der 1990er Jahre"),
        ("The German team won.", "Die deutsche Elf gewann."),
        (
            "Interior Minister Nancy Faeser said in Berlin on Friday.",
            "sagte Innenministerin Nancy Faeser am Freitag in Berlin.",
        ),
        ("the United States and Russia", "die USA und das russische Militär"),
    ],
)
def test_the_check_compares_numbers_as_values_and_names_after_folding(english, german):
    check = check_translation(english, german)
    assert check.faithful, check


@pytest.mark.parametrize(
    ("english", "german", "invented", "dropped"),
    [
        ("Lavrov met Kim 3 times.", "Lawrow traf Kim.", ("3",), ()),
        ("1.5 million containers", PORT, ("1.5",), ("1.2",)),
        ("Lavrov last visited North Korea last year.", VISIT, (), ("2018",)),
        ("three ministers", "zwei Minister", ("3",), ("2",)),
        ("Kim Il Sung, the grandfather Kim Jong Il", "Kim Il Sung, Kims Großvater", ("Jong",), ()),
    ],
)
def test_the_check_finds_invented_changed_and_dropped_numbers_and_invented_names(english, german, invented, dropped):
    check = check_translation(english, german)
    assert (check.invented, check.dropped) == (invented, dropped)
    assert not check.faithful


@pytest.mark.parametrize(
    ("english", "problem"),
    [
        (
            "The port of Hamburg handled 1.2 million containers in April 2023.",
            "has 2023, which the German sentence does not",
        ),
        (
            "The port of Hamburg handled 1.5 million containers in April.",
            "has 1.5, which the German sentence does not and leaves out 1.2",
        ),
        ("The port of Hamburg handled a million containers in April.", "leaves out 1.2"),
        ("The port of Rotterdam handled 1.2 million containers in April.", "has 'Rotterdam'"),
    ],
    ids=["invented number", "changed number", "dropped number", "invented name"],
)
def test_a_rendering_unfaithful_twice_is_refused(english, problem):
    model = ScriptedModel(_reply(english), _reply(english))
    with pytest.raises(UnfaithfulTranslationError, match="no faithful English rendering") as raised:
        translate(model, PORT)
    assert problem in str(raised.value)
    assert isinstance(raised.value, TranslationError) and isinstance(raised.value, UserError)
    assert len(model.calls) == 2


def test_the_retry_is_stricter_and_its_faithful_rendering_is_shown():
    model = ScriptedModel(
        _reply("Lavrov last visited North Korea last year."),
        _reply("Lavrov last visited North Korea in 2018."),
    )
    assert translate(model, VISIT) == "Lavrov last visited North Korea in 2018."
    (first, _, _), (second, schema, max_tokens) = model.calls
    # The second request is the first conversation, the model's reply, and what was wrong with it.
    assert second[: len(first)] == first
    assert second[len(first)] == {"role": "assistant", "content": _reply("Lavrov last visited North Korea last year.")}
    assert second[-1]["role"] == "user" and "leaves out 2018" in second[-1]["content"]
    assert "keep every number and every name" in second[-1]["content"]
    assert max_tokens == token_budget(VISIT) and schema is not None


def test_the_chat_page_shows_the_german_sentence_alone_with_one_short_note():
    check = check_translation("Lavrov last visited North Korea last year.", VISIT)
    page, session = page_with_answer(TranslatingEngine(UnfaithfulTranslationError(check)))
    _, panel = page.translate(session)
    note = "No faithful English rendering: the model's English leaves out 2018, so only the German original is shown."
    assert note in html.unescape(panel), panel
    assert panel.count("qa-translation-problem") == 1 and "Traceback" not in panel
    assert "Machine translation (by the language model)" not in panel and session.translations == {}


@pytest.mark.llm
def test_the_embedded_model_keeps_the_number_of_a_seed_sentence(seed_engine):
    sentence = seed_questions()["de-20"]["gold"][0]["sentence"]
    assert "mehr als 1.000 Container" in sentence
    english = seed_engine.translate(sentence, "en")
    assert re.search(r"\b1,?000\b", english), english
    assert check_translation(english, sentence).faithful
