"""Machine translation of article sentences: the code around the model with a scripted model, then the
real embedded model on a seed sentence."""

import re

import pytest

from index.errors import UserError
from qa.llm import LLMUnavailableError
from qa.prompts import load_prompt
from qa.translation import TranslationError, token_budget, translate
from tests.conftest import seed_questions

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


def test_the_embedded_model_translates_a_seed_sentence_into_english(seed_engine):
    sentence = seed_questions()["de-08"]["gold"][0]["sentence"]
    assert "Wonsan" in sentence and "sagte" in sentence
    english = seed_engine.translate(sentence, "en")
    assert "Wonsan" in english, english
    assert re.search(r"\b(the|after|said)\b", english, re.IGNORECASE), english
    assert english != sentence and "sagte" not in english and "nach einem Treffen" not in english, english
