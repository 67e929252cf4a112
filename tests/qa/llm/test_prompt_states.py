"""Evaluated prompt starts kept on disk: a restart reads them back instead of evaluating them, and
answers exactly as a model that evaluated them; a damaged file is ignored and written anew."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from qa.engine import Engine
from qa.llm.llamacpp import LlamaCppChat
from qa.llm.prompt_states import PromptStates
from tests.conftest import seed_questions

MESSAGES = [{"role": "system", "content": "Antworte kurz."}, {"role": "user", "content": "Frage:"}]


@pytest.fixture
def states(tmp_path) -> PromptStates:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(64))
    return PromptStates(tmp_path / "states", model, 4096)


def test_a_kept_state_comes_back_whole_and_belongs_to_its_prompt(states):
    tokens, state = np.arange(7, dtype=np.intc), bytes(range(256)) * 3
    assert states.load(MESSAGES) is None
    states.save(MESSAGES, tokens, state)
    loaded_tokens, loaded_state = states.load(MESSAGES)
    assert loaded_tokens.tolist() == tokens.tolist() and loaded_state == state
    other = [MESSAGES[0], {"role": "user", "content": "Question:"}]
    assert states.path(other) != states.path(MESSAGES) and states.load(other) is None
    assert not list(states.folder.glob("*.part"))


def test_a_damaged_or_altered_state_file_is_ignored(states, caplog):
    states.save(MESSAGES, np.arange(3, dtype=np.intc), b"state" * 100)
    path = states.path(MESSAGES)
    data = dict(np.load(path))
    data["state"] = np.frombuffer(b"STATE" * 100, dtype=np.uint8)  # the checksum no longer matches
    with open(path, "wb") as out:
        np.savez(out, **data)
    assert states.load(MESSAGES) is None and "checksum" in caplog.text
    path.write_bytes(b"not a state file")
    assert states.load(MESSAGES) is None and "damaged" in caplog.text


def test_a_folder_that_cannot_be_written_only_costs_time(tmp_path, caplog):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    states = PromptStates(blocked / "states", model, 4096)
    states.save(MESSAGES, np.arange(3, dtype=np.intc), b"state")
    assert states.load(MESSAGES) is None and "cannot keep the prompt state" in caplog.text


@pytest.mark.llm
def test_a_restart_reads_the_starts_back_and_answers_the_same(seed_engine, tmp_path):
    """Two models in turn, as two runs of a server: the first evaluates and keeps the starts, the second
    reads them back and gives the same answers."""
    questions = [seed_questions()[q]["question"] for q in ("de-08", "en-01")]
    answers, kept = [], []
    for _ in range(2):
        model = LlamaCppChat(seed_engine.llm.model_path, state_dir=tmp_path / "states")
        with Engine(seed_engine.settings, chat_model=model) as engine:
            answers.append([engine.ask(question).text for question in questions])
        kept.append(model.stored_starts)
        del engine, model
        gc.collect()
    starts = len(seed_engine.prompt_starts())
    assert kept == [0, starts]
    assert len(list((tmp_path / "states").glob("*.npz"))) == starts
    assert answers[0] == answers[1] and all(answers[0])
