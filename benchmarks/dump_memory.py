"""Peak memory of indexing one JSON Lines dump, by the dump's size: it should not grow with it.

    .venv/bin/python benchmarks/dump_memory.py [--articles 2000 8000] [--vectors chroma|ids]
                                                [--code DIR] [--dumps DIR]

Each size's dump is made by ``benchmarks/archive_dump.py --articles N --seed 0`` (kept in ``--dumps``,
default a temporary folder) and indexed into a new index, in a process of its own, by ``index.Index``
with random unit vectors in place of the model (384 dimensions, as multilingual-e5-small's), so the
run measures the reading, sentence splitting, chunking, near-duplicate grouping and the stores, not
the model. The child reports its resident set size once the index is open (the baseline) and its
peak (``VmHWM``) after the run.

``--vectors ids`` puts the vectors into a store that keeps their ids only (``IdsOnly``), in place of
the local Chroma folder, whose HNSW index lives in memory and grows with the vectors it holds
whatever the builder does: then the peak is the builder's and the document store's alone.

``--code`` is the folder whose ``index`` and ``qa`` packages are measured (default this repository),
so that another version (for example an unpacked ``git archive``) can be measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 384
EMBEDDER_NAME = "random-384"


def _status_mb(field: str) -> float:
    """A line of ``/proc/self/status`` (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return round(int(rest.split()[0]) / 1024, 1)
    return 0.0


def _random_embedding() -> Any:
    """Random unit vectors, from a seeded stream (built here, after the child chose its code)."""
    import numpy as np
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class RandomEmbedding(BaseEmbedding):
        model_name: str = EMBEDDER_NAME
        _rng: Any = PrivateAttr(default_factory=lambda: np.random.default_rng(0))

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            vectors = self._rng.standard_normal((len(texts), DIMENSION), dtype=np.float32)
            return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return RandomEmbedding(embed_batch_size=64)


class IdsOnly:
    """A vector store that keeps the ids of what it is given, and nothing else."""

    location = "ids-only vector store"

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = {}

    def _kind(self, kind: str) -> set[str]:
        return self.ids.setdefault(kind, set())

    def reset(self) -> None:
        self.ids.clear()

    def count(self, kind: str) -> int:
        return len(self._kind(kind))

    def upsert(self, kind: str, ids: list[str], *rest: Any) -> None:
        self._kind(kind).update(ids)

    def existing(self, kind: str, ids: list[str]) -> set[str]:
        return self._kind(kind) & set(ids)

    def all_ids(self, kind: str) -> set[str]:
        return set(self._kind(kind))

    def update_metadata(self, kind: str, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        pass

    def delete(self, kind: str, ids: list[str]) -> None:
        self._kind(kind).difference_update(ids)


def child(dump: Path, index_dir: Path, vectors: str, batch: int | None) -> dict[str, Any]:
    """Index ``dump`` into a new index at ``index_dir`` and report the memory (in this process)."""
    import logging

    logging.disable(logging.WARNING)
    from index import builder as builder_module
    from index.builder import IndexBuilder
    from index.docstore import DocumentStore
    from index.store import DOCSTORE, Index, IndexConfig
    from qa.settings import Settings

    if batch:
        builder_module.DUMP_BATCH = batch  # the articles committed at a time (a version without batches ignores it)
    settings = Settings.load(index_dir=index_dir, embed_model=EMBEDDER_NAME)
    with Index(IndexConfig.of(settings), embedder=_random_embedding()) as index:
        if vectors == "ids":
            builder = IndexBuilder(
                DocumentStore(index_dir / f"ids-{DOCSTORE}"),
                IdsOnly(),
                index.embedder,
                embedder_name=EMBEDDER_NAME,
                chunk_tokens=settings.chunk_tokens,
                max_file_bytes=settings.max_file_bytes,
                batch_size=settings.embed_batch_size,
            )
            update = builder.update
        else:
            update = index.update
        baseline = _status_mb("VmRSS")
        started = time.perf_counter()
        report = update([dump])
        seconds = time.perf_counter() - started
    return {
        "documents": report.documents,
        "sentences": report.sentences,
        "chunks": report.chunks,
        "seconds": round(seconds, 1),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _status_mb("VmHWM"),
    }


def make_dump(articles: int, folder: Path) -> Path:
    path = folder / f"dump-{articles}.jsonl"
    if not path.exists():
        script = ROOT / "benchmarks" / "archive_dump.py"
        command = [sys.executable, str(script), str(path), "--articles", str(articles), "--seed", "0"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return path


def measure(dump: Path, code: Path, vectors: str, batch: int | None) -> dict[str, Any]:
    """One child process: ``--code``'s packages index ``dump`` into a temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    with tempfile.TemporaryDirectory(prefix="dump-memory-") as index_dir:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(dump), index_dir, "--vectors", vectors]
        command += ["--batch", str(batch)] if batch else []
        done = subprocess.run(command, env=env, cwd=code, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, nargs="+", default=[2000, 8000], help="dump sizes")
    parser.add_argument(
        "--vectors", choices=("chroma", "ids"), default="chroma", help="the local Chroma folder, or ids only"
    )
    parser.add_argument("--batch", type=int, help="articles committed at a time (default: the builder's DUMP_BATCH)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the folder whose packages are measured")
    parser.add_argument("--dumps", type=Path, help="keep (and reuse) the generated dumps here")
    parser.add_argument("--child", nargs=2, metavar=("DUMP", "INDEX_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), args.vectors, args.batch)))
        return 0
    with tempfile.TemporaryDirectory(prefix="dumps-") as scratch:
        folder = args.dumps or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"code: {args.code.resolve()}; vectors: {args.vectors}; batch: {args.batch or 'default'}")
        print("| articles | documents | sentences | seconds | RSS at start (MB) | peak RSS (MB) | peak − start (MB) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for articles in args.articles:
            row = measure(make_dump(articles, folder), args.code.resolve(), args.vectors, args.batch)
            grown = round(row["peak_rss_mb"] - row["baseline_rss_mb"], 1)
            print(
                f"| {articles:,} | {row['documents']:,} | {row['sentences']:,} | {row['seconds']} "
                f"| {row['baseline_rss_mb']} | {row['peak_rss_mb']} | {grown} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
