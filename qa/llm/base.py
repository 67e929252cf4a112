"""The one protocol every LLM backend fills: stream a chat reply, optionally held to a JSON schema."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol


class ChatModel(Protocol):
    #: What the user sees as "the model in use", e.g. "embedded qwen2.5-coder-1.5b-instruct-q4_k_m".
    description: str

    def stream(self, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> Iterator[str]:
        """Yield the reply in pieces. With a schema, backends that can constrain their output do."""
        ...

    def warm_up(self, prompts: Sequence[list[dict[str, str]]] = ()) -> None:
        """Load or reach the model now rather than on the first question. ``prompts`` are the fixed
        starts of the prompts to come, which a backend may evaluate now and keep."""
        ...


def complete(model: ChatModel, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> str:
    return "".join(model.stream(messages, schema, max_tokens))
