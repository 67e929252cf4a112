"""The README's examples, run as written: the command line, the Python API, the HTTP API and the chat
command. An example is the fenced block right after an ``<!-- example: NAME -->`` comment in
README.md, so editing the README changes what runs here. Everything runs offline, with the index in
the test's temporary folder."""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from index.language import detect_language
from tests.conftest import OFFLINE, ROOT, SEEDS, free_port

README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: The qa command of the environment the tests run in.
QA = Path(sys.executable).parent / "qa"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*\n```(?P<language>\w*)\n(?P<body>.*?)\n```", re.S)
#: A citation as `qa ask` prints it: "      <doc id>, sentence <n>: <the sentence>".
PRINTED_CITATION = re.compile(r"^\s+(?P<doc>\S+), sentence (?P<index>\d+): (?P<sentence>.+)$", re.M)
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
SEED_TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt")}


def example(name: str, language: str) -> str:
    """The body of the README's example ``name``, which must be a ``language`` block."""
    found = {m["name"]: (m["language"], m["body"]) for m in EXAMPLE.finditer(README.read_text(encoding="utf-8"))}
    assert name in found, f"README.md has no block after <!-- example: {name} -->"
    assert found[name][0] == language, f"the README's {name} example is not a ```{language} block"
    return found[name][1]


def commands(block: str) -> list[list[str]]:
    """A shell block's commands as argument lists: continuation lines joined, comments and a
    trailing ``&`` dropped."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words.pop()
        if words:
            found.append(words)
    return found


def environment(index_dir: Path) -> dict[str, str]:
    """Offline, no setting of the caller's, and the index in ``index_dir``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("QA_")}
    return env | OFFLINE | {"TRANSFORMERS_OFFLINE": "1", "QA_INDEX_DIR": str(index_dir)}


def run_qa(words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A README command line (``qa ...``) with this environment's qa, from the repository root (where
    the README's relative paths, such as ``seeds``, point)."""
    assert words[0] == "qa", f"not a qa command: {shlex.join(words)}"
    return subprocess.run(
        [str(QA), *words[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def assert_in_a_seed(doc_id: str, sentence: str) -> None:
    assert doc_id in SEED_TEXTS, f"{doc_id} is not a seed article"
    assert sentence in SEED_TEXTS[doc_id], f"not verbatim in {doc_id}: {sentence}"


def index_the_seeds_as_the_readme_does(env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    indexed = [run_qa(words, env) for words in commands(example("cli", "sh")) if words[:2] == ["qa", "index"]]
    assert indexed, "the README's cli example has no qa index command"
    for result in indexed:
        assert result.returncode == 0, result.stderr
    return indexed


def test_the_readme_is_short_and_links_every_docs_page_and_every_link_resolves():
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    pages = sorted(DOCS.glob("*.md"))
    assert pages
    linked = {(README.parent / m["target"].split("#")[0]).resolve() for m in MARKDOWN_LINK.finditer(readme)}
    assert [page.name for page in pages if page.resolve() not in linked] == []
    for source in [README, *pages]:
        for match in MARKDOWN_LINK.finditer(source.read_text(encoding="utf-8")):
            target = match["target"]
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (source.parent / path).resolve() if path else source
            assert file.exists(), f"{source.name}: {target} does not exist"
            if anchor and file.suffix == ".md":
                assert anchor in anchors(file), f"{source.name}: {target} names no heading of {file.name}"


def anchors(page: Path) -> set[str]:
    """The anchors a Markdown viewer gives the page's headings (GitHub's rule)."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"#{1,6} (.+)", line):
            text = re.sub(r"[^\w\- ]", "", heading[1].strip().lower())
            found.add(text.replace(" ", "-"))
    return found


def test_the_chat_example_names_a_command_that_exists(tmp_path):
    (command,) = commands(example("chat", "sh"))
    assert command[:2] == ["qa", "chat"]
    shown = run_qa([*command[:2], "--help"], environment(tmp_path / "index"))
    assert shown.returncode == 0, shown.stderr
    for option in (word.split("=")[0] for word in command[2:] if word.startswith("--")):
        assert option in shown.stdout, f"qa chat has no option {option}"


@pytest.mark.llm
def test_the_cli_example_indexes_the_seeds_and_answers_with_a_verbatim_citation(tmp_path):
    env = environment(tmp_path / "index")
    for result in index_the_seeds_as_the_readme_does(env):
        assert "5 documents" in result.stdout, result.stdout
    assert any((tmp_path / "index").iterdir())
    asks = [words for words in commands(example("cli", "sh")) if words[:2] == ["qa", "ask"]]
    assert asks, "the README's cli example has no qa ask command"
    for words in asks:
        asked = run_qa(words, env)
        assert asked.returncode == 0, asked.stderr
        answer = asked.stdout.splitlines()[0]
        assert "[1]" in answer, asked.stdout
        citations = list(PRINTED_CITATION.finditer(asked.stdout))
        assert citations, asked.stdout
        for citation in citations:
            assert_in_a_seed(citation["doc"], citation["sentence"])


@pytest.mark.llm
def test_the_python_example_answers_with_a_verbatim_citation(tmp_path, monkeypatch, capsys):
    for name in [name for name in os.environ if name.startswith("QA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # anything the example writes by a relative path lands here
    block = example("python", "python")
    namespace: dict = {}
    try:
        exec(compile(block, "README.md, the python example", "exec"), namespace)
    finally:
        if "engine" in namespace:
            namespace["engine"].close()
    answer = namespace["answer"]
    assert answer.answerable and answer.citations, answer.text
    assert "[1]" in answer.text
    asked = re.search(r'\.ask\("([^"]+)"', block)
    assert asked, "the README's python example asks no question"
    assert answer.language == detect_language(asked[1])
    if answer.language == "en":  # written in English from German sentences, not a copy of one
        assert all(citation.sentence not in answer.text for citation in answer.citations)
    for citation in answer.citations:
        assert_in_a_seed(citation.doc_id, citation.sentence)
    printed = capsys.readouterr().out
    assert answer.text in printed and answer.citations[0].sentence in printed
    assert any((tmp_path / "index").iterdir())


def curl_request(words: list[str]) -> tuple[str, str, dict[str, str], str | None]:
    """Method, URL, headers and body of a curl command line."""
    assert words[0] == "curl"
    method, url, headers, body = None, None, {}, None
    arguments = iter(words[1:])
    for argument in arguments:
        if argument in ("-H", "--header"):
            name, _, value = next(arguments).partition(":")
            headers[name.strip()] = value.strip()
        elif argument in ("-d", "--data", "--data-raw"):
            body = next(arguments)
        elif argument in ("-X", "--request"):
            method = next(arguments)
        elif not argument.startswith("-"):
            url = argument
    assert url, shlex.join(words)
    return method or ("POST" if body is not None else "GET"), url, headers, body


def wait_until_serving(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"qa serve stopped with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    pytest.fail(f"qa serve did not answer within 600 s:\n{log.read_text()}")


@pytest.mark.llm
@pytest.mark.server
def test_the_http_example_serves_a_cited_answer(tmp_path):
    env = environment(tmp_path / "index")
    index_the_seeds_as_the_readme_does(env)
    steps = commands(example("http", "sh"))
    serve = next(words for words in steps if words[:2] == ["qa", "serve"])
    method, url, headers, body = curl_request(next(words for words in steps if words[0] == "curl"))
    readme_port = serve[serve.index("--port") + 1]
    assert urlsplit(url).port == int(readme_port), "the README's curl asks another port than qa serve's"
    port = free_port()
    serve[serve.index("--port") + 1] = str(port)
    url = urlsplit(url)._replace(netloc=f"127.0.0.1:{port}").geturl()
    base = f"http://127.0.0.1:{port}"

    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen([str(QA), *serve[1:]], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(server, base, log)
        reply = httpx.request(method, url, headers=headers, content=body, timeout=900, trust_env=False)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["answerable"] and answer["citations"], answer
        assert "[1]" in answer["text"]
        assert answer["language"] == detect_language(json.loads(body)["question"])
        for citation in answer["citations"]:
            assert_in_a_seed(citation["doc_id"], citation["sentence"])
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(60)
