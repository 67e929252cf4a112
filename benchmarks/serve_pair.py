"""One ``qa serve`` against two, on one archive in a Chroma server, with an LLM server behind them:
questions answered per minute.


Started on 127.0.0.1: ``chroma run``; ``python -m llama_cpp.server`` with the embedded model (the
OpenAI-compatible LLM server); the seeds indexed through the Chroma server with ``qa index``. Then,
for one and for two ``qa serve`` processes (``QA_LLM=openai``, no local index folder), ``--clients``
clients post the same ``--questions`` seed questions to ``/api/ask``, the clients spread over the
servers in turn. The figure is answers per minute of wall time, with p50/p95 per answer.

On one machine the LLM server is the bottleneck, so a second ``qa serve`` adds capacity only where
the LLM server has it to give (a GPU, parallel slots, or another machine); what this shows
here is that two servers on one archive answer alike and lose nothing against one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from common import RESULTS, ROOT, percentile, write_results
from served import start_chroma

from qa.llm.model_file import ensure_model

SEEDS = ROOT / "seeds"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=2, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def started(command: list[str], env: dict[str, str], ready: str, log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(ready, process)
            yield process
        finally:
            process.terminate()
            process.wait(60)


def ask_all(urls: list[str], questions: list[str], clients: int) -> dict[str, Any]:
    def ask(number: int) -> tuple[float, list]:
        url = urls[number % len(urls)]
        begun = time.perf_counter()
        reply = httpx.post(f"{url}/api/ask", json={"question": questions[number]}, timeout=900, trust_env=False)
        reply.raise_for_status()
        cited = [(c["doc_id"], c["sentence_index"]) for c in reply.json()["citations"]]
        return time.perf_counter() - begun, cited

    begun = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(ask, range(len(questions))))
    wall = time.perf_counter() - begun
    seconds = [s for s, _ in results]
    return {
        "answers_per_min": round(60 * len(questions) / wall, 2),
        "wall_s": round(wall, 1),
        "answer_p50_s": round(percentile(seconds, 50), 1),
        "answer_p95_s": round(percentile(seconds, 95), 1),
        "citations": [c for _, c in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    lines = (SEEDS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="qa-pair-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        chroma, chroma_port = start_chroma(folder)
        stack.callback(chroma.wait, 30)
        stack.callback(chroma.terminate)
        llm_port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        base |= {"NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        llm = [python, "-m", "llama_cpp.server", "--model", str(ensure_model()), "--model_alias", "qwen"]
        llm += ["--host", "127.0.0.1", "--port", str(llm_port), "--n_ctx", "4096"]
        stack.enter_context(started(llm, base, f"http://127.0.0.1:{llm_port}/v1/models", folder / "llm.log"))
        env = base | {
            "QA_CHROMA_HOST": "127.0.0.1",
            "QA_CHROMA_PORT": str(chroma_port),
            "QA_INDEX_DIR": str(folder / "unused"),
            "QA_LLM": "openai",
            "QA_LLM_MODEL": "qwen",
            "QA_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        }
        subprocess.run([python, "-m", "qa.cli", "index", str(SEEDS)], env=env, check=True, capture_output=True)
        rows = []
        for servers in (1, 2):
            with ExitStack() as serving:
                urls = []
                for n in range(servers):
                    port = free_port()
                    command = [python, "-m", "qa.cli", "serve", "--port", str(port)]
                    ready = f"http://127.0.0.1:{port}/api/health"
                    serving.enter_context(started(command, env, ready, folder / f"serve{servers}-{n}.log"))
                    urls.append(f"http://127.0.0.1:{port}")
                ask_all(urls, questions[:1], 1)  # each server's first answer warms its caches
                row = {"qa_serve_processes": servers, **ask_all(urls, questions, args.clients)}
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "citations"}), flush=True)
    # llama.cpp's reply to one prompt can differ with what its prompt cache holds (the order in which
    # the clients' questions reach it), so this counts the questions, rather than asserting none.
    differ = sum(a != b for a, b in zip(rows[0]["citations"], rows[1]["citations"], strict=True))
    for row in rows:
        del row["citations"]
    summary = {"questions": len(questions), "clients": args.clients, "questions_cited_otherwise": differ}
    write_results("serve_pair", summary, rows, args.out_dir)


if __name__ == "__main__":
    main()
