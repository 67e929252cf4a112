"""Step 0, for follow-ups: the conversation so far, and the follow-up rewritten by the LLM into a
question that stands on its own ("Und wann war das?" → "Wann traf Lawrow Kim Jong Un?")."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from qa.llm import ChatModel, complete
from qa.prompts import history_text, render

log = logging.getLogger(__name__)

History = Sequence[dict[str, Any] | Sequence[str]]

_REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}},
    "required": ["question"],
}
_MARKER = re.compile(r"\s*\[\d+\]")
_HISTORY_TURNS = 3


def rewrite(llm: ChatModel, question: str, turns: list[tuple[str, str]], language: str) -> str:
    """The follow-up as a question that stands on its own; the question itself where the model gives
    nothing usable."""
    messages = render("rewrite", language, history=history_text(turns, language), question=question)
    raw = complete(llm, messages, _REWRITE_SCHEMA, 96)
    try:
        rewritten = json.loads(raw).get("question", "")
    except (json.JSONDecodeError, AttributeError):
        rewritten = ""
    if not isinstance(rewritten, str) or not rewritten.strip() or len(rewritten) > 4 * len(question) + 200:
        log.info("kept the follow-up as asked; the rewrite gave %r", raw)
        return question
    log.debug("rewrote %r as %r", question, rewritten)
    return rewritten.strip()


def conversation(history: History | None) -> list[tuple[str, str]]:
    """The last exchanges as (question, answer) pairs. Accepts chat messages (``{"role", "content"}``,
    as Gradio and OpenAI use them) or (question, answer) pairs. Citation markers are removed."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for turn in history or []:
        if isinstance(turn, dict):
            role, content = turn.get("role"), _text_of(turn.get("content"))
            if role == "user":
                pending = content
            elif role == "assistant" and pending is not None:
                pairs.append((pending, content))
                pending = None
        elif isinstance(turn, Sequence) and not isinstance(turn, str) and len(turn) == 2:
            pairs.append((_text_of(turn[0]), _text_of(turn[1])))
    cleaned = [(q.strip(), _MARKER.sub("", a).strip()) for q, a in pairs if q and q.strip()]
    return cleaned[-_HISTORY_TURNS:]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return " ".join(_text_of(part) for part in content)
    return "" if content is None else str(content)
