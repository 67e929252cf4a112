"""LLM servers through llama-index's LLM classes: Ollama, and any OpenAI-compatible server (vLLM,
llama.cpp's server, a hosted API). Both are asked to hold the reply to the answer's JSON schema."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage

from qa.llm.errors import LLMUnavailableError
from qa.llm.guided import without_quotes

log = logging.getLogger(__name__)


class LlamaIndexChat:
    """Wraps a llama-index ``LLM``; ``kind`` says how to ask it for JSON-schema output."""

    def __init__(self, llm: Any, kind: str, description: str):
        self.llm = llm
        self.kind = kind
        self.description = description
        # Response formats to try, best first; a server that rejects one is asked with the next, and
        # with no constraint (parsed leniently) once none is left.
        self._formats = [_json_schema_format, _json_object_format]

    def warm_up(self, prompts: Sequence[list[dict[str, str]]] = ()) -> None:
        """Servers load their models and keep their prompt caches themselves; nothing to do here."""

    def stream(self, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> Iterator[str]:
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        while True:
            options = self._options(schema, max_tokens)
            try:
                for response in self.llm.stream_chat(chat, **options):
                    if response.delta:
                        yield response.delta
                return
            except Exception as error:
                if _is_rejected_format(error) and schema and self._formats:
                    log.info("%s rejected response format %s; trying the next", self.description, self._formats[0])
                    self._formats.pop(0)
                    continue
                if not _is_backend_error(error):
                    raise
                raise LLMUnavailableError(f"the LLM server ({self.description}) failed: {_reason(error)}") from error

    def judge(self, messages: list[dict[str, str]], yes: str, no: str) -> float:
        """1.0 when the server's one-word reply (held to ``yes`` or ``no`` where it can be) is ``yes``,
        else 0.0: a server's reply carries no probability."""
        schema = {
            "type": "object",
            "properties": {"verdict": {"type": "string", "enum": [yes, no]}},
            "required": ["verdict"],
        }
        raw = "".join(self.stream(messages, schema, 32)).lower()
        verdict = next((word for word in re.findall(r"[^\W\d_]+", raw) if word in (yes, no)), no)
        return 1.0 if verdict == yes else 0.0

    def _options(self, schema: dict | None, max_tokens: int) -> dict[str, Any]:
        # A server holds a quote to a string only; the answering chain checks it against its sentence.
        schema = without_quotes(schema)
        if self.kind == "ollama":
            return {"format": schema} if schema else {}
        options: dict[str, Any] = {"max_tokens": max_tokens}
        if schema and self._formats:
            options["response_format"] = self._formats[0](schema)
        return options


def _json_schema_format(schema: dict) -> dict[str, Any]:
    """OpenAI's structured output, also served by vLLM and llama.cpp's C++ server."""
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}


def _json_object_format(schema: dict) -> dict[str, Any]:
    """JSON mode with a schema: what llama-cpp-python's server understands."""
    return {"type": "json_object", "schema": schema}


def ollama_chat(model: str, base_url: str | None, timeout: float, max_tokens: int) -> LlamaIndexChat:
    from llama_index.llms.ollama import Ollama

    url = base_url or "http://127.0.0.1:11434"
    llm = Ollama(
        model=model,
        base_url=url,
        request_timeout=timeout,
        temperature=0.0,
        additional_kwargs={"num_predict": max_tokens},
    )
    return LlamaIndexChat(llm, "ollama", f"ollama {model} at {url}")


def openai_chat(model: str, base_url: str | None, api_key: str | None, timeout: float) -> LlamaIndexChat:
    from llama_index.llms.openai_like import OpenAILike

    url = base_url or "https://api.openai.com/v1"
    llm = OpenAILike(
        model=model,
        api_base=url,
        api_key=api_key or "none",
        is_chat_model=True,
        temperature=0.0,
        timeout=timeout,
        max_retries=1,
    )
    return LlamaIndexChat(llm, "openai", f"{model} at {url}")


def _is_backend_error(error: Exception) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError, OSError)):
        return True
    module = type(error).__module__.split(".")[0]
    return module in {"openai", "httpx", "httpcore", "ollama"}


def _is_rejected_format(error: Exception) -> bool:
    status = getattr(error, "status_code", None)
    # llama-cpp-python's server answers an unknown format with 500 and a validation message.
    return status == 422 or (status in (400, 500) and "response_format" in str(error).lower())


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]
