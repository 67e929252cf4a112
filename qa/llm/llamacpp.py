"""A GGUF model run in-process by llama.cpp: the embedded default, or any local GGUF path.

The output is held to the answer's JSON schema by llama.cpp's grammar sampler. One model serves
every thread; a lock serialises generation, and llama.cpp reuses the evaluated prompt prefix
(system prompt and few-shot turns) from one call to the next.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)


class LlamaCppChat:
    def __init__(self, model_path: Path, n_ctx: int = 4096, n_threads: int = 0, description: str | None = None):
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self.description = description or f"llama.cpp {self.model_path.name}"
        self._llama: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> Any:
        if self._llama is None:
            if not self.model_path.is_file():
                raise LLMUnavailableError(f"the GGUF model file {self.model_path} does not exist")
            try:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    seed=0,
                    verbose=False,
                )
            except ImportError as error:
                raise LLMUnavailableError("llama-cpp-python is not installed; run 'pip install -e .'") from error
            except (ValueError, RuntimeError) as error:
                raise LLMUnavailableError(f"llama.cpp cannot load {self.model_path}: {error}") from error
            log.info("loaded %s with %d threads", self.model_path, self.n_threads)
        return self._llama

    def stream(self, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> Iterator[str]:
        with self._lock:
            llama = self._load()
            response_format = {"type": "json_object", "schema": schema} if schema else None
            try:
                chunks = llama.create_chat_completion(
                    messages=messages,
                    response_format=response_format,
                    temperature=0.0,
                    max_tokens=max_tokens,
                    stream=True,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as error:
                raise LLMUnavailableError(f"llama.cpp could not answer: {error}") from error
