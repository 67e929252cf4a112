"""Step 3: the model's reply, ``{"sources": [n, ...], "quote": "...", "answer": "..."}``, held to a JSON
schema: the source numbers are limited to the sentences offered, and the quote to a run of whole
words of the first chosen sentence, copied as the model was shown it. Evidence first: the model
chooses the sentence, copies the words that hold the answer, and only then writes the answer, with
the quote in front of it. The quote and the answer are passed on as they are written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.json_stream import StringFieldStream
from qa.llm import ChatModel
from qa.llm.guided import QUOTE_KEY

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str
    #: The numbers of the offered sentences the reply cites (1-based, as the prompt shows them): the
    #: reply's "sources" field, as the model sees it.
    cited: list[int]
    well_formed: bool
    #: The words the model copied from its first cited sentence: the evidence the answer is written from.
    quote: str = ""


def answer_schema(sentences: list[str], quote: bool = True) -> dict[str, Any]:
    """The reply: the numbers of the offered sentences that hold the answer, with ``quote`` a run of
    words copied from one of them (``sentences[n - 1]`` as the prompt shows sentence ``[n]``), then
    the answer."""
    numbers = list(range(1, len(sentences) + 1))
    texts = {str(n): sentence for n, sentence in enumerate(sentences, start=1)}
    properties: dict[str, Any] = {"sources": {"type": "array", "items": {"type": "integer", "enum": numbers}}}
    if quote:
        properties["quote"] = {"type": "string", QUOTE_KEY: {"of": "sources", "texts": texts}}
    properties["answer"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": list(properties)}


class Generation:
    """The reply as it streams: ``pieces()`` yields the visible answer text, ``quotes()`` the quote's,
    ``raw`` the JSON so far."""

    def __init__(
        self, llm: ChatModel, messages: list[dict[str, str]], sentences: list[str], max_tokens: int, quote: bool
    ):
        self._stream = llm.stream(messages, answer_schema(sentences, quote), max_tokens)
        self._raw: list[str] = []

    @property
    def raw(self) -> str:
        return "".join(self._raw)

    def pieces(self) -> Iterator[tuple[str, str]]:
        """``(field, text)`` as the reply streams: the quote's pieces ("quote"), then the answer's
        ("answer"); a reply that is not JSON is all answer."""
        fields = {"quote": StringFieldStream("quote"), "answer": StringFieldStream("answer")}
        plain: bool | None = None
        for piece in self._stream:
            self._raw.append(piece)
            if plain is None:
                so_far = self.raw
                if not so_far.strip():
                    continue
                plain = not so_far.lstrip().startswith("{")
                piece = so_far
            if plain:
                yield "answer", piece
                continue
            for name, stream in fields.items():
                text = stream.feed(piece)
                if text:
                    yield name, text

    def reply(self) -> ModelReply:
        return parse_reply(self.raw)


def parse_reply(raw: str) -> ModelReply:
    """Read ``{"answer": ..., "sources": [...]}``; fall back to plain text with ``[n]`` markers for
    backends that cannot hold the model to the schema."""
    data = _json_object(raw)
    quote = ""
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        text, cited = data["answer"], _numbers_of(data.get("sources"))
        quote = data["quote"].strip() if isinstance(data.get("quote"), str) else ""
        well_formed = True
    else:
        text, cited, well_formed = raw, [], False
    marked = [int(n) for group in _MARKERS.findall(text) for n in group.split(",")]
    text = _MARKERS.sub("", text).strip()
    return ModelReply(text, list(dict.fromkeys([*cited, *marked])), well_formed, quote)


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
