"""An archive kept in a Chroma server: indexing through the server, a server process's cold start, its
refresh after another process adds an article, and retrieval, against the same archive in a local folder.

    .venv/bin/python benchmarks/served.py [--articles 10000] [--questions 50] [--k 8] [--out-dir DIR]

A real ``chroma run`` is started on 127.0.0.1 in a temporary folder. The archive is a JSON Lines dump
of ``--articles`` articles from ``benchmarks/archive_dump.py``; vectors are random (``scale.py``'s
``RandomEmbedding``), so embedding is left out and what is measured is the storage. Each step runs in
its own process, so each peak RSS (VmHWM) is its own:

1. **index**: ``Index.update([dump])`` through the server, then the same into a local folder (the
   baseline): seconds and peak RSS.
2. **cold start**: a new process opens the index with nothing of it in memory, as ``qa serve`` starts:
   ``Index.snapshot()`` (everything read from the server, checked, BM25 built) and the first question.
3. **refresh**: in that process, another ``Index`` (another writer) adds one article; the seconds until
   the reader's ``snapshot()`` holds it (it reads only what changed, then rebuilds BM25).
4. **retrieval**: ``--questions`` questions of ``seeds/questions.jsonl`` through the retriever, p50/p95,
   served and local.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from archive_dump import write_dump
from common import RESULTS, percentile, question_sample, write_results
from scale import EMBEDDER_NAME, RandomEmbedding, _memory_mb, in_child

from index.store import Index, IndexConfig
from qa.settings import Settings

EXTRA = {"id": "benchmark-extra", "title": "Nachtrag", "text": "Der Nachtrag wurde am Montag veröffentlicht."}


def config(index_dir: Path, port: int | None) -> IndexConfig:
    served = {"chroma_host": "127.0.0.1", "chroma_port": port} if port else {}
    settings = Settings().replace(index_dir=index_dir, embed_model=EMBEDDER_NAME, **served)
    return IndexConfig.of(settings)


def build(dump: Path, index_dir: Path, port: int | None) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    embedder = RandomEmbedding()
    started = time.perf_counter()
    with Index(config(index_dir, port), embedder=embedder) as index:
        report = index.update([dump])
    return {
        "documents": report.documents,
        "sentences": report.sentences,
        "index_s": round(time.perf_counter() - started - embedder.passage_seconds, 1),
        "index_peak_rss_mb": _memory_mb("VmHWM"),
    }


def serve(index_dir: Path, port: int | None, extra: Path, questions: list[str], k: int) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    settings = Settings()
    started = time.perf_counter()
    index = Index(config(index_dir, port), embedder=RandomEmbedding())
    retriever = index.retriever(settings.candidate_chunks, settings.rrf_k, settings.lexical_weight)
    snapshot = index.snapshot()
    loaded = time.perf_counter()
    retriever.retrieve(questions[0], k, None, None)
    first = time.perf_counter()
    latencies = []
    for question in questions:
        asked = time.perf_counter()
        retriever.retrieve(question, k, None, None)
        latencies.append(1000 * (time.perf_counter() - asked))
    row = {
        "cold_start_s": round(loaded - started, 2),
        "first_question_ms": round(1000 * (first - loaded), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "serve_peak_rss_mb": _memory_mb("VmHWM"),
    }
    with Index(config(index_dir, port), embedder=RandomEmbedding(seed=1)) as writer:
        writer.update([extra])
    changed = time.perf_counter()
    wanted = f"{extra.stem}#{EXTRA['id']}"  # a dump's record is named by its file and id
    while wanted not in index.snapshot().documents:
        if time.perf_counter() - changed > 600:
            raise RuntimeError(f"the reader did not see {wanted}")
        time.sleep(0.01)
    row["refresh_s"] = round(time.perf_counter() - changed, 2)
    row["documents_after_refresh"] = len(index.snapshot().documents)
    del snapshot
    return row


def start_chroma(folder: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chroma = Path(sys.executable).parent / "chroma"
    log = (folder / "chroma.log").open("w")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(folder / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=log,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("chroma run did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    questions = question_sample(args.questions)
    with tempfile.TemporaryDirectory(prefix="qa-served-") as tmp:
        folder = Path(tmp)
        dump = folder / "archive.jsonl"
        written = write_dump(dump, args.articles)
        extra = folder / "extra.jsonl"
        extra.write_text(json.dumps(EXTRA, ensure_ascii=False) + "\n", encoding="utf-8")
        chroma, port = start_chroma(folder)
        rows = []
        try:
            for name, used in (("Chroma server", port), ("local folder", None)):
                index_dir = folder / ("unused" if used else "index")
                row = {"store": name, **in_child(build, dump, index_dir, used)}
                row |= in_child(serve, index_dir, used, extra, questions, args.k)
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            chroma.terminate()
            chroma.wait(30)
    summary = {"articles": written["articles"], "questions": len(questions), "k": args.k}
    write_results(f"served_{args.articles}", summary, rows, args.out_dir)


if __name__ == "__main__":
    main()
