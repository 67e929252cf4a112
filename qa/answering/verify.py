"""Step 5: verify each claim of the answer against the sentences it cites.

A citation promises that its sentence *states* the claim; being about the same thing is not enough.
Two checks, combined into one confidence for the answer's central claim:

- **Terms.** Every content term of a claim that the question does not already give (numbers, names,
  and for a German answer every content word) must be in the cited sentences: compared after
  folding case, accents and transliteration, by stem and compound part ("Hafenchef" holds "Chef",
  "sechstägig" holds "sechs"), numbers by value ("1.000" = "1000", "zwei" = "2"). An English answer
  over German sentences can only be held to its numbers and names this way.
- **Judge.** The LLM is asked, with a few-shot prompt of its own, whether the cited sentences state
  the answer to the question; the probability of "yes" is read off the next token
  (``qa.answering.judge``). This is the check that works across languages.

``confidence = P(yes) × share of the central claim's terms found`` (0 when a number, name or noun is
missing). The central claim is stated when no number, name or noun is missing and the confidence
reaches ``min_confidence``; where the terms alone already fall short, the judge is not asked. Each
citation gets a verdict ("states" or "related") and the evidence span inside its sentence: the words
that hold the claim's terms, or, where none do (an English paraphrase), the clause most similar to
the claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from index.sentences import split_sentences
from qa.answer import Citation
from qa.answering.support import WORD, content_words, fold, names, number_values, numbers, same_word

#: Texts to unit vectors (the claim as a query first, then the clauses as passages).
Embed = Callable[[str, list[str]], np.ndarray]
#: Asks the LLM judge: its probability that the cited sentences state the answer, or None.
Judge = Callable[[], float | None]

_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:–—]|\s-\s)\s*|\s+(?=(?:und|sowie|aber|während|weil|and|but|while)\s)")
_CLAIM_BREAK = re.compile(r"\s*;\s*")


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    text: str
    #: Content terms of the claim that the question does not already give.
    terms: list[str]
    #: Of those, the ones no cited sentence holds.
    missing: list[str]

    @property
    def found_share(self) -> float:
        return 1.0 - len(self.missing) / len(self.terms) if self.terms else 1.0

    @property
    def missing_facts(self) -> list[str]:
        """Missing numbers, names and (German) nouns: a claim with one of these is not stated. A
        missing verb or adjective ("getroffen" for "Treffen") only lowers the confidence."""
        return [term for term in self.missing if term[0].isdigit() or term[0].isupper()]


@dataclass(slots=True)
class Verification:
    claims: list[ClaimCheck]
    #: Index of the central claim in ``claims``: the first that says something the question does not.
    central: int
    confidence: float
    stated: bool
    citations: list[Citation]
    #: The measured inputs of the confidence, recorded with the answer for calibration.
    signals: dict[str, float] = field(default_factory=dict)

    @property
    def unsupported_claims(self) -> list[str]:
        """Claims with a term no cited sentence holds, and the central claim when it is not stated."""
        out = [c.text for c in self.claims if c.missing_facts]
        central = self.claims[self.central].text if self.claims else ""
        if not self.stated and central and central not in out:
            out.insert(0, central)
        return out


def split_claims(answer: str) -> list[str]:
    """The answer's sentences, and their parts between semicolons: each is checked on its own."""
    spans = split_sentences(answer) or []
    pieces = [answer[s.start : s.end] for s in spans] or [answer]
    return [part.strip() for piece in pieces for part in _CLAIM_BREAK.split(piece) if part.strip()]


def verify(
    answer: str,
    question: str,
    language: str,
    citations: Sequence[Citation],
    min_confidence: float,
    judge: Judge | float | None = None,
    doubt: float | None = None,
    logprobs: Sequence[float] | None = None,
    embed: Embed | None = None,
) -> Verification:
    """``answer`` without markers. ``judge`` is the LLM's probability that the cited sentences state the
    answer, or a function that asks for it, called only where the terms leave the verdict open
    (None: the terms decide). ``doubt``, the probability the model gave to citing nothing (its own
    "the articles don't say"), and ``logprobs``, those of the answer's tokens, come with the reply
    and are recorded as signals for calibration; on the dev and seed questions neither told right
    answers from wrong ones as consistently as the judge (see docs/evaluation.md "Trust"). Signals that need
    more than the cited sentences (``question_found``) are not computed here: see
    ``qa.answering.calibration.article_signals``."""
    sentences = [c.sentence for c in citations]
    claims = [_check_claim(text, question, language, sentences) for text in split_claims(answer)]
    central = next((i for i, claim in enumerate(claims) if claim.terms), 0)
    main = claims[central] if claims else ClaimCheck(answer, [], [])
    share = main.found_share
    decided = bool(main.missing_facts) or share < min_confidence
    if callable(judge):
        # A missing fact, or too few of the terms, withholds the answer whatever the judge would say.
        judge = None if decided else judge()
    confidence = 0.0 if main.missing_facts else round((1.0 if judge is None else judge) * share, 4)
    stated = not main.missing_facts and confidence >= min_confidence and bool(citations)
    terms = [term for claim in claims for term in claim.terms]
    checked = [_with_evidence(citation, terms, f"{question} {answer}", stated, embed) for citation in citations]
    signals = {
        "terms": float(len(main.terms)),
        "terms_found": round(share, 4),
        "facts_missing": float(len(main.missing_facts)),
    }
    if judge is not None:
        signals["judge"] = round(judge, 4)
    if doubt is not None:
        signals["doubt"] = round(doubt, 4)
    if logprobs:
        signals["logprob_mean"] = round(float(np.mean(logprobs)), 4)
        signals["logprob_min"] = round(float(np.min(logprobs)), 4)
    return Verification(claims, central, confidence, stated, checked, signals)


def question_found(question: str, articles: Sequence[str]) -> float:
    """The share of the question's names (and German nouns) that the cited articles mention: an
    article that never names what the question asks about cannot state its answer. Matched by
    folded word, five-letter stem or compound part. A signal for the calibrator and for research,
    not a check: it needs the articles' whole texts (``qa.answering.calibration.article_signals``)."""
    wanted = [fold(name) for name in names(question) if len(name) >= 3]
    if not wanted:
        return 1.0
    text = " ".join(fold(word) for article in articles for word in WORD.findall(article))
    stems = {word[:5] for word in text.split()}
    return sum(1 for word in wanted if word[:5] in stems or word in text) / len(wanted)


def _check_claim(text: str, question: str, language: str, sentences: list[str]) -> ClaimCheck:
    terms = claim_terms(text, question, language)
    source = " ".join(sentences)
    source_numbers = number_values(source)
    source_words = {fold(w) for w in WORD.findall(source)}
    missing = []
    for term in terms:
        if term[0].isdigit():
            if term not in source_numbers:
                missing.append(term)
        elif not any(same_word(fold(part), source_words) for part in term.split("-") if part):
            missing.append(term)
    return ClaimCheck(text, terms, missing)


def claim_terms(claim: str, question: str, language: str) -> list[str]:
    """Numbers and names of the claim, and for German every content word, that the question does not
    already give; in order of appearance."""
    asked_numbers = number_values(question)
    asked_words = {fold(w) for w in WORD.findall(question)}
    terms = [n for n in sorted(number_values(claim), key=lambda n: _position(claim, n)) if n not in asked_numbers]
    words = content_words(claim) if language == "de" else sorted(names(claim), key=claim.find)
    for word in words:
        parts = [fold(part) for part in word.split("-") if part]
        if parts and not all(same_word(part, asked_words) for part in parts) and word not in terms:
            terms.append(word)
    return terms


def _position(text: str, number: str) -> int:
    index = text.find(number)
    return index if index >= 0 else len(text)


def _with_evidence(citation: Citation, terms: list[str], claim: str, stated: bool, embed: Embed | None) -> Citation:
    """The citation with its verdict and the evidence span inside its sentence."""
    span = term_span(citation.sentence, terms)
    holds = span is not None
    if span is None:
        span = clause_span(citation.sentence, claim, embed)
    verdict = "states" if stated and (holds or not terms) else "related"
    start, end = span
    return replace(citation, verdict=verdict, evidence_start=citation.start + start, evidence_end=citation.start + end)


def term_span(sentence: str, terms: list[str]) -> tuple[int, int] | None:
    """From the first to the last word of ``sentence`` that holds one of ``terms``; None if none does."""
    wanted_numbers = {t for t in terms if t[0].isdigit()}
    wanted_words = {fold(part) for t in terms if not t[0].isdigit() for part in t.split("-") if part}
    hits: list[tuple[int, int]] = []
    for match in re.finditer(r"\d[\d.,]*\d|\d|[^\W\d_][\w-]*", sentence):
        token = match.group(0)
        if token[0].isdigit():
            if numbers(token) & wanted_numbers:
                hits.append(match.span())
        elif (
            any(same_word(fold(part), wanted_words, loose=False) for part in token.split("-") if part)
            or number_values(token) & wanted_numbers
        ):
            hits.append(match.span())
    if not hits:
        return None
    return hits[0][0], hits[-1][1]


def clause_span(sentence: str, claim: str, embed: Embed | None) -> tuple[int, int]:
    """The clause of ``sentence`` most similar to ``claim``; the whole sentence without an embedder
    or when it has one clause."""
    clauses = _clauses(sentence)
    if embed is None or len(clauses) < 2:
        return _trimmed(sentence, 0, len(sentence))
    vectors = embed(claim, [sentence[s:e] for s, e in clauses])
    best = int(np.argmax(vectors[1:] @ vectors[0]))
    return clauses[best]


def _clauses(sentence: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        if match.start() > start:
            spans.append(_trimmed(sentence, start, match.start()))
        start = match.end()
    if start < len(sentence):
        spans.append(_trimmed(sentence, start, len(sentence)))
    # Pieces of one or two words are no clause of their own: they join the one before.
    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged and len(sentence[span[0] : span[1]].split()) < 3:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return [span for span in merged if span[1] > span[0]]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not (text[start].isalnum() or text[start] in "«„\"'("):
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in "»“\"')"):
        end -= 1
    return start, end
