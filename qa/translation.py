"""Machine translation of an article sentence by the LLM, for the reader of an English answer.

The citation stays the German original; a translation only helps to read it, so it is made on request
and labelled as the model's work wherever it is shown. It is held to the rule answers are held to: every
number and name of the rendering comes from the sentence, and every number of the sentence is in the
rendering. A rendering that breaks it is asked for once more with a stricter instruction; if that one
breaks it too, there is no rendering (:class:`UnfaithfulTranslationError`) rather than one that invents.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from index.errors import UserError
from qa.answering.support import WORD, fold, missing_terms, number_values, numbers, same_word
from qa.json_stream import StringFieldStream
from qa.llm import ChatModel, LLMUnavailableError, complete
from qa.prompts import render

log = logging.getLogger(__name__)

#: Languages with a prompt (prompts/translate.<language>.txt); the articles are German.
LANGUAGES = ("en",)
_SCHEMA = {"type": "object", "properties": {"translation": {"type": "string"}}, "required": ["translation"]}
_MAX_TOKENS = 300
#: The second request, after the model's unfaithful first reply ($problems says what was wrong with it).
_STRICTER = (
    "That translation is not faithful: it $problems. Translate the German sentence again, word for word: "
    "keep every number and every name exactly as the German sentence has them, and add none."
)
#: "10:30" in English is "10.30" (Uhr) in German.
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
#: German forms of "one": the article, which an English "one" may render without any digit in the German.
_GERMAN_ONE = re.compile(r"\b(?:ein|eine|einen|einem|einer|eines|eins)\b", re.IGNORECASE)
#: German number words that make up compounds ("Zehntausende", "fünfundzwanzig"): their values may be
#: written as separate English words ("tens of thousands", "twenty-five").
_GERMAN_NUMBER_PARTS = re.compile(
    r"zwölf|zwanzig|dreißig|hundert|tausend|sieben|sechs|zwei|drei|vier|fünf|acht|neun|zehn|elf|und"
)
#: Words English capitalises in titles, offices and institutions that are not names ("Interior Minister",
#: "Justice Department"); they translate German nouns, so their spelling cannot match the German.
_OFFICE_WORDS = frozenset(
    """
    minister ministry department office secretary president chancellor prime deputy general spokesman
    spokeswoman spokesperson head chief leader government parliament council court supreme federal
    state states national international central bank agency party union republic kingdom commission
    committee army navy air force forces guard police justice interior finance economy economic defense
    defence foreign affairs health education labour labor trade home senate congress assembly united nations speaker
    """.split()
)
#: English names of countries, peoples and cities that German spells otherwise, as the start of the German form.
_ENGLISH_NAMES = dict(
    pair.split(":")
    for pair in """
    russia:russ germany:deutsch german:deutsch germans:deutsch austria:österreich austrian:österreich
    austrians:österreich switzerland:schweiz swiss:schweiz vienna:wien munich:münchen cologne:köln
    europe:europa european:europ america:amerika american:amerikan americans:amerikan britain:brit
    british:brit france:frankreich french:franz italy:italien italian:italien spain:spanien spanish:spani
    greece:griech greek:griech turkey:türk turkish:türk poland:polen polish:polni hungary:ungarn
    hungarian:ungar czech:tschech netherlands:niederland dutch:niederländ syria:syrien syrian:syr
    egypt:ägypten egyptian:ägypt united:vereinigt
    """.split()
)


class TranslationError(UserError):
    """The text cannot be translated as asked."""


class UnfaithfulTranslationError(TranslationError):
    """The model's renderings invented or dropped a number or a name, twice: there is no faithful
    English rendering to show, only the German sentence."""

    def __init__(self, check: TranslationCheck):
        self.check = check
        super().__init__(
            f"no faithful English rendering: the model's English {check.problems()}, so only the German "
            "original is shown"
        )


@dataclass(frozen=True, slots=True)
class TranslationCheck:
    """What a rendering says that its sentence does not (``invented``: numbers and names), and what of
    the sentence it left out (``dropped``: numbers)."""

    invented: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()

    @property
    def faithful(self) -> bool:
        return not self.invented and not self.dropped

    def problems(self) -> str:
        """The problems as a phrase: "has 'Caucasus', which the German does not, and leaves out 2018"."""
        parts = []
        if self.invented:
            parts.append(f"has {_listed(self.invented)}, which the German sentence does not")
        if self.dropped:
            parts.append(f"leaves out {_listed(self.dropped)}")
        return " and ".join(parts)


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
    raw, translation = _ask(llm, messages, text)
    check = check_translation(translation, text)
    if check.faithful:
        return translation
    log.info("unfaithful translation of %r (%s): %r; asking once more", text, check.problems(), translation)
    stricter = _STRICTER.replace("$problems", check.problems())
    messages = [*messages, {"role": "assistant", "content": raw}, {"role": "user", "content": stricter}]
    _, translation = _ask(llm, messages, text)
    check = check_translation(translation, text)
    if check.faithful:
        return translation
    log.warning("no faithful translation of %r (%s): %r", text, check.problems(), translation)
    raise UnfaithfulTranslationError(check)


def check_translation(translation: str, sentence: str) -> TranslationCheck:
    """Hold ``translation`` to ``sentence``: its numbers (as values: "1,2" = "1.2", "zwei" = "two",
    "Hunderten" = "hundreds") and names (after transliteration: "Lawrow" = "Lavrov") must be the
    sentence's, and the sentence's numbers must all be in it."""
    english = _CLOCK.sub(r"\1.\2", translation)
    found = number_values(english)
    allowed = number_values(sentence) | _number_parts(sentence)
    if _GERMAN_ONE.search(sentence):
        allowed.add("1")
    invented = [n for n in sorted(found, key=_position(english)) if n not in allowed]
    invented += _invented_names(english, sentence)
    # Number words are required where written as numerals are: lower case ("zwei"), not as nouns that
    # English may say otherwise ("die Elf", the team; "Hunderte").
    required = numbers(sentence) | {
        v for w in WORD.findall(sentence) if w[0].islower() for v in number_values(w) if v != "1"
    }
    dropped = [n for n in sorted(required, key=_position(sentence)) if n not in found]
    return TranslationCheck(tuple(invented), tuple(dropped))


def _ask(llm: ChatModel, messages: list[dict[str, str]], text: str) -> tuple[str, str]:
    raw = complete(llm, messages, _SCHEMA, token_budget(text))
    translation = _parse(raw)
    if not translation:
        log.warning("the model gave no translation of %r: %r", text, raw)
        raise LLMUnavailableError("the language model gave no translation; try again")
    return raw, translation


def _invented_names(english: str, sentence: str) -> list[str]:
    """Names of the rendering that the sentence lacks, by the answers' rule, less words of office
    ("Minister") and English names of places and peoples whose German form the sentence has."""
    source_words = {fold(part) for word in WORD.findall(sentence) for part in [word, *word.split("-")] if part}
    invented = []
    for term in missing_terms(english, [sentence]):
        if term[0].isdigit():  # numbers are compared as values above
            continue
        parts = [p.lower() for p in term.split("-") if p]
        if all(p in _OFFICE_WORDS for p in parts):
            continue
        if all(same_word(fold(_ENGLISH_NAMES.get(p, p)), source_words) or p in _OFFICE_WORDS for p in parts):
            continue
        invented.append(term)
    return invented


def _number_parts(sentence: str) -> set[str]:
    """Values of the number words that German compounds are made of: "Zehntausende" gives 10 and 1000."""
    values: set[str] = set()
    for word in WORD.findall(sentence.lower()):
        position = 0
        while match := _GERMAN_NUMBER_PARTS.match(word, position):
            values |= number_values(match.group(0))
            position = match.end()
    return values


def _position(text: str):
    """Sort key: where a number's value first shows in ``text`` (values of words sort last)."""
    return lambda value: (text.find(value) if value in text else len(text), value)


def _listed(terms: tuple[str, ...]) -> str:
    return ", ".join(f"'{t}'" if not t[0].isdigit() else t for t in terms)


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
