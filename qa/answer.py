"""What an answer is: text with numbered markers, and the verbatim sentences the markers point to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Citation:
    doc_id: str
    title: str
    source: str
    sentence_index: int
    #: Verbatim: ``document.text[start:end]``.
    sentence: str
    start: int
    end: int
    #: Support of the answer by this sentence, 0..1: similarity, lowered where numbers or names of the
    #: answer are missing from the cited sentences.
    score: float
    date: str | None = None
    publisher: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(**data)


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = [c.to_dict() for c in self.citations]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        values = dict(data)
        values["citations"] = [Citation.from_dict(c) for c in data.get("citations", [])]
        return cls(**values)
