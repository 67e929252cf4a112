"""The one protocol every LLM backend fills (``ChatModel``: stream a chat reply, optionally held to a
JSON schema), and the optional abilities some backends add, each a protocol of its own that the
answering chain checks with ``isinstance`` before it relies on it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from qa.llm.guided import Trace


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


@runtime_checkable
class TracesReplies(Protocol):
    """A backend that can tell how sure the model was of its last reply (llama.cpp's guided decoding:
    the token log-probabilities of its strings and quotes, its probability of citing nothing)."""

    def reply_trace(self) -> Trace | None:
        """The trace of the last reply streamed in this thread; None without one."""
        ...


@runtime_checkable
class Judges(Protocol):
    """A backend that can answer a yes/no question with a probability: llama.cpp reads it off the
    next token's logits, a server gives 1 or 0."""

    def judge(self, messages: list[dict[str, str]], yes: str, no: str) -> float:
        """The probability that the assistant's reply to ``messages`` starts with ``yes`` rather than
        ``no``."""
        ...


def complete(model: ChatModel, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> str:
    return "".join(model.stream(messages, schema, max_tokens))
