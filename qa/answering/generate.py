"""Step 3: the model's reply, ``{"sources": [n, ...], "answer": "..."}``, held to a JSON schema whose
source numbers are limited to the sentences offered. Choosing the evidence before writing keeps a
small model closer to it; the answer's text is passed on as it is written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.json_stream import StringFieldStream
from qa.llm import ChatModel

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str
    sources: list[int]
    well_formed: bool


def answer_schema(offered: int) -> dict[str, Any]:
    """The reply: the numbers of the offered sentences that hold the answer, then the answer."""
    return {
        "type": "object",
        "properties": {
            "sources": {"type": "array", "items": {"type": "integer", "enum": list(range(1, offered + 1))}},
            "answer": {"type": "string"},
        },
        "required": ["sources", "answer"],
    }


class Generation:
    """The reply as it streams: ``pieces()`` yields the visible answer text, ``raw`` the JSON so far."""

    def __init__(self, llm: ChatModel, messages: list[dict[str, str]], offered: int, max_tokens: int):
        self._stream = llm.stream(messages, answer_schema(offered), max_tokens)
        self._raw: list[str] = []

    @property
    def raw(self) -> str:
        return "".join(self._raw)

    def pieces(self) -> Iterator[str]:
        visible = StringFieldStream("answer")
        plain: bool | None = None
        for piece in self._stream:
            self._raw.append(piece)
            if plain is None:
                so_far = self.raw
                if not so_far.strip():
                    continue
                plain = not so_far.lstrip().startswith("{")
                text = so_far if plain else visible.feed(so_far)
            else:
                text = piece if plain else visible.feed(piece)
            if text:
                yield text

    def reply(self) -> ModelReply:
        return parse_reply(self.raw)


def parse_reply(raw: str) -> ModelReply:
    """Read ``{"answer": ..., "sources": [...]}``; fall back to plain text with ``[n]`` markers for
    backends that cannot hold the model to the schema."""
    data = _json_object(raw)
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        text, sources = data["answer"], _numbers_of(data.get("sources"))
        well_formed = True
    else:
        text, sources, well_formed = raw, [], False
    marked = [int(n) for group in _MARKERS.findall(text) for n in group.split(",")]
    text = _MARKERS.sub("", text).strip()
    return ModelReply(text, list(dict.fromkeys([*sources, *marked])), well_formed)


def _json_object(raw: str) -> object:
    start, end = raw.find("{"), raw.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(raw[start : end + 1])
    except json.JSONDecodeError:
        return None


def _numbers_of(value: object) -> list[int]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            out.append(item)
        elif isinstance(item, str) and item.strip().lstrip("[").rstrip("]").isdigit():
            out.append(int(item.strip().lstrip("[").rstrip("]")))
    return out
