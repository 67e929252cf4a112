"""A GGUF model run in-process by llama.cpp: the embedded default, or any local GGUF path.

The output is held to the answer's JSON schema: flat schemas, such as the answer's and the
follow-up rewrite's, by ``qa.llm.guided`` (the skeleton is forced, only the values are generated),
any other by llama.cpp's grammar sampler. One model serves every thread; a lock serialises
generation, and llama.cpp reuses the evaluated prompt prefix (system prompt and few-shot turns) from
one call to the next. ``warm_up`` can also evaluate the fixed start of each prompt once and keep its
state, so a prompt of another kind or language (a follow-up's rewrite between two answers, German
after English) starts from its own prefix instead of evaluating it again.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.llm.errors import LLMUnavailableError
from qa.llm.guided import FlatSchema, Trace, decode, without_quotes
from qa.llm.prompt_states import PromptStates

log = logging.getLogger(__name__)


Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class _Prefix:
    """The evaluated state of a prompt's fixed start: its messages, its tokens and llama.cpp's state."""

    messages: tuple[tuple[str, str], ...]
    tokens: np.ndarray
    state: bytes


class LlamaCppChat:
    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int = 0,
        description: str | None = None,
        state_dir: Path | None = None,
    ):
        self.model_path = Path(model_path)
        #: Where evaluated prompt starts are kept between runs (``qa.llm.prompt_states``); None: nowhere.
        self.state_dir = state_dir
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self.description = description or f"llama.cpp {self.model_path.name}"
        self._llama: Any = None
        self._tokens: _LlamaTokens | None = None
        self._lock = threading.Lock()
        self._prefixes: list[_Prefix] = []
        #: The trace of the last guided reply, per thread: each thread reads its own answer's.
        self._traces = threading.local()
        #: How often a kept prefix state replaced evaluating the prompt's start.
        self.prefix_hits = 0
        #: How many prompt starts were read from ``state_dir`` instead of being evaluated.
        self.stored_starts = 0

    def warm_up(self, prompts: Sequence[Messages] = ()) -> None:
        """Load the model; evaluate each of ``prompts`` (a prompt's fixed start) and keep its state."""
        with self._lock:
            llama = self._load()
            kept = {prefix.messages for prefix in self._prefixes}
            states = PromptStates(self.state_dir, self.model_path, self.n_ctx) if self.state_dir else None
            for messages in prompts:
                if _key(messages) in kept:
                    continue
                stored = states.load(messages) if states else None
                if stored is None:
                    llama.create_chat_completion(messages=messages, temperature=0.0, max_tokens=1)
                    stored = llama.input_ids[: llama.n_tokens].copy(), _state(llama)
                    if states:
                        states.save(messages, *stored)
                else:
                    self.stored_starts += 1
                self._prefixes.append(_Prefix(_key(messages), *stored))

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
                    # llama.cpp repacks the weights for the CPU anyway; reading them instead of mapping
                    # the file keeps one copy in memory, not two (about 600 MB less).
                    use_mmap=False,
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
            self._start_from_prefix(llama, messages)
            flat = FlatSchema.parse(schema)
            # A GGUF without a chat template is formatted by llama-cpp-python's own rules instead.
            if flat is not None and "tokenizer.chat_template" in llama.metadata:
                if self._tokens is None:
                    self._tokens = _LlamaTokens(llama)
                trace = self._traces.last = Trace()
                try:
                    yield from decode(self._tokens, self._tokens.prompt(messages), flat, max_tokens, trace)
                except (ValueError, RuntimeError) as error:
                    raise LLMUnavailableError(f"llama.cpp could not answer: {error}") from error
                return
            self._traces.last = None
            plain = without_quotes(schema)
            response_format = {"type": "json_object", "schema": plain} if plain else None
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

    def reply_trace(self) -> Trace | None:
        """How sure the model was of the last reply streamed in this thread; None without one."""
        return getattr(self._traces, "last", None)

    def judge(self, messages: Messages, yes: str, no: str) -> float:
        """The probability that the assistant's next reply starts with ``yes`` rather than ``no``; the
        prompt starts from its kept fixed start, as an answer's does."""
        with self._lock:
            llama = self._load()
            if "tokenizer.chat_template" not in llama.metadata:
                raise LLMUnavailableError(f"{self.model_path.name} has no chat template to ask a yes/no question with")
            if self._tokens is None:
                self._tokens = _LlamaTokens(llama)
            self._start_from_prefix(llama, messages)
            try:
                logits = self._tokens.prefill(self._tokens.prompt(messages))
            except (ValueError, RuntimeError) as error:
                raise LLMUnavailableError(f"llama.cpp could not answer: {error}") from error
            return _share(logits, self._tokens.first_tokens(yes), self._tokens.first_tokens(no))

    def _start_from_prefix(self, llama: Any, messages: Messages) -> None:
        """Start this prompt from the kept state of its fixed start, whatever the model held before: the
        rest of the prompt is then always evaluated in the same batches, so the same question gets
        the same reply whatever was asked before it (a prompt continued from a previous one's tokens
        is cut into other batches, which changes the last digits of the logits and now and then a
        close call). Restoring costs a copy of the state, a few milliseconds."""
        for prefix in self._prefixes:
            if _extends(messages, prefix.messages):
                _restore(llama, prefix)
                self.prefix_hits += 1
                return


class _LlamaTokens:
    """``guided.TokenModel`` over a loaded ``Llama``: the chat template as ``create_chat_completion``
    applies it, evaluation that keeps the prefix llama.cpp already holds, and the raw logits."""

    def __init__(self, llama: Any):
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama = llama
        self._api = llama_cpp
        eos, bos = llama.token_eos(), llama.token_bos()
        text_of = llama._model.token_get_text
        self._format = Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=text_of(eos) if eos != -1 else "",
            bos_token=text_of(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self._pieces: dict[int, bytes] = {}

    def prompt(self, messages: Messages) -> list[int]:
        result = self._format(messages=messages)
        return self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def first_tokens(self, word: str) -> list[int]:
        """The tokens a reply that starts with ``word`` can start with: as written and capitalised."""
        variants = {word, word.capitalize(), word.lower()}
        return sorted({self.tokenize(variant.encode("utf-8"))[0] for variant in variants})

    def prefill(self, tokens: list[int]) -> np.ndarray:
        llama = self._llama
        held = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        # At least one token is evaluated, for its logits.
        llama.n_tokens = min(held, len(tokens) - 1)
        return self.feed(tokens[llama.n_tokens :])

    def feed(self, tokens: list[int]) -> np.ndarray:
        llama = self._llama
        if llama.n_tokens + len(tokens) > llama.n_ctx():
            raise ValueError(f"the prompt and reply need more than the context of {llama.n_ctx()} tokens")
        llama.eval(tokens)
        logits = self._api.llama_get_logits_ith(llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),)).copy()

    def tokenize(self, text: bytes) -> list[int]:
        return self._llama.tokenize(text, add_bos=False, special=False)

    def piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            buffer = ctypes.create_string_buffer(256)
            size = self._api.llama_token_to_piece(self._llama._model.vocab, token, buffer, 256, 0, False)
            piece = self._pieces[token] = buffer.raw[: max(size, 0)]
        return piece


def _share(logits: np.ndarray, yes: list[int], no: list[int]) -> float:
    """P(yes) / (P(yes) + P(no)) from the next token's logits."""
    top = float(max(logits[yes].max(), logits[no].max()))
    p_yes = float(np.exp(logits[yes] - top).sum())
    p_no = float(np.exp(logits[no] - top).sum())
    return p_yes / (p_yes + p_no)


def _key(messages: Messages) -> tuple[tuple[str, str], ...]:
    return tuple((m["role"], m["content"]) for m in messages)


def _extends(messages: Messages, fixed: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``messages`` are ``fixed`` with only the last message's content continued."""
    if len(messages) != len(fixed) or _key(messages[:-1]) != fixed[:-1]:
        return False
    role, start = fixed[-1]
    return messages[-1]["role"] == role and messages[-1]["content"].startswith(start)


def _state(llama: Any) -> bytes:
    import llama_cpp

    size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buffer, size)
    return bytes(buffer)[:written]


def _restore(llama: Any, prefix: _Prefix) -> None:
    import llama_cpp

    buffer = (ctypes.c_uint8 * len(prefix.state)).from_buffer_copy(prefix.state)
    if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(prefix.state)) != len(prefix.state):
        raise LLMUnavailableError("llama.cpp could not restore a kept prompt state")
    count = len(prefix.tokens)
    llama.input_ids[:count] = prefix.tokens
    llama.n_tokens = count
    # The logits of the restored state are not kept: the next call evaluates at least one token.
    llama._requires_eval = True
