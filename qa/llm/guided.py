"""Greedy decoding of a flat JSON object whose skeleton the code writes and the model only fills in.

A reply held to ``{"sources": [1, 3], "answer": "..."}`` is largely punctuation and field names. A
grammar sampler makes the model generate each of those tokens, a forward pass each, and checks the
whole vocabulary (150k tokens for Qwen) against the grammar at every step. Here the skeleton
(``{"sources":`` and ``, "answer": "``) is evaluated like the prompt, in one batch, and only the
values are generated. Each step takes the most likely token that keeps the value valid, trying the
candidates in the order of their logits: usually the first one passes. With greedy decoding that is
the token a grammar sampler would pick, at a fraction of the steps and of the work per step.

An array's opening bracket is left to the model: the tokenizer writes an empty array as one token
(`` []``), which the model would not produce after a forced `` [``. Everything that follows a value
up to the next value is forced; a token that closes a value and runs into that skeleton (``],``,
``."}``) is taken when its extra bytes agree with it.

A string may be held to a **quote**: a run of whole words copied from the text of one of the numbers
an earlier integer field chose (``{"type": "string", "x-quote": {"of": "sources", "texts": {"1": …}}}``).
Each step then only takes a token whose bytes continue such a run, and the closing quote only where a
word ends, so the model cannot write a quote that is not in the sentence it chose. When that field
chose nothing (the model's "the articles don't say"), the rest of the reply is written empty.

``FlatSchema.parse`` accepts the shape the engine uses (an object whose properties are all required
strings, quotes or arrays of integers, optionally from an enum) and returns None for any other, for
which the caller falls back to a grammar.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

#: Candidates tried per step before the whole vocabulary is sorted (rarely needed).
_FIRST_CANDIDATES = 64
#: The schema keyword of a quote field (ignored by JSON-schema validators, removed for servers).
QUOTE_KEY = "x-quote"
#: A quote starts at the text's start or after one of these; it ends before a non-word character.
_OPENERS = " (\"'„“‚‘«»/–-"


class TokenModel(Protocol):
    def prefill(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` as a new sequence, keeping what the model already holds of it; return
        the logits of the next token."""
        ...

    def feed(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` after those already evaluated; return the logits of the next token."""
        ...

    def tokenize(self, text: bytes) -> list[int]:
        """Tokens of a piece of the reply (no special tokens, no start-of-text token)."""
        ...

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for; empty for control tokens such as end-of-text."""
        ...


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    #: "string", "quote" (a string copied from a text) or "integers" (an array of integers)
    kind: str
    enum: tuple[int, ...] | None = None
    #: A quote's texts by number, and the integer field whose numbers choose among them.
    texts: tuple[tuple[int, str], ...] = ()
    quote_of: str | None = None

    @property
    def head(self) -> bytes:
        """The forced text before the value: the key, and a string's opening quote."""
        return json.dumps(self.name).encode() + (b":" if self.kind == "integers" else b': "')

    def reader(self, chosen: list[int] | None = None) -> _Reader | _QuoteReader:
        if self.kind == "quote":
            texts = dict(self.texts)
            return _QuoteReader([texts[n] for n in dict.fromkeys(chosen or ()) if n in texts])
        return _Reader(_string_step if self.kind == "string" else _integers_step, self.enum)


@dataclass(frozen=True, slots=True)
class FlatSchema:
    fields: tuple[Field, ...]

    @classmethod
    def parse(cls, schema: dict[str, Any] | None) -> FlatSchema | None:
        """The schema as fields in order, or None when it is not a flat object of required strings
        and integer arrays."""
        if not schema or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            return None
        properties: dict[str, Any] = schema["properties"]
        if not properties or set(schema.get("required", ())) != set(properties):
            return None
        fields = []
        for name, spec in properties.items():
            if spec == {"type": "string"}:
                fields.append(Field(name, "string"))
                continue
            quote = _quote_field(name, spec, [f.name for f in fields if f.kind == "integers"])
            if quote is not None:
                fields.append(quote)
                continue
            is_array = isinstance(spec, dict) and spec.get("type") == "array" and set(spec) <= {"type", "items"}
            items = spec.get("items") if is_array else None
            if not isinstance(items, dict) or items.get("type") != "integer" or set(items) - {"type", "enum"}:
                return None
            enum = items.get("enum")
            if enum is not None and not (enum and all(type(n) is int and n >= 0 for n in enum)):
                return None
            fields.append(Field(name, "integers", tuple(enum) if enum is not None else None))
        return cls(tuple(fields))

    def tail(self, position: int) -> bytes:
        """The forced text after value ``position``: up to the next value, or the closing brace."""
        if position + 1 == len(self.fields):
            return b"}"
        return b", " + self.fields[position + 1].head

    def empty_rest(self, position: int) -> bytes:
        """The reply from inside the string value ``position`` to its end, every value left empty."""
        out = b'"'
        for later in range(position, len(self.fields)):
            out += self.tail(later)
            if later + 1 < len(self.fields):
                out += b"[]" if self.fields[later + 1].kind == "integers" else b'"'
        return out


def _quote_field(name: str, spec: Any, integer_fields: list[str]) -> Field | None:
    """A quote field's spec: a string whose ``x-quote`` names an earlier integer field and gives the
    texts by number; None for any other spec."""
    if not isinstance(spec, dict) or set(spec) != {"type", QUOTE_KEY} or spec["type"] != "string":
        return None
    quote = spec[QUOTE_KEY]
    if not isinstance(quote, dict) or quote.get("of") not in integer_fields or not isinstance(quote.get("texts"), dict):
        return None
    texts = tuple((int(n), str(text)) for n, text in quote["texts"].items() if str(n).isdigit())
    return Field(name, "quote", texts=texts, quote_of=quote["of"])


def without_quotes(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema as plain JSON schema, for a server: each quote is a string (the code checks it)."""
    if not schema or not isinstance(schema.get("properties"), dict):
        return schema
    properties = {
        name: ({"type": "string"} if isinstance(spec, dict) and QUOTE_KEY in spec else spec)
        for name, spec in schema["properties"].items()
    }
    return {**schema, "properties": properties}


@dataclass(slots=True)
class Trace:
    """How sure the model was of its reply: the probability it gave an empty array where the first
    array value began (for the answer: no sources, the model's own "the articles don't say"), and
    the log-probability of each token it generated for a string value."""

    empty_array: float | None = None
    string_logprobs: list[float] = field(default_factory=list)
    #: The log-probability of each token of a quote, as the model chose it among the valid ones.
    quote_logprobs: list[float] = field(default_factory=list)


def decode(
    model: TokenModel, prompt: list[int], schema: FlatSchema, max_tokens: int, trace: Trace | None = None
) -> Iterator[str]:
    """Yield the reply as text: the skeleton as it is written and each value as the model generates it.
    Stops when the last value is closed, or after ``max_tokens`` generated tokens (the JSON is then
    cut off, as a grammar sampler's would be). ``trace``, when given, is filled in as it goes."""
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    head = b"{" + schema.fields[0].head
    logits = model.prefill(prompt + model.tokenize(head))
    yield text.decode(head)
    generated = 0
    chosen: dict[str, list[int]] = {}
    for position, field_ in enumerate(schema.fields):
        reader, tail = field_.reader(chosen.get(field_.quote_of or "")), schema.tail(position)
        last = position + 1 == len(schema.fields)
        first_step = True
        value = b""
        while True:
            if generated >= max_tokens:
                yield text.decode(b"", final=True)
                return
            token, piece, end = _best(model, logits, reader, tail, last)
            if trace is not None:
                _observe(trace, model, logits, token, field_.kind, first_step)
            first_step = False
            generated += 1
            value += piece if end is None else piece[:end]
            # Each piece is passed on before the model reads it: the caller gets it a forward pass sooner.
            if end is None:
                yield text.decode(piece)
                logits = model.feed([token])
                continue
            if last:
                yield text.decode(piece[:end] + tail, final=True)
                return
            if field_.kind == "integers":
                chosen[field_.name] = [int(n) for n in re.findall(rb"\d+", value)]
            rest = tail[len(piece) - end :]
            yield text.decode(piece + rest)
            following = schema.fields[position + 1]
            if following.kind == "quote" and not chosen.get(following.quote_of or ""):
                # Nothing chosen to quote from: the model's "the articles don't say", written empty.
                yield text.decode(schema.empty_rest(position + 1), final=True)
                return
            logits = model.feed([token, *model.tokenize(rest)])
            break


def _observe(trace: Trace, model: TokenModel, logits: np.ndarray, token: int, kind: str, first_step: bool) -> None:
    top = float(logits.max())
    log_total = top + float(np.log(np.exp(logits - top).sum()))
    if kind == "string":
        trace.string_logprobs.append(float(logits[token]) - log_total)
    elif kind == "quote":
        trace.quote_logprobs.append(float(logits[token]) - log_total)
    elif first_step and trace.empty_array is None:
        # An empty array is one token (" []"): the candidates whose bytes open and close it at once.
        empty = [int(t) for t in np.argsort(-logits)[:_FIRST_CANDIDATES] if model.piece(int(t)).strip() == b"[]"]
        trace.empty_array = float(np.exp(logits[empty] - log_total).sum()) if empty else 0.0


def _best(
    model: TokenModel, logits: np.ndarray, reader: _Reader | _QuoteReader, tail: bytes, last: bool
) -> tuple[int, bytes, int | None]:
    """The most likely token that continues the value validly: (token, its bytes, the index in them
    just past the byte that closes the value, or None while it stays open)."""
    first = np.argpartition(-logits, _FIRST_CANDIDATES)[:_FIRST_CANDIDATES]
    for order in (first[np.argsort(-logits[first])], np.argsort(-logits)):
        for token in order:
            piece = model.piece(int(token))
            end = reader.accepts(piece) if piece else False
            if end is False:
                continue
            if end is not None and not _agrees(piece[end:], tail, last):
                continue
            reader.take()
            return int(token), piece, end
    raise ValueError("no token of the vocabulary continues the JSON value")


def _agrees(beyond: bytes, tail: bytes, last: bool) -> bool:
    """Whether the bytes a closing token carries past its value agree with the skeleton after it."""
    return tail.startswith(beyond) or (last and beyond.strip() in (b"", b"}"))


class _Reader:
    """Follows one value byte by byte; ``step`` gives the next state, or None for an invalid byte."""

    def __init__(self, step: Any, enum: tuple[int, ...] | None):
        self._step = step
        self._allowed = frozenset(str(n) for n in enum) if enum is not None else None
        self._state: tuple = ("start", "")
        self._tried: tuple = self._state

    def accepts(self, piece: bytes) -> int | bool | None:
        """False if ``piece`` cannot continue the value; the index just past the byte that closes
        the value; or None when the value stays open after it. ``take`` then commits the piece."""
        state = self._state
        for index, byte in enumerate(piece):
            state = self._step(state, byte, self._allowed)
            if state is None:
                return False
            if state[0] == "closed":
                self._tried = state
                return index + 1
        self._tried = state
        return None

    def take(self) -> None:
        self._state = self._tried


class _QuoteReader:
    """Follows a quote: the bytes so far must be a run of whole words of one of ``texts`` (as they
    stand inside a JSON string), closed where a word ends. The state is the set of places in the
    texts where the run so far can continue."""

    def __init__(self, texts: list[str]):
        self._texts = [json.dumps(t, ensure_ascii=False)[1:-1].encode() for t in texts]
        self._ends = [_word_ends(t) for t in texts]
        self._state = frozenset((i, p) for i, t in enumerate(texts) for p in _word_starts(t))
        self._tried = self._state
        self._started = False
        self._tried_started = False

    def accepts(self, piece: bytes) -> int | bool | None:
        state, started = self._state, self._started
        for index, byte in enumerate(piece):
            if byte == ord('"'):
                if started and any(p in self._ends[i] for i, p in state):
                    self._tried, self._tried_started = state, True
                    return index + 1
                return False
            state = frozenset((i, p + 1) for i, p in state if p < len(self._texts[i]) and self._texts[i][p] == byte)
            if not state:
                return False
            started = True
        self._tried, self._tried_started = state, started
        return None

    def take(self) -> None:
        self._state, self._started = self._tried, self._tried_started


def _word_starts(text: str) -> list[int]:
    """Byte offsets (in the JSON-escaped text) where a quote may start: a word's first character."""
    return [_offset(text, i) for i, c in enumerate(text) if not c.isspace() and (i == 0 or text[i - 1] in _OPENERS)]


def _word_ends(text: str) -> frozenset[int]:
    """Byte offsets where a quote may end: after a non-space character that ends a word or number
    ("1,2" does not end after "1")."""
    ends = set()
    for j in range(1, len(text) + 1):
        if text[j - 1].isspace():
            continue
        nxt = text[j] if j < len(text) else ""
        inside_number = nxt in ".," and text[j - 1].isdigit() and j + 1 < len(text) and text[j + 1].isdigit()
        if not nxt or (not nxt.isalnum() and not inside_number):
            ends.add(_offset(text, j))
    return frozenset(ends)


def _offset(text: str, index: int) -> int:
    return len(json.dumps(text[:index], ensure_ascii=False).encode()) - 2


def _string_step(state: tuple, byte: int, _allowed: Any) -> tuple | None:
    """A JSON string's inside: no raw control characters, valid escapes, ended by an unescaped quote.
    States: ("start"|"text", 0), ("escape", 0), ("hex", hex digits still due)."""
    kind, due = state
    if kind == "escape":
        if byte == ord("u"):
            return ("hex", 4)
        return ("text", 0) if byte in b'"\\/bfnrt' else None
    if kind == "hex":
        if byte not in b"0123456789abcdefABCDEF":
            return None
        return ("text", 0) if due == 1 else ("hex", due - 1)
    if byte == ord('"'):
        # An empty string is no answer: the model has to write something first.
        return None if kind == "start" else ("closed", 0)
    if byte == ord("\\"):
        return ("escape", 0)
    return None if byte < 0x20 else ("text", 0)


def _integers_step(state: tuple, byte: int, allowed: frozenset[str] | None) -> tuple | None:
    """A JSON array of integers, from its opening bracket. States: ("start", "") before the bracket,
    ("first", "") after it, ("number", digits), ("after", "") past a number, ("comma", "")."""
    kind, digits = state
    char = chr(byte)
    if kind == "start":
        return ("first", "") if char == "[" else (state if char == " " else None)
    if char.isdigit() and kind in ("first", "comma", "number"):
        grown = digits + char
        if grown.startswith("0") and len(grown) > 1:
            return None
        if allowed is not None and not any(member.startswith(grown) for member in allowed):
            return None
        return ("number", grown)
    if kind == "number":  # the number ends here
        if not _member(digits, allowed):
            return None
        kind = "after"
    if char == " ":
        return (kind, "")
    if char == "," and kind == "after":
        return ("comma", "")
    if char == "]" and kind in ("first", "after"):
        return ("closed", "")
    return None


def _member(digits: str, allowed: frozenset[str] | None) -> bool:
    return bool(digits) and (allowed is None or digits in allowed)
