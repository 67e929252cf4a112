"""The same index on a real Chroma server, started on 127.0.0.1 by the test."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from index.errors import StoreUnavailableError
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import free_port


def chroma_command() -> str:
    beside_python = Path(sys.executable).parent / "chroma"
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    assert found, "the chroma command comes with the chromadb package"
    return found


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    command = [chroma_command(), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1"]
    log = (tmp_path / "chroma.log").open("wb")
    server = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    client = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            client = chromadb.HttpClient(
                host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
            )
            client.heartbeat()
            break
        except Exception:
            client = None
            time.sleep(0.3)
    assert client is not None, (tmp_path / "chroma.log").read_text(errors="replace")
    yield port, client
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.mark.llm  # the English question is also searched in German, as the LLM translates it
@pytest.mark.server
def test_index_and_retrieve_through_a_chroma_server(tmp_path, corpus, chroma_server, monkeypatch):
    port, client = chroma_server
    monkeypatch.setenv("QA_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("QA_CHROMA_PORT", str(port))
    with Engine(Settings.load(index_dir=tmp_path / "index")) as engine:
        report = engine.index([corpus])
        assert report.documents == 5
        assert client.get_collection("qa_chunks").count() == report.chunks
        assert client.get_collection("qa_sentences").count() == report.sentences
        assert not (tmp_path / "index" / "chroma").exists()  # nothing went to a local store
        hits = engine.retrieve("Who views the rapprochement between Kim and Putin with concern?", k=3)
        expected = "Die US-Regierung und ihre asiatischen Verbündeten sehen die Annäherung von Kim und Putin mit Sorge."
        assert expected in [h.sentence for h in hits]
        again = engine.index([corpus])
        assert again.embedded_chunks == 0 and client.get_collection("qa_chunks").count() == report.chunks


def test_an_unreachable_server_gives_one_clear_error(tmp_path):
    settings = Settings.load(index_dir=tmp_path / "index", chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreUnavailableError, match=r"cannot open the Chroma server at 127\.0\.0\.1"):
        Engine(settings)
