"""Which numbers and names of an answer a set of source sentences contains.

Answers may be English while the sources are German, so names are compared after a light
transliteration ("Lavrov" = "Lawrow", "Pyongyang" = "Pjöngjang", "Shoigu" = "Schoigu") and a few
common English words are mapped to their German form. Numbers are compared as values:
"1.000", "1,000" and "1000" are the same number, and so are "1,2" and "1.2".
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import cache

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_GERMAN

_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*(?![\d]|[.,]\d)|\d+(?:[.,]\d+)?")
WORD = re.compile(r"[^\W\d_][\w-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"„«»“(]\s*)$")
_ENGLISH_TO_GERMAN = dict(
    pair.split(":")
    for pair in """
    north:nord south:süd east:ost white:weiß house:haus russia:russland russian:russisch
    korean:koreanisch moscow:moskau beijing:peking chinese:chinesisch ukrainian:ukrainisch
    israeli:israelisch iranian:iranisch armenia:armenien azerbaijan:aserbaidschan monday:montag
    tuesday:dienstag wednesday:mittwoch thursday:donnerstag friday:freitag saturday:samstag
    sunday:sonntag january:januar february:februar march:märz may:mai june:juni july:juli
    october:oktober december:dezember security:sicherheit council:rat soviet:sowjet
    defence:verteidigung defense:verteidigung foreign:außen president:präsident
    """.split()
)
#: Capitalised words that are not names: articles, pronouns, question words, common sentence openers.
_NOT_NAMES = frozenset(
    """
    the a an and or but in on at of to for from by with as it its he she they we i this that these those
    there his her their according also however after before during since until when where who what
    which why how mr mrs ms dr
    der die das den dem des ein eine einer einem einen und oder aber in im am an auf aus bei mit nach
    von vor zu zum zur über unter seit bis es er sie wir ich laut dabei zudem auch
    wer wen wem wessen was wann wo wie warum wieso weshalb woher wohin welche welcher welches welchen welchem
    """.split()
)
_COMMON = (
    frozenset(STOPWORDS_EN)
    | frozenset(STOPWORDS_GERMAN)
    | frozenset(
        """
        yes no ja nein es it more most less about around some many several only over nearly almost
        rund etwa mehr fast knapp insgesamt laut according both beide
        wurde wurden worden wird werden ist sind war waren hat haben hatte hatten sei seien gewesen
        was were been has have had is are be
        """.split()
    )
)
_QUANTITY_QUESTION = re.compile(r"\b(wie viele?|wieviele?|how many|how much)\b", re.IGNORECASE)
_NUMBER_WORD = re.compile(
    r"(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|hundert|tausend|million"
    r"|milliarde|dutzend|mehrere|einige|zahlreiche|one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|twenty|thirty|hundred|thousand|billion|dozen|several|half|halb)"
    r"(e|en|er|es|s|n|tägig\w*|jährig\w*|stündig\w*|fach\w*|mal)?"
)
_NUMBER_VALUES = {
    word: str(value)
    for value, words in enumerate(
        [
            "",
            "one",
            "zwei two",
            "drei three",
            "vier four",
            "fünf five",
            "sechs six",
            "sieben seven",
            "acht eight",
            "neun nine",
            "zehn ten",
            "elf eleven",
            "zwölf twelve",
        ]
    )
    for word in words.split()
} | {
    "zwanzig": "20",
    "twenty": "20",
    "dreißig": "30",
    "thirty": "30",
    "hundert": "100",
    "hundred": "100",
    "tausend": "1000",
    "thousand": "1000",
}
_NEGATIONS = frozenset("no not never none nein nicht nie kein keine keinen keinem keiner noch yet".split())
_TRANSLITERATION = (("tsch", "ch"), ("sch", "sh"), ("kh", "ch"), ("zh", "sh"), ("w", "v"), ("j", "y"), ("c", "k"))


def numbers(text: str) -> set[str]:
    """Numbers as canonical strings: thousands separators removed, decimal comma as point."""
    found = set()
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        if match.group(1):
            found.add(raw.replace(".", "").replace(",", ""))
        else:
            found.add(raw.replace(",", "."))
    return found


def names(text: str) -> set[str]:
    """Capitalised words: names, places, and in German also nouns. A word that opens a sentence
    counts unless it is a common function word ("Die", "The", "Es", "Yes")."""
    found = set()
    for match in WORD.finditer(text):
        word = match.group(0)
        lower = word.lower()
        if not word[0].isupper() or lower in _NOT_NAMES:
            continue
        if _SENTENCE_START.search(text[: match.start()]) and lower in _COMMON:
            continue
        found.add(word)
    return found


def missing_terms(answer: str, texts: list[str]) -> list[str]:
    """Numbers and names of ``answer`` that none of ``texts`` (cited sentences, the question)
    contains, in order of appearance."""
    joined = " ".join(texts)
    held_numbers = numbers(joined)
    held_words = {fold(w) for w in WORD.findall(joined)}
    missing = [n for n in sorted(numbers(answer), key=answer.find) if n not in held_numbers]
    for name in sorted(names(answer), key=answer.find):
        if not any(same_word(fold(part), held_words) for part in name.split("-") if part):
            missing.append(name)
    return missing


def restates(answer: str, question: str) -> bool:
    """True when the answer says nothing the question does not: no new number, and each of its
    words, other than function words, is a word of the question. "No", "nicht", "kein" and the
    like say something, so short yes/no answers are not restatements. An answer that is itself a
    question ("Who was welcomed …?") says nothing either."""
    if answer.rstrip().endswith("?"):
        return True
    if numbers(answer) - numbers(question):
        return False
    said = [w for w in WORD.findall(answer) if w.lower() not in _COMMON or w.lower() in _NEGATIONS]
    if not said or any(w.lower() in _NEGATIONS for w in said):
        return False
    question_words = {fold(w) for w in WORD.findall(question)}
    return all(same_word(fold(w), question_words) for w in said)


def lacks_asked_quantity(answer: str, question: str) -> bool:
    """True when the question asks how many or how much and the answer gives no number, neither in
    digits nor in words ("zwei", "zweitägig", "thousands")."""
    if not _QUANTITY_QUESTION.search(question) or numbers(answer):
        return False
    parts = (part for word in WORD.findall(answer) for part in word.lower().split("-"))
    return not any(_NUMBER_WORD.fullmatch(part) for part in parts)


def number_values(text: str) -> set[str]:
    """The numbers of ``text`` as values, in digits or in words ("zwei", "sechstägig", "twelve")."""
    found = numbers(text)
    for word in WORD.findall(text):
        for part in word.lower().split("-"):
            match = _NUMBER_WORD.fullmatch(part)
            if match and match.group(1) in _NUMBER_VALUES:
                found.add(_NUMBER_VALUES[match.group(1)])
    return found


def content_words(text: str) -> list[str]:
    """Words that carry content: not function words, not number words, three letters or more; in
    order of appearance, each once."""
    out: list[str] = []
    for word in WORD.findall(text):
        lower = word.lower()
        if len(word) < 3 or lower in _COMMON or _NUMBER_WORD.fullmatch(lower) or word in out:
            continue
        out.append(word)
    return out


@cache
def fold(word: str) -> str:
    word = _ENGLISH_TO_GERMAN.get(word.lower(), word.lower())
    word = word.replace("ß", "ss")
    word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    for german, english in _TRANSLITERATION:
        word = word.replace(german, english)
    return word


def same_word(word: str, candidates: set[str], loose: bool = True) -> bool:
    """Equal after folding, one a prefix of the other (inflection), part of a compound
    ("korea" in "nordkorea"), or close in spelling. Words shorter than three letters match anything
    when ``loose`` (they carry no claim), and only themselves otherwise."""
    if word in candidates:
        return True
    if len(word) < 3:
        return loose
    for candidate in candidates:
        if (
            len(word) >= 4
            and len(candidate) >= 4
            and (candidate.startswith(word[:5]) or word.startswith(candidate[:5]))
        ):
            return True
        if len(word) >= 4 and word in candidate:
            return True
        if loose and abs(len(candidate) - len(word)) <= 3 and SequenceMatcher(None, word, candidate).ratio() >= 0.8:
            return True
    return False
