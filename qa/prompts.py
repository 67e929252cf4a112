"""Prompts as files in ``prompts/``: ``<name>.<language>.txt``, turns headed by ``### system``,
``### user`` and ``### assistant``. ``$placeholders`` in the last turn are filled per question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from qa.resources import data_folder

PROMPTS = data_folder("prompts")
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


def fixed_starts(
    names: tuple[str, ...] = ("answer", "rewrite"), languages: tuple[str, ...] = ("de", "en")
) -> list[list[dict[str, str]]]:
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


def label(language: str, name: str) -> str:
    """A word the prompts share, in their language: "article", "question" or "answer"."""
    return _LABELS[language][name]


def history_text(history: list[tuple[str, str]], language: str) -> str:
    labels = _LABELS[language]
    return "\n".join(f"{labels['question']}: {q}\n{labels['answer']}: {a}" for q, a in history)
