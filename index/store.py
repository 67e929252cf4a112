"""The index: one owner for one index folder (or a Chroma server), from its files to its retriever.

``Index`` knows the folder's layout (the document store ``documents.sqlite`` and the local Chroma
folder ``chroma``), opens and checks them, sets damaged ones aside before a rebuild, brings an older
index's metadata up to date, keeps the in-memory snapshot of the current generation, writes through
the builder and builds the retriever over itself. Everything that reads or writes the index goes
through it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from index.builder import IndexBuilder, IndexReport, check_embedder, check_vectors
from index.docstore import DocumentStore, DocumentVersion
from index.documents import Document
from index.embeddings import embed_passages, embed_query, embedder_key, make_embedder
from index.errors import IndexDamagedError, storage_error
from index.metadata import is_current
from index.retrieval import HybridRetriever
from index.served_docstore import ServedDocumentStore
from index.snapshot import Snapshot
from index.vectors import SENTENCES, VectorStore

log = logging.getLogger(__name__)

DOCSTORE = "documents.sqlite"
CHROMA = "chroma"


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Where an index lives and how it is written: the index's part of ``qa.settings.Settings``, which
    holds the defaults."""

    index_dir: Path
    embed_model: str
    embed_batch_size: int
    chunk_tokens: int
    max_file_bytes: int
    #: A Chroma server holds the vectors when set; else the local folder does.
    chroma_host: str | None
    chroma_port: int
    chroma_collection: str
    #: "openai": the OpenAI-compatible server at ``embedder_base_url`` computes the vectors of
    #: ``embed_model``; "local": the model runs in this process.
    embedder: str
    embedder_base_url: str | None
    embedder_api_key: str | None

    @classmethod
    def of(cls, settings: object) -> IndexConfig:
        """The index part of a settings object (any object with these attributes)."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


class Index:
    """An index folder (document store + Chroma), opened. The embedding model and the snapshot load
    on first use; the snapshot is read again when another run has changed the index."""

    def __init__(self, config: IndexConfig, embedder: BaseEmbedding | None = None):
        """``embedder`` replaces the model ``config.embed_model`` names (a benchmark's random vectors);
        the index still records and checks ``config.embed_model`` as its vector space."""
        self.config = config
        self.folder = config.index_dir
        if config.chroma_host is None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise storage_error(error, "index folder", self.folder) from error
        self.vectors = VectorStore(
            path=self.folder / CHROMA,
            host=config.chroma_host,
            port=config.chroma_port,
            prefix=config.chroma_collection,
        )
        # With a Chroma server, the server holds everything and no local folder is needed.
        self.docstore: DocumentStore | ServedDocumentStore = (
            DocumentStore(self.folder / DOCSTORE)
            if config.chroma_host is None
            else self.vectors.served_docstore(config.chroma_collection)
        )
        self._embedder = embedder
        self._snapshot: Snapshot | None = None
        self._retrievers: dict[tuple, HybridRetriever] = {}
        self._lock = threading.RLock()
        self._reading = threading.Lock()
        self._refresher: threading.Thread | None = None
        #: This process changed the index: its next question waits for the new generation.
        self._wrote = False

    @property
    def embedder(self) -> BaseEmbedding:
        with self._lock:
            if self._embedder is None:
                config = self.config
                self._embedder = make_embedder(
                    config.embed_model,
                    config.embed_batch_size,
                    config.embedder,
                    config.embedder_base_url,
                    config.embedder_api_key,
                )
            return self._embedder

    def retriever(
        self, candidate_chunks: int = 8, rrf_k: int = 60, lexical_weight: float = 0.02, context_weight: float = 0.01
    ) -> HybridRetriever:
        """Hybrid retrieval over this index with these weights (one retriever per set of weights)."""
        key = (candidate_chunks, rrf_k, lexical_weight, context_weight)
        with self._lock:
            if key not in self._retrievers:
                self._retrievers[key] = HybridRetriever(self, *key)
            return self._retrievers[key]

    def snapshot(self) -> Snapshot:
        """The current generation in memory; read again when another run has changed the index. The
        embedding model and the vectors are checked against the document store on each reading.

        With a Chroma server, a generation that another process committed is read in the background
        while questions go on with the last one, so that no question waits for (or fails during) a
        refresh. The first reading, and the one after this process's own changes, are waited for."""
        generation = self.docstore.generation
        current = self._snapshot
        if current is not None and current.generation == generation:
            return current
        if current is not None and self.config.chroma_host is not None and not self._wrote:
            self._refresh_in_background()
            return current
        with self._reading:
            if self._snapshot is None or self._snapshot.generation != self.docstore.generation:
                self._snapshot = self._read_snapshot()
            self._wrote = False
            return self._snapshot

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refresher is None or not self._refresher.is_alive():
                self._refresher = threading.Thread(target=self._refresh, name="index-refresh", daemon=True)
                self._refresher.start()

    def _refresh(self) -> None:
        try:
            with self._reading:
                if self._snapshot is None or self._snapshot.generation != self.docstore.generation:
                    started = time.perf_counter()
                    self._snapshot = self._read_snapshot()
                    log.info("read generation %d in %.1f s", self._snapshot.generation, time.perf_counter() - started)
        except Exception:  # the next question tries again; until then questions use the last generation
            log.exception("could not read the index's new generation from the %s", self.vectors.location)

    def _read_snapshot(self) -> Snapshot:
        generation = self.docstore.generation
        if self._snapshot is not None:
            self.vectors.reopen()  # another process's rebuild may have replaced the collections
        check_embedder(self.docstore, embedder_key(self.config.embed_model))
        stored = self.docstore.load_all()
        chunk_ids = {chunk.chunk_id for item in stored for chunk in item.chunks}
        check_vectors(self.vectors, chunk_ids, {v for item in stored for v in item.sentence_vector_ids})
        return Snapshot(stored, generation, self.docstore.sentence_links())

    @property
    def location(self) -> str:
        """Where the index lives, for messages: its folder, or the Chroma server and collections."""
        if self.config.chroma_host is None:
            return str(self.folder)
        return f"{self.vectors.location} (collections {self.config.chroma_collection}_*)"

    @property
    def documents(self) -> Mapping[str, Document]:
        """The indexed articles by id, as of the current snapshot."""
        return self.snapshot().documents

    def versions(self) -> dict[str, DocumentVersion]:
        """The version (file, content hash) of every indexed article, from the document store."""
        return self.docstore.versions()

    def is_empty(self) -> bool:
        return not self.docstore.versions()

    def update(
        self,
        paths: Sequence[Path],
        progress: bool = False,
        rebuild: bool = False,
        fields: dict[str, str] | None = None,
    ) -> IndexReport:
        """Add, update and remove documents so the index matches the files under ``paths``."""
        try:
            return self._builder().update(list(paths), progress=progress, rebuild=rebuild, fields=fields)
        finally:
            self._wrote = True

    def remove(self, doc_ids: Sequence[str]) -> IndexReport:
        """Take these documents out of the index; ids it does not hold are ignored."""
        try:
            return self._builder().remove(list(doc_ids))
        finally:
            self._wrote = True

    def ensure_filter_metadata(self) -> None:
        """An index written before the date and outlet filters gets their metadata once, in place: a
        few seconds per 100,000 vectors, and nothing is embedded again. ``UserError`` when it cannot
        be written now."""
        if is_current(self.docstore):
            return
        with self._lock:
            if is_current(self.docstore):
                return
            log.warning("adding date and outlet metadata to the index in %s (once)", self.folder)
            self._builder().migrate_metadata()

    def embed(self, query: str, passages: Sequence[str] = ()) -> np.ndarray:
        """Unit vectors: ``query`` as a query, then ``passages`` as passages."""
        vectors = [embed_query(self.embedder, query)]
        if passages:
            vectors.append(embed_passages(self.embedder, list(passages)))
        return np.vstack(vectors)

    def similarities(self, text: str, vector_ids: Sequence[str]) -> list[float]:
        """Cosine similarity between ``text`` (as a query) and each stored sentence vector; 0 for an id
        the vector store does not hold."""
        vector = embed_query(self.embedder, text)
        stored = self.vectors.vectors(SENTENCES, list(vector_ids))
        return [float(stored[v] @ vector) if v in stored else 0.0 for v in vector_ids]

    def _builder(self) -> IndexBuilder:
        return IndexBuilder(
            self.docstore,
            self.vectors,
            self.embedder,
            embedder_name=self.config.embed_model,
            chunk_tokens=self.config.chunk_tokens,
            max_file_bytes=self.config.max_file_bytes,
            batch_size=self.config.embed_batch_size,
        )

    def close(self) -> None:
        self.docstore.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def set_aside_damaged(config: IndexConfig) -> list[Path]:
    """Before a rebuild: move a document store or a local Chroma folder that cannot be opened out of the
    way, renamed ``<name>.damaged-<time>``, so the rebuild starts afresh and nothing is deleted.
    Returns where each went."""
    folder = config.index_dir
    moved: list[Path] = []
    if config.chroma_host is not None:  # the server keeps its own data; nothing local to set aside
        return moved
    try:
        DocumentStore(folder / DOCSTORE).close()
    except IndexDamagedError:
        moved += _move_aside(folder, (DOCSTORE, f"{DOCSTORE}-wal", f"{DOCSTORE}-shm"))
    if config.chroma_host is None:
        try:
            VectorStore(path=folder / CHROMA, prefix=config.chroma_collection)
        except IndexDamagedError:
            moved += _move_aside(folder, (CHROMA,))
    return moved


def _move_aside(folder: Path, names: tuple[str, ...]) -> list[Path]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for name in names:
        if (folder / name).exists():
            target = folder / f"{name}.damaged-{stamp}"
            (folder / name).rename(target)
            log.info("moved the damaged %s aside to %s", name, target)
            moved.append(target)
    return moved
