"""Retrieval latency over a growing archive, with and without filters: an index of N generated
articles with random vectors, searched through ``HybridRetriever.retrieve``.

    .venv/bin/python benchmarks/archive_scale.py [--articles 10000 [100000 ...]] [--questions 50] [--k 8]
        [--index DIR] [--keep DIR] [--profile] [--out-dir benchmarks/results]

For each size, ``benchmarks/archive_dump.py``'s generator writes a dump of that many articles (20
outlets over 2023–2024, agency copy, a few broken records), and ``Index.update`` indexes it as ``qa
index`` does (records, sentences, chunks, near-duplicate grouping, Chroma, the document store) with
random unit vectors in place of the embedding model (``scale.RandomEmbedding``): embedding is left
out, so the build is Chroma's and the document store's writes. ``--index DIR`` measures an index
built before (by ``--keep``) instead of building one.

The index is then opened in a new process, as ``qa chat`` opens it: the snapshot (corpus, BM25,
near-duplicate groups) is loaded and timed apart, then ``--questions`` questions of
``seeds/questions.jsonl`` go through ``HybridRetriever.retrieve(question, k, filter)`` under each
filter: none, one week, three months, one outlet, three months of that outlet. The query vector is
random too, drawn from the question's hash. Cold times are apart from the p50/p95: ``first_ms`` is
the very first question of the process (Chroma loads its HNSW indexes from disk), ``filter_first_ms``
the first question under each filter (it computes the filter's rows, which the snapshot keeps).
Every hit is checked against its filter (``hits_outside_filter`` must be 0).

Each step runs in its own process, so its peak resident set (VmHWM) is its own. The machine's load
while the questions ran is recorded beside the figures: the share of the cores other processes used
(``others_cpu_share``, from ``/proc/stat`` minus the step's own CPU time) and the load average.
``--profile`` prints where the filtered questions spend their time (cProfile, a second pass);
``--exact-rows 0`` sends every filter to the approximate search, as a filter that admits more than
``index.retrieval.EXACT_ROWS`` rows goes at 100,000 articles.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from archive import Load, _memory_mb, _quiet, folder_mb, in_child
from archive_dump import write_dump
from common import RESULTS, percentile, question_sample, write_results
from scale import EMBEDDER_NAME, RandomEmbedding

WARM_UP_QUESTION = "Wer traf Lawrow in Pjöngjang?"
OUTLET = "Leipziger Volksbote"
#: (name, since, until, outlets): the filters every size is searched under.
FILTERS: tuple[tuple[str, str | None, str | None, tuple[str, ...]], ...] = (
    ("none", None, None, ()),
    ("one week", "2024-05-06", "2024-05-12", ()),
    ("three months", "2024-04-01", "2024-06-30", ()),
    ("one outlet", None, None, (OUTLET,)),
    ("three months + outlet", "2024-04-01", "2024-06-30", (OUTLET,)),
)
TARGET_P95_MS = {10_000: 300, 100_000: 1000}


def _config(index_dir: Path) -> Any:
    from index.store import IndexConfig
    from qa.settings import Settings

    return IndexConfig.of(Settings.load(index_dir=index_dir, embed_model=EMBEDDER_NAME))


def build(dump: Path, index_dir: Path) -> dict[str, Any]:
    """Index ``dump`` with random vectors, as ``qa index`` does otherwise (in a child process)."""
    _quiet()
    from index.store import Index

    config = _config(index_dir)
    embedder = RandomEmbedding(embed_batch_size=config.embed_batch_size)
    with Load() as load:
        started, cpu = time.perf_counter(), time.process_time()
        with Index(config, embedder=embedder) as index:
            report = index.update([dump])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "indexed_documents": report.documents,
        "indexed_sentences": report.sentences,
        "indexed_chunks": report.chunks,
        "build_s": round(seconds - embedder.passage_seconds, 1),
        "random_embedding_s": round(embedder.passage_seconds, 1),
        "build_cpu_s": round(cpu, 1),
        "build_peak_rss_mb": _memory_mb("VmHWM"),
        "build_others_cpu_share": load.figures(cpu)["others_cpu_share"],
    }


def measure(
    index_dir: Path, questions: list[str], k: int, profile: bool, exact_rows: int | None = None
) -> dict[str, Any]:
    """Open the index, load its snapshot, and time the questions under each filter (in a child)."""
    _quiet()
    from index.store import Index
    from qa.filters import ArticleFilter
    from qa.settings import Settings

    settings = Settings()
    index = Index(_config(index_dir), embedder=RandomEmbedding())
    retriever = index.retriever(
        settings.candidate_chunks, settings.rrf_k, settings.lexical_weight, settings.context_weight
    )
    if exact_rows is not None:
        retriever.exact_rows = exact_rows
    started = time.perf_counter()
    snapshot = index.snapshot()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    retriever.retrieve(WARM_UP_QUESTION, k)
    first_ms = 1000 * (time.perf_counter() - started)
    rows: list[dict[str, Any]] = []
    for name, since, until, sources in FILTERS:
        article_filter = ArticleFilter.parse(since, until, sources) if since or until or sources else None
        begun = time.perf_counter()
        retriever.retrieve(WARM_UP_QUESTION, k, article_filter)
        filter_first_ms = 1000 * (time.perf_counter() - begun)
        allowed = snapshot.allowed(article_filter)
        latencies, found, outside = [], [], 0
        with Load() as load:
            cpu = time.process_time()
            for question in questions:
                begun = time.perf_counter()
                hits = retriever.retrieve(question, k, article_filter)
                latencies.append(1000 * (time.perf_counter() - begun))
                found.append(len(hits))
                if article_filter is not None:
                    outside += sum(not article_filter.matches(snapshot.documents[h.doc_id]) for h in hits)
            cpu = time.process_time() - cpu
        rows.append(
            {
                "filter": name,
                "filter_articles": len(snapshot.documents)
                if article_filter is None
                else sum(map(article_filter.matches, snapshot.documents.values())),
                "filter_chunks": len(snapshot.chunks) if allowed is None else allowed.chunk_count,
                "filter_sentences": len(snapshot.sentences) if allowed is None else allowed.sentence_count,
                "filter_first_ms": round(filter_first_ms, 1),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p95_ms": round(percentile(latencies, 95), 1),
                "max_ms": round(max(latencies), 1),
                "hits_mean": round(sum(found) / len(found), 2),
                "hits_outside_filter": outside,
                **load.figures(cpu),
            }
        )
    if profile:
        _profile(retriever, snapshot, questions, k)
    result = {
        "documents": len(snapshot.documents),
        "chunks": len(snapshot.chunks),
        "sentences": len(snapshot.sentences),
        "snapshot_load_s": round(load_s, 1),
        "first_ms": round(first_ms, 1),
        "query_peak_rss_mb": _memory_mb("VmHWM"),
        "filters": rows,
    }
    index.close()
    return result


def _profile(retriever: Any, snapshot: Any, questions: list[str], k: int) -> None:
    from qa.filters import ArticleFilter

    for name, since, until, sources in FILTERS:
        article_filter = ArticleFilter.parse(since, until, sources) if since or until or sources else None
        profiler = cProfile.Profile()
        profiler.enable()
        for question in questions:
            retriever.retrieve(question, k, article_filter)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(f"\n=== profile: {len(questions)} questions, filter {name} ===\n{out.getvalue()}", flush=True)


def measure_size(articles: int, args: argparse.Namespace, questions: list[str]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix=f"qa-archive-scale-{articles}-") as scratch:
        folder = args.keep / str(articles) if args.keep else Path(scratch)
        index_dir = args.index or folder / "index"
        size: dict[str, Any] = {"size": articles}
        if args.index is None:
            dump = folder / "archive.jsonl"
            started = time.perf_counter()
            written = write_dump(dump, articles)
            print(f"{articles} articles: wrote the dump in {time.perf_counter() - started:.0f} s", flush=True)
            size["dump_mb"] = written["mb"]
            size |= in_child(build, dump, index_dir)
            print(f"{articles} articles: built in {size['build_s']} s", flush=True)
        size["disk_mb"] = folder_mb(index_dir)
        measured = in_child(measure, index_dir, questions, args.k, args.profile, args.exact_rows)
        filters = measured.pop("filters")
        size |= measured
        rows = [size | row for row in filters]
        for row in filters:
            print(f"{articles} articles, {row['filter']}: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms", flush=True)
        return rows


def summarise(rows: list[dict[str, Any]], questions: int, k: int) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "questions": questions,
        "k": k,
        "vectors": "random unit vectors (384-d) for passages and questions; embedding excluded",
    }
    for size in dict.fromkeys(row["size"] for row in rows):
        of_size = [row for row in rows if row["size"] == size]
        worst = max(row["p95_ms"] for row in of_size)
        summary[f"worst_p95_ms_{size}"] = worst
        summary[f"first_ms_{size}"] = of_size[0]["first_ms"]
        summary[f"peak_rss_mb_{size}"] = max(of_size[0].get("build_peak_rss_mb", 0), of_size[0]["query_peak_rss_mb"])
        summary[f"others_cpu_share_{size}"] = max(row["others_cpu_share"] for row in of_size)
        if size in TARGET_P95_MS:
            summary[f"target_p95_ms_{size}"] = TARGET_P95_MS[size]
            summary[f"meets_target_{size}"] = worst <= TARGET_P95_MS[size]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000], help="archive sizes in articles")
    parser.add_argument("--questions", type=int, default=50, help="questions timed per filter")
    parser.add_argument("--k", type=int, default=8, help="sentences retrieved per question")
    parser.add_argument("--index", type=Path, help="measure this index (built by --keep) instead of building")
    parser.add_argument("--keep", type=Path, help="keep dump and index under DIR/<articles>/")
    parser.add_argument(
        "--exact-rows",
        type=int,
        help="search filters that admit at most this many rows exactly (default: index.retrieval.EXACT_ROWS; "
        "0 sends every filter to the approximate search)",
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile tables of the filtered questions")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.index is not None and len(args.articles) != 1:
        parser.error("--index measures one index: give one --articles")
    _quiet()
    questions = question_sample(args.questions)
    rows = [row for articles in args.articles for row in measure_size(articles, args, questions)]
    write_results("archive_scale", summarise(rows, len(questions), args.k), rows, args.out_dir)
    print(json.dumps(rows[-1], ensure_ascii=False))


if __name__ == "__main__":
    main()
