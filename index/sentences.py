"""Sentence segmentation with character offsets for German and English news text.

A rule set rather than a general-purpose segmenter: the rules below are the ones German news needs
(ordinal dates, "Mio."/"Mrd.", "z. B.", «…»/„…“ quotes, headlines without final punctuation), and
every one of them is pinned by a test. The contract is exact: for every span, ``text[start:end]`` is
the sentence, stripped of surrounding white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations whose period does not end a sentence (compared in lower case, without the period).
ABBREVIATIONS = frozenset(
    """
    abb abs abt allg anm art aufl bd bzgl bzw ca chr co corp dipl dr dt evtl exkl fa fr ggf gmbh
    hg hl hr hrsg inkl ing jh jhd kap kfz lt max mio mrd min mind nr o.ä od prof rd resp s sog
    st std str tel tsd u.a u.ä usf v vgl vs z.b z.t zit ziff jan feb febr mär apr jun jul aug
    sep sept okt nov dez mr mrs ms messrs jr sr st inc ltd gen col capt sgt rep sen gov mt no
    nos approx dept est fig e.g i.e a.m p.m u.s u.k e.u
    """.split()
)

MONTHS = frozenset(
    """
    januar jänner februar märz april mai juni juli august september oktober november dezember
    jan feb febr mär apr jun jul aug sep sept okt nov dez january february march may june july
    october december
    """.split()
)

# Words that, right before "<number>.", make the number an ordinal ("am 7. September", "zum 3. Mal").
ORDINAL_CONTEXT = frozenset(
    """
    am an dem den der des die das zum zur vom bis ab seit im ins beim vor nach zwischen und oder
    ein eine einem einen einer eines jeder jedem jeden jedes sein seine seinem seinen seiner ihr
    ihre ihrem ihren ihrer unser unsere unserem unseren dieser diesem diesen dieses zu für bei
    über mit montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag
    """.split()
)

_CANDIDATE = re.compile(
    r"(?P<punct>[.!?…]+)"  # sentence-final punctuation
    r"(?P<close>[»«\"“”’'\)\]]*)"  # closing quotes or brackets glued to it
    r"(?P<space>\s+)"
    r"(?=[\(\[«»„\"“‚‘']*[A-ZÄÖÜ0-9])"  # next sentence starts upper case or with a digit
)
_FINAL = re.compile(r"[.!?…:;»«\"“”’'\)\]]\s*$")
_LOWER_START = re.compile(r"\s*[a-zäöüß]")
_WORD_BEFORE = re.compile(r"(\S+)\s*$")
_WORD_AFTER = re.compile(r"\s*[\(\[«»„\"“‚‘']*([^\s.,;:!?]+)")
_OPENING = "([«»„\"“‚‘'"
_SINGLE_LETTER = re.compile(r"[^\W\d_]")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")


@dataclass(frozen=True, slots=True)
class SentenceSpan:
    start: int
    end: int


def split_sentences(text: str) -> list[SentenceSpan]:
    """Split ``text`` into sentences; ``text[span.start:span.end]`` is each sentence, verbatim."""
    spans: list[SentenceSpan] = []
    for block_start, block_end in _blocks(text):
        cursor = block_start
        block = text[block_start:block_end]
        for match in _CANDIDATE.finditer(block):
            if not _is_boundary(block, match):
                continue
            boundary = block_start + match.start("space")
            _append_trimmed(spans, text, cursor, boundary)
            cursor = block_start + match.end("space")
        _append_trimmed(spans, text, cursor, block_end)
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    """Lines are hard boundaries (headlines, credits and teasers carry no final punctuation),
    except a line that stops mid-sentence and whose next line starts in lower case: that is a
    wrapped line and continues the block."""
    blocks: list[tuple[int, int]] = []
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    open_start: int | None = None
    for i, (start, end) in enumerate(lines):
        if not text[start:end].strip():
            continue
        if open_start is None:
            open_start = start
        following = lines[i + 1] if i + 1 < len(lines) else None
        continues = (
            following is not None
            and "\n\n" not in text[end : following[0]]
            and not _FINAL.search(text[start:end])
            and _LOWER_START.match(text[following[0] : following[1]]) is not None
        )
        if not continues:
            blocks.append((open_start, end))
            open_start = None
    return blocks


def _is_boundary(block: str, match: re.Match[str]) -> bool:
    if match.group("punct") != "." or match.group("close"):
        return True
    before = _WORD_BEFORE.search(block, max(0, match.start("punct") - 64), match.start("punct"))
    if before is None:
        return True
    word = before.group(1).lstrip(_OPENING)
    lowered = word.lower()
    if lowered in ABBREVIATIONS or _SINGLE_LETTER.fullmatch(word) or _DOTTED.fullmatch(word):
        return False
    if word.isdigit() and len(word) <= 3:
        return not _is_ordinal(block, before.start(1), match.end())
    return True


def _is_ordinal(block: str, number_start: int, after: int) -> bool:
    following = _WORD_AFTER.match(block, after)
    if following and following.group(1).lower() in MONTHS:
        return True
    previous = _WORD_BEFORE.search(block, max(0, number_start - 64), number_start)
    return bool(previous) and previous.group(1).lower().strip(",") in ORDINAL_CONTEXT


def _append_trimmed(spans: list[SentenceSpan], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append(SentenceSpan(start, end))
