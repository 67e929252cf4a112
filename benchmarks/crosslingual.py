"""Retrieval across languages, side by side in one run: every question of a set retrieved with an
English question's German form (query_translation "llm") and as asked ("off"), on one index and one
loaded model.

Writes recall@1/3/10 per language and over the facts asked in both languages (with the gap, German
minus English), and the seconds a question takes to retrieve, median per language, both ways. The
German form of every English question is in the rows, so a miss can be read.

    .venv/bin/python benchmarks/crosslingual.py [QUESTIONS.jsonl] [--corpus DIR] [--limit N] [--name NAME]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import SEEDS, chosen_questions, write_results
from tqdm import tqdm

from qa.engine import Engine, open_engine
from qa.evaluation.metrics import retrieval_hit
from qa.evaluation.pairs import pair_summary

KS = (1, 3, 10)
MODES = ("off", "llm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=SEEDS / "questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=SEEDS)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--name", default="crosslingual")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    questions = chosen_questions(args.questions, None, args.limit)
    with tempfile.TemporaryDirectory(prefix="qa-crosslingual-") as scratch:
        translating = open_engine(corpus=args.corpus, index_dir=Path(scratch) / "index", query_translation="llm")
        as_asked = Engine(translating.settings.replace(query_translation="off"), chat_model=translating.llm)
        engines = {"llm": translating, "off": as_asked}
        translating.ready_llm()
        for engine in engines.values():
            engine.search("Wer traf Kim?", k=10)  # loads the corpus snapshot and the embedder
        rows = [measure(engines, question) for question in tqdm(questions, desc="Retrieving", unit="question")]
        for engine in engines.values():
            engine.close()
    summary = summarise(rows)
    summary["questions_file"] = str(args.questions)
    summary["corpus"] = str(args.corpus)
    write_results(args.name, summary, [_flat(row) for row in rows])


def measure(engines: dict[str, Engine], question: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": question["id"], "language": question["language"], "expected": question}
    for mode in MODES:
        started = time.perf_counter()
        found = engines[mode].search(question["question"], k=max(KS))
        row[f"seconds_{mode}"] = time.perf_counter() - started
        hits = [hit.to_dict() for hit in found.hits]
        metrics = {f"retrieval_recall@{k}": retrieval_hit(hits, question["gold"], k) for k in KS}
        row[f"metrics_{mode}"] = metrics if question["answerable"] else {}
        if mode == "llm":
            row["german"] = found.query.german
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"questions": len(rows)}
    for mode in MODES:
        scored = [{**row, "metrics": row[f"metrics_{mode}"]} for row in rows]
        for language in ("de", "en"):
            group = [row for row in scored if row["language"] == language]
            for k in KS:
                summary[f"{mode} {language} recall@{k}"] = _mean(
                    row["metrics"].get(f"retrieval_recall@{k}") for row in group
                )
            seconds = [row[f"seconds_{mode}"] for row in group]
            summary[f"{mode} {language} seconds, median"] = round(statistics.median(seconds), 3) if seconds else None
        pairs = pair_summary(scored)
        summary["pairs"] = pairs["pairs"]
        for k in KS:
            figure = f"retrieval_recall@{k}"
            summary[f"{mode} pairs de / en / gap @{k}"] = [
                pairs["de"][figure],
                pairs["en"][figure],
                pairs["gap"][figure],
            ]
    return summary


def _mean(values: Any) -> float | None:
    present = [float(value) for value in values if value is not None]
    return round(sum(present) / len(present), 4) if present else None


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    flat = {"id": row["id"], "language": row["language"], "german": row.get("german")}
    for mode in MODES:
        flat[f"seconds_{mode}"] = round(row[f"seconds_{mode}"], 3)
        flat |= {f"{key}_{mode}": value for key, value in row[f"metrics_{mode}"].items()}
    return flat


if __name__ == "__main__":
    main()
