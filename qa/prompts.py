"""Prompts as files in ``prompts/``: ``<name>.<language>.txt``, turns headed by ``### system``,
``### user`` and ``### assistant``. ``$placeholders`` in the last turn are filled per question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from qa.retrieval import SentenceHit
from qa.settings import PROJECT_ROOT

PROMPTS = PROJECT_ROOT / "prompts"
_HEADING = re.compile(r"^### (system|user|assistant)\s*$", re.MULTILINE)
_LABELS = {
    "de": {"article": "Artikel", "question": "Frage", "answer": "Antwort"},
    "en": {"article": "Article", "question": "Question", "answer": "Answer"},
}


@dataclass(frozen=True, slots=True)
class PromptTurn:
    role: str
    content: str


@cache
def load_prompt(name: str, language: str, folder: Path = PROMPTS) -> tuple[PromptTurn, ...]:
    path = folder / f"{name}.{language}.txt"
    text = path.read_text(encoding="utf-8")
    pieces = _HEADING.split(text)
    turns = tuple(PromptTurn(role, content.strip()) for role, content in zip(pieces[1::2], pieces[2::2], strict=True))
    if not turns or turns[-1].role != "user":
        raise ValueError(f"{path}: the last turn must be '### user', the one filled per question")
    return turns


def render(name: str, language: str, **values: str) -> list[dict[str, str]]:
    turns = load_prompt(name, language)
    messages = [{"role": t.role, "content": t.content} for t in turns[:-1]]
    messages.append({"role": "user", "content": Template(turns[-1].content).substitute(values)})
    return messages


def fixed_starts(names: tuple[str, ...] = ("answer", "rewrite"), languages: tuple[str, ...] = ("de", "en")) -> list[
    list[dict[str, str]]
]:
    """The part of each prompt that is the same for every question: its fixed turns, and its last turn
    up to the first placeholder. A backend can evaluate these once, ahead of the questions."""
    starts = []
    for name in names:
        for language in languages:
            turns = load_prompt(name, language)
            messages = [{"role": t.role, "content": t.content} for t in turns[:-1]]
            last = turns[-1].content
            messages.append({"role": turns[-1].role, "content": last.split("$", 1)[0]})
            starts.append(messages)
    return starts


def numbered_context(hits: list[SentenceHit], language: str) -> tuple[str, list[SentenceHit]]:
    """The candidate sentences grouped under their article's title and date, and numbered 1..n in the
    order shown: articles in the order of their best sentence, sentences in reading order. Returns
    the text and the sentences in number order (``numbered[n - 1]`` is sentence ``[n]``)."""
    label = _LABELS[language]["article"]
    groups: dict[str, list[SentenceHit]] = {}
    for hit in hits:
        groups.setdefault(hit.doc_id, []).append(hit)
    lines: list[str] = []
    numbered: list[SentenceHit] = []
    for members in groups.values():
        first = members[0]
        about = ", ".join(x for x in (first.date, first.publisher) if x)
        lines.append(f"{label}: {first.title}" + (f" ({about})" if about else ""))
        for hit in sorted(members, key=lambda h: h.sentence_index):
            numbered.append(hit)
            lines.append(f"[{len(numbered)}] {_one_line(hit.sentence)}")
    return "\n".join(lines), numbered


def history_text(history: list[tuple[str, str]], language: str) -> str:
    labels = _LABELS[language]
    return "\n".join(f"{labels['question']}: {q}\n{labels['answer']}: {a}" for q, a in history)


def _one_line(text: str) -> str:
    """One line, with straight double quotes shown as single ones: a model that copies a quoted
    word into its JSON answer would otherwise end the string early. Citations keep the original."""
    return " ".join(text.split()).replace('"', "'")
