"""What an answer is: text with numbered markers, and the verbatim sentences the markers point to."""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass, field
from typing import Any

from index.located import LocatedSentence


@dataclass(frozen=True, slots=True)
class Citation(LocatedSentence):
    """A sentence an answer cites, with how well it supports the answer and the words that do."""

    #: Support of the answer by this sentence, 0..1: similarity, lowered where numbers or names of the
    #: answer are missing from the cited sentences.
    score: float
    _: KW_ONLY
    #: "states": the sentence states the answer's claim; "related": it is only about the same thing.
    verdict: str = "related"
    #: The evidence inside the sentence, as offsets in the document text (start <= evidence_start <=
    #: evidence_end <= end): the words that state the claim, for highlighting.
    evidence_start: int | None = None
    evidence_end: int | None = None
    #: The same statement in other articles (near-duplicate sentences), best first.
    also: list[LocatedSentence] = field(default_factory=list)

    @property
    def evidence(self) -> str:
        """The evidence span's text, verbatim from the sentence; empty when there is none."""
        if self.evidence_start is None or self.evidence_end is None:
            return ""
        return self.sentence[self.evidence_start - self.start : self.evidence_end - self.start]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        values = {key: value for key, value in data.items() if key != "evidence"}
        values["also"] = [LocatedSentence(**copy) for copy in data.get("also") or []]
        return cls(**values)


@dataclass(frozen=True, slots=True)
class QuotePiece:
    """A piece of the quote as the model copies it from its sentence, streamed before the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    #: The answer, with markers "[1]", "[2]" … numbered in order of first appearance.
    text: str
    language: str
    answerable: bool
    #: ``citations[i]`` is marker ``[i + 1]``.
    citations: list[Citation] = field(default_factory=list)
    #: Seconds per stage ("rewrite", "retrieve", "first_token", "generate", "total") and token counts.
    timings: dict[str, float] = field(default_factory=dict)
    #: The question that was answered: the follow-up rewritten to stand alone, or the question itself.
    question: str = ""
    #: Numbers and names of the answer that none of its cited sentences contain.
    unsupported: list[str] = field(default_factory=list)
    #: Why the answer abstained or how its citations were repaired, for people and for evaluation.
    notes: list[str] = field(default_factory=list)
    #: Claims of the answer (its sentences or clauses) that no cited sentence states.
    unsupported_claims: list[str] = field(default_factory=list)
    #: How sure the check is that the cited sentences state the answer, 0..1; None where no answer was
    #: drafted (retrieval found nothing, or the model said the articles don't say).
    confidence: float | None = None
    #: False when the answer is shown although no cited sentence states its central claim (only with
    #: the setting ``unverified="mark"``; by default such an answer is withheld).
    verified: bool = True
    #: The measured inputs of ``confidence`` ("judge": the LLM's P(yes), "terms_found": the share of
    #: the central claim's terms that the cited sentences hold, …), for calibration.
    signals: dict[str, float] = field(default_factory=dict)
    #: The drafted answer that the check withheld, so that a reader (or an evaluation) can see what
    #: was refused; None when nothing was withheld.
    withheld: Answer | None = None
    #: The question in German as the LLM wrote it, searched beside an English question; None where the
    #: question was searched as asked.
    searched_as: str | None = None
    #: The words of the first cited sentence that the answer was written from, verbatim; empty where
    #: no answer was drafted.
    quote: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = [c.to_dict() for c in self.citations]
        data["withheld"] = self.withheld.to_dict() if self.withheld is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        values = dict(data)
        values["citations"] = [Citation.from_dict(c) for c in data.get("citations", [])]
        if data.get("withheld") is not None:
            values["withheld"] = cls.from_dict(data["withheld"])
        return cls(**values)
