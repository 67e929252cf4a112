"""What a question asks for, and whether a quote and an answer can be that.

The question's type comes from its wording, German or English: how many → a number; what share → a
percentage or a fraction; when → a date or a time; which colour → a colour; which politician → a
person's name, not a party; what is it called → a name. The quote is German (it is copied from a
German sentence); the answer is in the question's language. A type that is not recognised checks
nothing. The question's subject is measured too (the share of the question's names in the cited
sentence, the text just before it, or its article's title): a signal for the calibrator, not a
refusal, since as one it withheld right answers ("Austria's refugee coordinator" → "Christian Konrad,
Flüchtlingskoordinator der Regierung").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.answering.support import WORD, fold, names, number_values, same_word

_I = re.IGNORECASE
#: Question wordings by type, checked in this order (a share is also a "how much").
_ASKED = (
    (
        "share",
        r"\b(wie ?viel prozent|welche[nrs]? (anteil|prozentsatz)|what (share|proportion|percentage|fraction)"
        r"|how many percent|which (share|proportion|percentage))\b",
    ),
    ("count", r"\b(wie ?viele?|how (many|much)|wie (hoch|alt|teuer)|how (high|old))\b"),
    (
        "date",
        r"\b(wann|seit wann|bis wann|in welchem jahr|an welchem (tag|datum)|um wie ?viel uhr|when"
        r"|(in|since) (what|which) year|what year|(on )?what (date|day)|what time|which (date|day))\b",
    ),
    ("colour", r"\b(welche[nrs]? farbe|(what|which) colou?r)\b"),
    (
        "person",
        r"\b(welche[nrs]? (politiker(in)?|minister(in)?|kanzler(in)?|bürgermeister(in)?|kandidat(in)?|person)"
        r"|which (politician|minister|chancellor|mayor|candidate|person))\b",
    ),
    ("name", r"\b(wie hei(ß|ss)t|wie lautet (der|die|das) name|what is the name|what is (it|he|she|this) called)\b"),
)
_ASKED_PATTERNS = [(kind, re.compile(pattern, _I)) for kind, pattern in _ASKED]
_MONTHS = (
    r"jänner|januar|februar|feber|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
    r"|january|february|march|may|june|july|october|december"
)
_DAYS = (
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_TIME_WORDS = (
    r"gestern|heute|morgen|vorgestern|übermorgen|woche|wochen|wochenende|monat|monate[n]?|jahr|jahre[n]?|jahrzehnt\w*"
    r"|jahrhundert\w*|tag|tage[n]?|nacht|abend|früh|frühjahr|frühling|sommer|herbst|winter|ostern|weihnachten|uhr"
    r"|anfang|ende|mitte|seit|bis|nach|vor|damals|zuletzt|bald|demnächst|künftig|zuvor|derzeit|bereits|zunächst"
    r"|yesterday|today|tomorrow|week|month|year|century|decade|day|night|since|until|after|before|ago"
)
_DATE = re.compile(
    rf"\b(1[0-9]\d\d|20\d\d|\d{{1,2}}\.\s?\d{{1,2}}\.|\d{{1,2}}:\d\d|{_MONTHS}|{_DAYS}|{_TIME_WORDS})\b", _I
)
_COLOUR = re.compile(
    r"\b(dunkel|hell|knall)?(rot|grün|blau|gelb|schwarz|weiß|weiss|grau|braun|orange|violett|lila|rosa|pink|türkis"
    r"|gold|golden|silber|silbern|beige|bunt|red|green|blue|yellow|black|white|grey|gray|brown|purple)"
    r"(e|er|es|en|em|farben|farbig\w*|töne?)?\b",
    _I,
)
_SHARE = re.compile(
    r"%|\b(prozent\w*|percent|per cent|hälfte|drittel|viertel|fünftel|zehntel|half|third|quarter"
    r"|jede[rsn]? (zweite|dritte|vierte|fünfte|zehnte)\w*|every (second|third|fourth|fifth|tenth))\b",
    _I,
)
_QUESTION_WORDS = frozenset(
    """wer wen wem wessen was wann wo wie warum wieso weshalb woher wohin welche welcher welches welchen welchem
    who whom whose what when where how why which in im""".split()
)


def asked_type(question: str) -> str | None:
    """ "share", "count", "date", "colour", "person" or "name"; None for any other question."""
    return next((kind for kind, pattern in _ASKED_PATTERNS if pattern.search(question)), None)


def type_mismatch(kind: str | None, quote: str, answer: str, sentence: str = "") -> str | None:
    """Why the quote (German) and the answer cannot be what a question of ``kind`` asks for; None
    when they can be. A kind the quote lacks may be in the answer when the quote's ``sentence`` has it
    too ("18" quoted, "18 Prozent" answered from "um 18 Prozent")."""
    kinds: dict[str, re.Pattern[str]] = {"share": _SHARE, "date": _DATE, "colour": _COLOUR}

    def shown(text: str) -> bool:
        return bool(number_values(text)) if kind == "count" else bool(kinds[kind].search(text))

    checks: dict[str, Callable[[], bool]] = {
        **{
            k: (lambda: shown(quote) or (shown(answer) and shown(sentence)))
            for k in ("share", "count", "date", "colour")
        },
        "person": lambda: _names_a_person(answer),
        "name": lambda: bool(_names_beyond_start(answer)),
    }
    wanted = {
        "share": "a percentage or a fraction",
        "count": "a number",
        "date": "a date or a time",
        "colour": "a colour",
        "person": "a person's name (not a party or an organisation's short name)",
        "name": "a name",
    }
    if kind is None or checks[kind]():
        return None
    return f"the question asks for {wanted[kind]}, and the quote or the answer gives none"


def subject_found(question: str, context: str) -> float | None:
    """The share of the question's names (its capitalised words past the question word, folded) that
    ``context`` (the cited sentence, the text before it, its article's title) holds; None for a
    question without names."""
    subject = [w for w in _names_beyond_start(question) if w.lower() not in _QUESTION_WORDS]
    if not subject:
        return None
    words = {fold(w) for w in WORD.findall(context)}
    found = sum(any(same_word(fold(part), words, loose=False) for part in w.split("-") if part) for w in subject)
    return round(found / len(subject), 4)


def _names_a_person(answer: str) -> bool:
    """A capitalised name that is not an abbreviation in capitals (a party: "SPÖ", "FPÖ", "CDU")."""
    return any(not (len(w) > 1 and w.isupper()) for w in _names_beyond_start(answer) | names(answer))


def _names_beyond_start(text: str) -> set[str]:
    """Capitalised words that do not open the text: names, and in German also nouns."""
    words = WORD.findall(text)
    return {w for w in words[1:] if w[0].isupper()}
