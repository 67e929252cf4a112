"""The document store: full text, sentence table and chunk table of every indexed article, in SQLite.

It is the source of truth for what the index holds. Vector-store entries that it does not
reference are ignored at query time and removed by the next indexing run, which is what makes an
interrupted run harmless: the store switches from the old to the new state in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.documents import Chunk, Document, Sentence
from index.errors import UserError, guarded, storage_error

#: What SQLite and the file system raise for a damaged, foreign, read-only or full store.
_FAILURES = (sqlite3.DatabaseError, OSError)


def _problem(store: DocumentStore, error: Exception) -> UserError:
    return storage_error(error, "document store (documents.sqlite)", store.folder)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL,
    date TEXT, publisher TEXT, author TEXT, language TEXT NOT NULL,
    content_hash TEXT NOT NULL, indexed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sentences (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    chunk_id TEXT NOT NULL, vector_id TEXT NOT NULL, PRIMARY KEY (doc_id, idx));
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL, tokens INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks (doc_id);
"""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as the store holds it, with the ids of its vector-store entries."""

    document: Document
    chunks: list[Chunk]
    sentence_vector_ids: list[str]
    sentence_chunk_ids: list[str]


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    content_hash: str
    source: str


class DocumentStore:
    """Every method turns a damaged or foreign file, a read-only folder or a full disk into one sentence
    with the way out (``index.errors.storage_error``)."""

    @guarded(_FAILURES, _problem)
    def __init__(self, path: Path):
        self.path = path
        self.folder = path.parent
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @guarded(_FAILURES, _problem)
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @guarded(_FAILURES, _problem)
    def set_meta(self, key: str, value: str | None) -> None:
        with self._transaction() as db:
            _put_meta(db, key, value)

    @property
    @guarded(_FAILURES, _problem)
    def generation(self) -> int:
        """Grows with every committed change; readers compare it to know when to reload."""
        return int(self.get_meta("generation") or 0)

    @guarded(_FAILURES, _problem)
    def versions(self) -> dict[str, DocumentVersion]:
        rows = self._db.execute("SELECT doc_id, content_hash, source FROM documents")
        return {doc_id: DocumentVersion(h, source) for doc_id, h, source in rows}

    @guarded(_FAILURES, _problem)
    def vector_ids(self, doc_ids: list[str] | None = None) -> tuple[set[str], set[str]]:
        """Chunk ids and sentence vector ids, of the given documents or of all."""
        chunk_sql = "SELECT chunk_id FROM chunks"
        sentence_sql = "SELECT vector_id FROM sentences"
        if doc_ids is None:
            return (
                {r[0] for r in self._db.execute(chunk_sql)},
                {r[0] for r in self._db.execute(sentence_sql)},
            )
        chunks: set[str] = set()
        sentences: set[str] = set()
        for doc_id in doc_ids:
            chunks |= {r[0] for r in self._db.execute(chunk_sql + " WHERE doc_id = ?", (doc_id,))}
            sentences |= {r[0] for r in self._db.execute(sentence_sql + " WHERE doc_id = ?", (doc_id,))}
        return chunks, sentences

    @guarded(_FAILURES, _problem)
    def commit(
        self,
        upserts: list[StoredDocument],
        removed: list[str],
        moved: dict[str, str],
        meta: dict[str, str | None],
    ) -> None:
        """Switch to the new state in one transaction: all of it lands, or none of it."""
        now = time.time()
        with self._transaction() as db:
            for doc_id in removed + [stored.document.doc_id for stored in upserts]:
                for table in ("documents", "sentences", "chunks"):
                    db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
            for stored in upserts:
                _insert(db, stored, now)
            for doc_id, source in moved.items():
                db.execute("UPDATE documents SET source = ? WHERE doc_id = ?", (source, doc_id))
            for key, value in meta.items():
                _put_meta(db, key, value)
            if upserts or removed or moved:
                _put_meta(db, "generation", str(self.generation + 1))

    @guarded(_FAILURES, _problem)
    def clear(self) -> None:
        with self._transaction() as db:
            for table in ("documents", "sentences", "chunks", "meta"):
                db.execute(f"DELETE FROM {table}")

    @guarded((*_FAILURES, KeyError, IndexError), _problem)
    def load_all(self) -> list[StoredDocument]:
        """Every document with its sentences and chunks, ordered by doc_id."""
        sentence_rows: dict[str, list[tuple]] = {}
        for row in self._db.execute(
            "SELECT doc_id, idx, start, end, chunk_id, vector_id FROM sentences ORDER BY doc_id, idx"
        ):
            sentence_rows.setdefault(row[0], []).append(row)
        chunk_rows: dict[str, list[Chunk]] = {}
        documents = self._db.execute(
            "SELECT doc_id, title, source, text, date, publisher, author, language FROM documents ORDER BY doc_id"
        ).fetchall()
        texts = {row[0]: row[3] for row in documents}
        for chunk_id, doc_id, first, last, tokens in self._db.execute(
            "SELECT chunk_id, doc_id, first_sentence, last_sentence, tokens FROM chunks ORDER BY doc_id, first_sentence"
        ):
            rows = sentence_rows[doc_id]
            text = texts[doc_id][rows[first][2] : rows[last][3]]
            chunk_rows.setdefault(doc_id, []).append(Chunk(chunk_id, doc_id, first, last, text, tokens))
        out = []
        for doc_id, title, source, text, date, publisher, author, language in documents:
            rows = sentence_rows.get(doc_id, [])
            document = Document(
                doc_id,
                title,
                source,
                text,
                date,
                publisher,
                author,
                language,
                sentences=[Sentence(doc_id, r[1], r[2], r[3]) for r in rows],
            )
            out.append(StoredDocument(document, chunk_rows.get(doc_id, []), [r[5] for r in rows], [r[4] for r in rows]))
        return out


def _put_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _insert(db: sqlite3.Connection, stored: StoredDocument, now: float) -> None:
    d = stored.document
    db.execute(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (d.doc_id, d.title, d.source, d.text, d.date, d.publisher, d.author, d.language, d.content_hash, now),
    )
    db.executemany(
        "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?)",
        [
            (d.doc_id, s.index, s.start, s.end, chunk_id, vector_id)
            for s, chunk_id, vector_id in zip(
                d.sentences, stored.sentence_chunk_ids, stored.sentence_vector_ids, strict=True
            )
        ],
    )
    db.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
        [(c.chunk_id, c.doc_id, c.first_sentence, c.last_sentence, c.tokens) for c in stored.chunks],
    )
