"""The quote an answer is written from (the model's, or the words of a cited sentence that the code
finds): found again, verbatim, in its sentence; and the answer held to it. Every number of the
answer, and every unit or currency, must come from the quote (or from the question); a name must
come from the quote, the question or, for an English answer that translates, its sentence.

The model was shown each sentence on one line with straight double quotes as single ones
(``prompt.one_line``); the quote is looked up in that form and mapped back to the sentence's own
characters, so its offsets are those of the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.retrieval import SentenceHit
from qa.answering.prompt import one_line
from qa.answering.support import WORD, fold, missing_terms, number_values, same_word

#: Units and currencies in their German and English forms, each under one key.
_UNITS = {
    "EUR": r"€|euro?s?|eur",
    "USD": r"\$|us-dollar|dollars?|usd",
    "GBP": r"£|pfund|pounds?( sterling)?|gbp",
    "CHF": r"franken|francs?|chf",
    "percent": r"%|prozent|percent|per cent",
    "km": r"km|kilometer[sn]?|kilometres?",
    "m": r"meter[sn]?|metres?",
    "kg": r"kg|kilogramm|kilograms?|kilos?",
    "t": r"tonnen|tonnes?|tons?",
    "l": r"liter[sn]?|litres?",
    "h": r"stunden?|hours?",
    "min": r"minuten?|minutes?",
}
_UNIT_PATTERNS = {
    key: re.compile(rf"(?<![\w$€£])(?:{pattern})(?!\w)", re.IGNORECASE) for key, pattern in _UNITS.items()
}
#: The German indefinite article is also the number one ("eine Stunde": "one hour").
_ONE = re.compile(r"\bein(e[mnrs]?)?\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Quote:
    """The quoted words: ``offered[index].sentence[start:end]``."""

    text: str
    index: int
    start: int
    end: int


def locate(quote: str, offered: Sequence[SentenceHit], cited: Sequence[int]) -> Quote | None:
    """The quote in the first of the ``cited`` sentences (numbers as shown, 1-based) that holds it, verbatim up to
    the prompt's one-line form; None when none does."""
    wanted = one_line(quote)
    if not wanted:
        return None
    for number in dict.fromkeys(cited):
        if not 1 <= number <= len(offered):
            continue
        sentence = offered[number - 1].sentence
        shown, where = _shown(sentence)
        at = shown.find(wanted)
        if at >= 0:
            start, end = where[at], where[at + len(wanted) - 1] + 1
            return Quote(sentence[start:end], number - 1, start, end)
    return None


def foreign_facts(answer: str, quote: str, question: str, sentence: str, translated: bool) -> list[str]:
    """Numbers, units and names of ``answer`` that do not come from the quote or the question, in
    the order found. An English answer (``translated``) may take a name from the quote's sentence,
    since a translated answer names what the quote's pronoun stands for."""
    allowed = f"{quote} {question}"
    values = number_values(allowed) | ({"1"} if _ONE.search(allowed) else set())
    foreign = [n for n in sorted(number_values(answer) - values, key=answer.find)]
    foreign += [unit for unit in units(answer) if unit not in units(allowed)]
    names_from = [allowed, sentence] if translated else [allowed]
    # A capitalised number word ("One hour.") is a number, compared as one above.
    foreign += [term for term in missing_terms(answer, names_from) if not term[0].isdigit() and not number_values(term)]
    return foreign


def widen(quote: Quote, sentence: str, facts: Sequence[str]) -> tuple[Quote, list[str]]:
    """The quote grown, within its sentence, over the words that hold ``facts`` (numbers, unit keys,
    names the answer took from beside the quote), and the facts the sentence does not hold. An
    empty quote (``start == end``) grows over the facts alone; with none found it stays empty."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence)]
    covered = [i for i, (start, end) in enumerate(words) if start < quote.end and end > quote.start]
    missing = []
    for fact in facts:
        holding = [i for i, (start, end) in enumerate(words) if _holds(sentence[start:end], fact)]
        if holding:
            covered.append(min(holding, key=lambda i: abs(words[i][0] - quote.start)))
        else:
            missing.append(fact)
    if not covered:
        return quote, missing
    start, end = words[min(covered)][0], words[max(covered)][1]
    while end > start and not sentence[end - 1].isalnum() and sentence[end - 1] not in "%€$£)":
        end -= 1
    return Quote(sentence[start:end], quote.index, start, end), missing


def is_name(fact: str) -> bool:
    """Whether a fact of ``foreign_facts`` is a name (not a number or a unit)."""
    return not fact[0].isdigit() and fact not in _UNITS


def _holds(word: str, fact: str) -> bool:
    if fact in _UNIT_PATTERNS:
        return bool(_UNIT_PATTERNS[fact].search(word))
    if fact in number_values(word):
        return True
    folded = {fold(w) for w in WORD.findall(word)}
    return bool(folded) and any(same_word(fold(part), folded, loose=False) for part in fact.split("-") if part)


def units(text: str) -> list[str]:
    """The units and currencies a text names, by key, in a fixed order."""
    return [key for key, pattern in _UNIT_PATTERNS.items() if pattern.search(text)]


def _shown(sentence: str) -> tuple[str, list[int]]:
    """The sentence as the prompt showed it, and for each of its characters the index of the
    sentence's character it stands for."""
    chars: list[str] = []
    where: list[int] = []
    for match in re.finditer(r"\S+", sentence):
        if chars:
            chars.append(" ")
            where.append(match.start() - 1)
        for offset, char in enumerate(match.group(0)):
            chars.append("'" if char == '"' else char)
            where.append(match.start() + offset)
    return "".join(chars), where
