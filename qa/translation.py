"""Machine translation of an article sentence by the LLM, for the reader of an English answer.

The citation stays the German original; a translation only helps to read it, so it is made on request
and labelled as the model's work wherever it is shown.
"""

from __future__ import annotations

import json
import logging

from index.errors import UserError
from qa.json_stream import StringFieldStream
from qa.llm import ChatModel, LLMUnavailableError, complete
from qa.prompts import render

log = logging.getLogger(__name__)

#: Languages with a prompt (prompts/translate.<language>.txt); the articles are German.
LANGUAGES = ("en",)
_SCHEMA = {"type": "object", "properties": {"translation": {"type": "string"}}, "required": ["translation"]}
_MAX_TOKENS = 300


class TranslationError(UserError):
    """The text cannot be translated as asked."""


def translate(llm: ChatModel, text: str, language: str = "en") -> str:
    """``text`` (a German sentence) in ``language``, as the model translates it."""
    if language not in LANGUAGES:
        raise TranslationError(f"machine translation is offered into English (en) only, not into {language!r}")
    text = " ".join(text.split())
    if not text:
        raise TranslationError("there is no text to translate")
    # Straight double quotes shown as single ones: a model copying a quote into its JSON string would
    # otherwise end the string early (the answer prompt does the same).
    messages = render("translate", language, text=text.replace('"', "'"))
    raw = complete(llm, messages, _SCHEMA, token_budget(text))
    translation = _parse(raw)
    if not translation:
        log.warning("the model gave no translation of %r: %r", text, raw)
        raise LLMUnavailableError("the language model gave no translation; try again")
    return translation


def token_budget(text: str) -> int:
    """Room for an English translation and its JSON: English takes about as many tokens as German
    has words, so twice the words is ample; 40 more for short sentences and the JSON."""
    return min(2 * len(text.split()) + 40, _MAX_TOKENS)


def _parse(raw: str) -> str:
    """The translation from the reply: the JSON field; the field's text, marked as cut, where the token
    limit ended the reply early; or the whole reply from a backend that ignored the schema."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        value = data.get("translation")
        if not isinstance(value, str):  # a backend that named the field its own way
            value = next((v for v in data.values() if isinstance(v, str)), "")
        return value.strip()
    if isinstance(data, str):
        return data.strip()
    if '"translation"' in raw:
        cut = StringFieldStream("translation").feed(raw).strip()
        return f"{cut} …" if cut else ""
    return raw.strip()
