import json
import logging
import shutil
from pathlib import Path

import pytest

from qa.engine import Engine
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"

logging.getLogger("bm25s").setLevel(logging.WARNING)


def retrieval_questions(name: str = "retrieval_questions.jsonl") -> list[dict]:
    """Questions with the seed sentence that answers them: the acceptance set by default, or
    ``retrieval_dev_questions.jsonl``, the set the ranking weights were chosen on."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class ScriptedModel:
    """A chat model that gives its replies in turn, in pieces, and records the messages it was sent."""

    description = "scripted"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.calls: list[list[dict]] = []

    def warm_up(self, prompts=()) -> None:
        pass

    def stream(self, messages, schema, max_tokens):
        self.calls.append(messages)
        reply = self.replies.pop(0)
        for i in range(0, len(reply), 4):
            yield reply[i : i + 4]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the seeds that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target


def seed_questions() -> dict[str, dict]:
    """The fixed question set, by id."""
    lines = (SEEDS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return {q["id"]: q for q in map(json.loads, filter(str.strip, lines))}


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine over an index of the seeds, built once with the real default embedder; its LLM
    (the embedded model) loads on first use and is shared by every test that answers."""
    engine = Engine(Settings.load(index_dir=tmp_path_factory.mktemp("seed-index")))
    engine.index([SEEDS])
    yield engine
    engine.close()
