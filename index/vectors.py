"""Chroma as the vector store: a persistent client in the index folder, or a Chroma server.

Two collections: ``<prefix>_chunks`` (the unit of recall) and ``<prefix>_sentences`` (for ranking
sentences inside the recalled chunks). Embeddings are always passed in, so Chroma's default
embedding function, which would reach for the network, is never used.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import IndexMismatchError, StoreUnavailableError, UserError, guarded, storage_error

if TYPE_CHECKING:
    from index.served_docstore import ServedDocumentStore

log = logging.getLogger(__name__)

CHUNKS = "chunks"
SENTENCES = "sentences"


#: How Chroma words a vector of another size than the collection holds, at upsert and at query.
_DIMENSIONS = re.compile(r"expecting embedding with dimension of (\d+), got (\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class VectorMatch:
    id: str
    similarity: float


def _problem(store: VectorStore, error: Exception) -> UserError:
    """Chroma's failures as one sentence: a damaged or foreign local store, a read-only folder or a full
    disk (``storage_error``), a vector of another size than the index holds, or a server that fails."""
    log.debug("%s failed", store.location, exc_info=True)
    if sizes := _DIMENSIONS.search(str(error)):
        held, given = sizes.groups()
        return IndexMismatchError(
            f"the {store.location} holds vectors of {held} dimensions, and the embedding model gives {given}: "
            "the index was built with another model; set the model it was built with (QA_EMBED_MODEL, "
            "QA_EMBEDDER), or rebuild the index with 'qa index --rebuild PATH…'"
        )
    if store.host:
        return StoreUnavailableError(f"the {store.location} failed: {error}")
    return storage_error(error, "vector store (Chroma)", store.folder)


#: Chroma raises its own errors, ValueError, RuntimeError, sqlite3's and httpx's.
_checked = guarded((Exception,), _problem)


class VectorStore:
    """Every method gives one sentence with the way out when Chroma fails (``_checked``)."""

    @_checked
    def __init__(
        self,
        path: Path | None = None,
        host: str | None = None,
        port: int = 8000,
        prefix: str = "qa",
    ):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.host, self.folder = host, Path(path or ".")
        self.location = f"Chroma server at {host}:{port}" if host else f"Chroma store in {path}"
        if host:
            try:
                self._client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
                self._client.heartbeat()
            except Exception as error:  # chromadb raises ValueError, ConnectionError, httpx errors
                raise StoreUnavailableError(f"cannot open the {self.location}: {error}") from error
        else:
            try:
                self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            except Exception:
                _forget(str(path))
                raise
        self._prefix = prefix
        self._collections = {kind: self._open(kind) for kind in (CHUNKS, SENTENCES)}
        self._batch = min(self._client.get_max_batch_size(), 2048)

    def _open(self, kind: str) -> Any:
        return self._client.get_or_create_collection(
            f"{self._prefix}_{kind}", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    @_checked
    def reset(self) -> None:
        """Drop both collections and start empty."""
        for kind in (CHUNKS, SENTENCES):
            self._client.delete_collection(f"{self._prefix}_{kind}")
            self._collections[kind] = self._open(kind)

    @_checked
    def reopen(self) -> None:
        """Open both collections again by name: another process's rebuild may have replaced them."""
        self._collections = {kind: self._open(kind) for kind in (CHUNKS, SENTENCES)}

    @_checked
    def count(self, kind: str) -> int:
        return self._collections[kind].count()

    @_checked
    def upsert(
        self,
        kind: str,
        ids: list[str],
        vectors: np.ndarray,
        metadatas: list[dict[str, Any]],
        documents: list[str] | None = None,
    ) -> None:
        collection = self._collections[kind]
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            collection.upsert(
                ids=ids[start:end],
                embeddings=vectors[start:end],
                metadatas=metadatas[start:end],
                documents=documents[start:end] if documents else None,
            )

    @_checked
    def existing(self, kind: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), self._batch):
            result = self._collections[kind].get(ids=ids[start : start + self._batch], include=[])
            found.update(result["ids"])
        return found

    @_checked
    def all_ids(self, kind: str) -> set[str]:
        found: set[str] = set()
        offset = 0
        while True:
            page = self._collections[kind].get(include=[], limit=self._batch, offset=offset)
            found.update(page["ids"])
            if len(page["ids"]) < self._batch:
                return found
            offset += self._batch

    @_checked
    def update_metadata(self, kind: str, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Add or change metadata keys of existing entries in place; their other keys and their vectors
        stay. Ids the store does not hold are ignored."""
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            self._collections[kind].update(ids=ids[start:end], metadatas=metadatas[start:end])

    @_checked
    def delete(self, kind: str, ids: list[str]) -> None:
        for start in range(0, len(ids), self._batch):
            self._collections[kind].delete(ids=ids[start : start + self._batch])

    @_checked
    def query(self, kind: str, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[VectorMatch]:
        """The ``n`` nearest entries; ``where`` (a Chroma metadata filter) admits only the entries it
        matches, before the nearest are taken."""
        if n <= 0:
            return []
        # Chroma returns fewer than n results from a smaller collection (or fewer matching ``where``);
        # counting first would cost a scan per question that grows with the collection.
        result = self._collections[kind].query(
            query_embeddings=[vector], n_results=n, where=where or None, include=["distances"]
        )
        return [
            VectorMatch(id_, 1.0 - float(distance))
            for id_, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    @_checked
    def vectors(self, kind: str, ids: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), self._batch):
            result = self._collections[kind].get(ids=ids[start : start + self._batch], include=["embeddings"])
            for id_, vector in zip(result["ids"], result["embeddings"], strict=True):
                found[id_] = np.asarray(vector, dtype=np.float32)
        return found

    def served_docstore(self, prefix: str) -> ServedDocumentStore:
        """The document store that a Chroma server keeps beside these vectors (only with a server)."""
        from index.served_docstore import ServedDocumentStore

        return ServedDocumentStore(self._client, prefix, self.location)


def _forget(path: str) -> None:
    """Chroma keeps one system per folder for the process, even one that failed to start; forget it,
    so that the folder can be opened again once it is repaired or rebuilt."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)
