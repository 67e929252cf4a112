"""LLM servers: the OpenAI-compatible backend against a real llama.cpp server started on 127.0.0.1
with the embedded model, and clear errors when a server is down, silent or misconfigured."""

import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from qa.engine import Engine
from qa.evaluation.metrics import answer_correct, gold_cited
from qa.llm import LLMUnavailableError, make_llm
from qa.llm.model_file import ensure_model
from qa.settings import Settings, SettingsError
from tests.conftest import free_port, seed_questions

QUESTIONS = seed_questions()


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(ensure_model()),
        "--model_alias",
        "qwen",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"llama_cpp.server did not start; see {log.name}")
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.llm  # the llama.cpp server runs the embedded model
@pytest.mark.server
# A year asked in German and in English. de-20 ("1.000 Container") is not used: the model's answer to it
# is a close call that the cold server gets wrong on AVX-512 machines and right once it holds the
# prompt's start (llama.cpp evaluates the prompt in other batches then, and the sums differ).
@pytest.mark.parametrize("question_id", ["de-22", "en-22"])
def test_openai_compatible_server_answers_with_gold_citation(seed_engine, llama_server, question_id):
    settings = seed_engine.settings.replace(llm="openai", llm_model="qwen", llm_base_url=llama_server)
    engine = Engine(settings)
    try:
        question = QUESTIONS[question_id]
        answer = engine.ask(question["question"])
        assert "qwen" in engine.llm.description
        assert answer.answerable and answer_correct(answer.text, question["answers"]), answer.text
        cited = [(c.doc_id, c.sentence) for c in answer.citations]
        assert gold_cited(cited, [(g["doc"], g["sentence"]) for g in question["gold"]])
    finally:
        engine.close()


@pytest.mark.parametrize("backend", ["openai", "ollama"])
def test_a_server_that_is_down_gives_one_clear_error(seed_engine, backend):
    url = f"http://127.0.0.1:{free_port()}" + ("/v1" if backend == "openai" else "")
    engine = Engine(seed_engine.settings.replace(llm=backend, llm_model="any", llm_base_url=url))
    try:
        with pytest.raises(LLMUnavailableError, match="LLM server"):
            engine.ask("Wie lange traf Lawrow Kim?")
    finally:
        engine.close()


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_does_not_answer_times_out(seed_engine, silent_server):
    settings = seed_engine.settings.replace(llm="openai", llm_model="any", llm_base_url=silent_server, llm_timeout=1.0)
    engine = Engine(settings)
    started = time.monotonic()
    try:
        with pytest.raises(LLMUnavailableError, match=r"(?i)timed out|timeout"):
            engine.ask("Wie lange traf Lawrow Kim?")
    finally:
        engine.close()
    assert time.monotonic() - started < 30


def test_missing_gguf_file_and_missing_model_name_are_clear_errors(tmp_path):
    with pytest.raises(LLMUnavailableError, match="does not exist"):
        make_llm(Settings.load(llm="gguf", llm_model=str(tmp_path / "none.gguf"))).warm_up()
    with pytest.raises(SettingsError, match="QA_LLM_MODEL"):
        Settings.load(llm="ollama")
    with pytest.raises(SettingsError, match="embedded, gguf, ollama, openai"):
        Settings.load(llm="gpt")
