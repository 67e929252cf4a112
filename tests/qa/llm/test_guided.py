"""The schema-guided decoder against a scripted model: the skeleton is forced, values stay valid, the
model's preferred valid token wins. The real model runs it in tests/qa/answering/test_chain_real_model.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.answering import answer_schema
from qa.llm.guided import FlatSchema, decode, without_quotes

WORDS = [
    " [",
    " []",
    " [],",
    "[",
    "]",
    "],",
    ",",
    " ",
    "1",
    "2",
    "3",
    "7",
    "0",
    "Im",
    " April",
    ".",
    '."}',
    '"',
    '"}',
    "\n",
    "\\",
    "\\n",
    "\\u00fc",
    "\\x",
    "ber",
    "\u00fc",
    '"sources',
    '":',
    ' "',
    "answer",
    "{",
    "}",
    "q",
]


class ScriptedModel:
    """A vocabulary of the pieces above plus every single byte, and logits that rank, at each
    generated step, the listed pieces first (in that order), everything else far below."""

    def __init__(self, script: list[list[str | bytes]]):
        self.vocab = [w.encode() for w in WORDS] + [bytes([b]) for b in range(256)] + [b""]
        self.ids = {piece: i for i, piece in reversed(list(enumerate(self.vocab)))}
        self.script = list(script)
        self.fed: list[list[int]] = []

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self.feed(tokens)

    def feed(self, tokens: list[int]) -> np.ndarray:
        self.fed.append(list(tokens))
        logits = np.full(len(self.vocab), -10.0, dtype=np.float32)
        logits[-1] = 5.0  # the end-of-text token: preferred, never valid inside a value
        ranking = self.script.pop(0) if self.script else []
        for rank, word in enumerate(ranking):
            logits[self.ids[word if isinstance(word, bytes) else word.encode()]] = 10.0 - rank
        return logits

    def tokenize(self, text: bytes) -> list[int]:
        tokens, i = [], 0
        while i < len(text):
            piece = max((p for p in self.ids if p and text.startswith(p, i)), key=len)
            tokens.append(self.ids[piece])
            i += len(piece)
        return tokens

    def piece(self, token: int) -> bytes:
        return self.vocab[token]


#: The offered sentences, as the prompt shows them: a quote is copied from the ones chosen.
SENTENCES = ["Im April kamen 1,2 Millionen.", "Jens Meier sprach.", "Kim kam."]


def run(script: list[list[str | bytes]], max_tokens: int = 50) -> tuple[str, ScriptedModel]:
    model = ScriptedModel(script)
    schema = FlatSchema.parse(answer_schema(SENTENCES))
    assert schema is not None
    return "".join(decode(model, [999], schema, max_tokens)), model


def test_skeleton_is_forced_and_values_generated():
    reply, model = run([[" ["], ["1"], ["],"], ["Im"], [" April"], ['"'], ["Im"], [" April"], ['."}']])
    assert reply == '{"sources": [1], "quote": "Im April", "answer": "Im April."}'
    assert json.loads(reply) == {"sources": [1], "quote": "Im April", "answer": "Im April."}
    # The prompt and the skeleton go in together; the closing "]," brings the rest of the skeleton.
    assert model.fed[0][0] == 999 and model.tokenize(b'{"sources":') == model.fed[0][1:]
    assert model.fed[3] == [model.ids[b"],"], *model.tokenize(b' "quote": "')]
    assert model.fed[6] == [model.ids[b'"'], *model.tokenize(b', "answer": "')]


def test_each_piece_is_passed_on_before_the_model_reads_it():
    model = ScriptedModel([[" ["], ["1"], ["],"], ["Im"], ['"'], ["Im"], ['."}']])
    schema = FlatSchema.parse(answer_schema(SENTENCES))
    assert schema is not None
    pieces = decode(model, [999], schema, 50)
    seen = [next(pieces) for _ in range(5)]
    # prefill, " [", "1", "]," with the skeleton: "Im" is out, and the model has not been fed it yet
    assert "".join(seen).endswith('"quote": "Im') and len(model.fed) == 4
    next(pieces)
    assert model.fed[4] == [model.ids[b"Im"]]


def test_invalid_preferences_are_passed_over():
    script = [
        ["q", " ["],  # no letters before the bracket
        ["7", "0", "2"],  # 7 is not offered, a leading 0 is no number
        [" ", ","],
        ["]", ","],  # "2 ]" closes
        ['"', "Im", b"J"],  # no empty quote; "Im" is not in sentence 2
        [b"e"],
        [b"n", '"'],
        ['"', b"s"],  # not closed inside a word
        ['"'],
        ['"', "\n", "Im"],  # no empty answer, no raw newline
        ["\\x", "\\u00fc", "."],  # an invalid escape; a valid one
        ['"}'],
    ]
    reply, _ = run(script)
    assert json.loads(reply) == {"sources": [2], "quote": "Jens", "answer": "Im\u00fc"}


def test_a_quote_is_a_run_of_whole_words_of_a_chosen_sentence():
    script = [
        [" ["],
        ["1"],
        ["],"],
        [" April", b"K", b"x", "Im"],  # not a word's start; "Kim" is in a sentence not chosen; not in it
        [" ", '"'],
        [b"x", "Im", b"A"],
        [b"p"],
        ['"', b"r"],  # not inside a word
        [b"i"],
        [b"l"],
        ['"'],
        ["Im"],
        ['"}'],
    ]
    reply, _ = run(script)
    assert json.loads(reply) == {"sources": [1], "quote": "Im April", "answer": "Im"}


def test_a_reply_that_chooses_no_sentence_is_written_empty():
    reply, model = run([[" [],"], ["Im"], ['"']])
    assert json.loads(reply) == {"sources": [], "quote": "", "answer": ""}
    assert len(model.fed) == 1


def test_several_sources_and_enum_bound():
    reply, _ = run([[" ["], ["3"], [","], [" "], ["1"], ["]"], ["Im"], ['"'], ["Im"], ['"']])
    assert json.loads(reply) == {"sources": [3, 1], "quote": "Im", "answer": "Im"}
    with pytest.raises(ValueError, match="no token"):  # after the bracket, only 7, which is not offered
        model = ScriptedModel([[" ["]])
        model.vocab = [p if p in (b" [", b"7") else b"" for p in model.vocab]
        schema = FlatSchema.parse(answer_schema(SENTENCES))
        list(decode(model, [], schema, 10))


def test_stops_after_max_tokens_with_the_json_cut():
    reply, _ = run([[" ["], ["1"], ["]"], ["Im"], [" April"], [" April"], [" April"]], max_tokens=5)
    assert reply == '{"sources": [1], "quote": "Im April'


def test_multibyte_characters_split_across_tokens():
    first, second = "\u00fc".encode()
    reply, _ = run([[" ["], ["1"], ["],"], ["Im"], ['"'], ["Im"], [bytes([first])], [bytes([second])], ['"}']])
    assert json.loads(reply)["answer"] == "Im\u00fc"


def test_rewrite_schema_is_a_single_string():
    schema = FlatSchema.parse(
        {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}
    )
    model = ScriptedModel([["q"], ['"}']])
    assert schema is not None
    assert json.loads("".join(decode(model, [], schema, 10))) == {"question": "q"}


@pytest.mark.parametrize(
    "schema",
    [
        None,
        {"type": "array"},
        {"type": "object", "properties": {"a": {"type": "string"}}},  # not required
        {"type": "object", "properties": {"a": {"type": "object"}}, "required": ["a"]},
        {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}, "required": ["a"]},
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}, "required": ["a"]},
        {"type": "object", "properties": {}, "required": []},
    ],
)
def test_other_schemas_are_left_to_a_grammar(schema):
    assert FlatSchema.parse(schema) is None


def test_answer_schema_is_read_in_order():
    schema = FlatSchema.parse(answer_schema(SENTENCES))
    assert schema is not None
    assert [(f.name, f.kind, f.enum, f.quote_of) for f in schema.fields] == [
        ("sources", "integers", (1, 2, 3), None),
        ("quote", "quote", None, "sources"),
        ("answer", "string", None, None),
    ]
    assert dict(schema.fields[1].texts) == dict(enumerate(SENTENCES, start=1))


def test_a_server_gets_the_quote_as_a_plain_string():
    plain = without_quotes(answer_schema(SENTENCES))
    assert plain["properties"]["quote"] == {"type": "string"}
    assert plain["properties"]["sources"] == answer_schema(SENTENCES)["properties"]["sources"]


def test_the_backends_declare_their_optional_abilities_as_the_protocols_say():
    """llama.cpp traces its guided replies and judges; a server judges; a plain chat model does
    neither. Each backend's method has the protocol's signature."""
    import inspect
    from pathlib import Path

    from qa.llm import Judges, TracesReplies
    from qa.llm.llamacpp import LlamaCppChat
    from qa.llm.remote import LlamaIndexChat
    from tests.conftest import ScriptedModel

    embedded = LlamaCppChat(Path("absent.gguf"))
    server = LlamaIndexChat(None, "openai", "a server")
    assert isinstance(embedded, TracesReplies) and isinstance(embedded, Judges)
    assert isinstance(server, Judges) and not isinstance(server, TracesReplies)
    assert not isinstance(ScriptedModel(), Judges) and not isinstance(ScriptedModel(), TracesReplies)
    assert embedded.reply_trace() is None  # nothing streamed yet

    def parameters(method):
        return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]

    for protocol, backend in ((TracesReplies, LlamaCppChat), (Judges, LlamaCppChat), (Judges, LlamaIndexChat)):
        (name,) = (n for n in vars(protocol) if n in {"reply_trace", "judge"})
        assert parameters(getattr(backend, name)) == parameters(getattr(protocol, name))
