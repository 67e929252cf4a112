"""One archive in a real Chroma server, many processes: two ``qa serve`` with no local index folder answer
from what a third process, ``qa index``, writes through the same server. They follow its new
generations without a restart, and a run killed midway leaves them on the last complete one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    OFFLINE,
    SEEDS,
    ChromaServer,
    free_port,
    qa,
    read_progress,
    write_articles,
    write_extra_articles,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

SUNDAY = "Bis zu welchem Tag soll Lawrow laut russischen und nordkoreanischen Staatsmedien in Nordkorea zu Besuch sein?"
PUMPKIN = "Wie schwer war der schwerste Kürbis des Festes in Oberwiesental?"


@contextmanager
def qa_serve(env: dict[str, str]) -> Iterator[str]:
    """``qa serve`` in its own process, until it says where it listens."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | OFFLINE | env
    server = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=full, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if line.startswith("API: "):
                break
        assert lines and lines[-1].startswith("API: "), "".join(lines)
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keep the pipe drained
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(60)


def post(url: str, route: str, question: str) -> dict:
    reply = httpx.post(f"{url}{route}", json={"question": question}, timeout=600, trust_env=False)
    assert reply.status_code == 200, reply.text
    return reply.json()


def found(url: str, question: str) -> list[tuple[str, int]]:
    return [(hit["doc_id"], hit["sentence_index"]) for hit in post(url, "/api/retrieve", question)["hits"]]


def articles(url: str) -> int:
    return httpx.get(f"{url}/api/health", timeout=60, trust_env=False).json()["articles"]


def eventually(check: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the servers did not follow the index's new generation"
        time.sleep(0.5)


def kill_midway(corpus: Path, env: dict[str, str], vectors: int) -> None:
    """``qa index`` killed with SIGKILL once its progress bar shows ``vectors`` sentence vectors written."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | OFFLINE | env
    process = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", str(corpus)], env=full, stderr=subprocess.PIPE)
    seen: list[int] = []
    threading.Thread(target=read_progress, args=(process.stderr, seen), daemon=True).start()
    deadline = time.monotonic() + 300
    while not (seen and seen[-1] >= vectors) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the indexing run ended before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.llm  # each qa serve loads the embedded model as it starts
def test_two_servers_without_a_local_index_share_one_archive_through_its_generations(
    tmp_path, chroma_server: ChromaServer
):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl"))
    nowhere = tmp_path / "no-index-here"
    env = chroma_server.env("shared") | {"QA_INDEX_DIR": str(nowhere)}

    indexed = qa("index", str(corpus), env=env)
    assert indexed.returncode == 0, indexed.stderr
    with qa_serve(env) as first, qa_serve(env) as second:
        # Both answer, with the same citations, from the archive the server holds.
        answers = [post(url, "/api/ask", SUNDAY) for url in (first, second)]
        cited = [[(c["doc_id"], c["sentence_index"]) for c in answer["citations"]] for answer in answers]
        assert cited[0] and cited[0] == cited[1] and ("001_1d0c2a484e463a8b", 20) in cited[0]
        assert all("Sonntag" in answer["text"] for answer in answers)
        before = found(first, SUNDAY)
        assert found(second, SUNDAY) == before and articles(first) == articles(second) == 5

        # An article added by another run reaches both, without a restart.
        write_articles(corpus, ["kuerbis"])
        added = qa("index", str(corpus), env=env)
        assert added.returncode == 0, added.stderr
        eventually(lambda: all(found(url, PUMPKIN)[0][0] == "kuerbis" for url in (first, second)))
        assert articles(first) == articles(second) == 6

        # A run killed midway leaves both on the last complete generation; the next run completes it.
        write_extra_articles(corpus, 30)
        kill_midway(corpus, env, vectors=96)
        for url in (first, second):
            assert articles(url) == 6 and found(url, SUNDAY) == before and found(url, PUMPKIN)[0][0] == "kuerbis"
        resumed = qa("index", str(corpus), env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert "30 added" in resumed.stdout, resumed.stdout
        eventually(lambda: articles(first) == articles(second) == 36)
        assert found(first, SUNDAY) == found(second, SUNDAY)
    assert not nowhere.exists()
