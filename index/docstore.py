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
from index.duplicates import SentenceGroups, SentenceLink
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
    content_hash TEXT NOT NULL, indexed_at REAL NOT NULL, url TEXT);
CREATE TABLE IF NOT EXISTS sentences (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    chunk_id TEXT NOT NULL, vector_id TEXT NOT NULL, PRIMARY KEY (doc_id, idx));
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL, tokens INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks (doc_id);
CREATE TABLE IF NOT EXISTS band_documents (number INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sentence_bands (
    key INTEGER NOT NULL, doc INTEGER NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (doc, idx, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_bands_by_key ON sentence_bands (key);
CREATE TABLE IF NOT EXISTS sentence_links (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, other_doc TEXT NOT NULL, other_idx INTEGER NOT NULL,
    similarity REAL NOT NULL, PRIMARY KEY (doc_id, idx, other_doc, other_idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_links_by_other ON sentence_links (other_doc);
"""
#: Band keys looked up per query.
_KEYS_PER_QUERY = 500
#: The near-duplicate tables (index.duplicates): band keys, the numbers their rows give documents, links.
_GROUP_TABLES = ("sentence_bands", "band_documents", "sentence_links")


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
        #: Where the index is, for messages.
        self.location = str(path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        if "url" not in columns:  # a store written before documents had an address
            self._db.execute("ALTER TABLE documents ADD COLUMN url TEXT")
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
        groups: SentenceGroups | None = None,
    ) -> None:
        """Switch to the new state in one transaction: all of it lands, or none of it. A removed or
        replaced document loses its band keys and its links to near-duplicate sentences; ``groups``
        holds those of the new versions (or, with ``groups.everything``, of the whole index)."""
        now = time.time()
        with self._transaction() as db:
            for doc_id in removed + [stored.document.doc_id for stored in upserts]:
                for table in ("documents", "sentences", "chunks", "sentence_links"):
                    db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
                db.execute("DELETE FROM sentence_links WHERE other_doc = ?", (doc_id,))
                db.execute(
                    "DELETE FROM sentence_bands WHERE doc IN (SELECT number FROM band_documents WHERE doc_id = ?)",
                    (doc_id,),
                )
                db.execute("DELETE FROM band_documents WHERE doc_id = ?", (doc_id,))
            for stored in upserts:
                _insert(db, stored, now)
            if groups is not None:
                _insert_groups(db, groups)
            for doc_id, source in moved.items():
                db.execute("UPDATE documents SET source = ? WHERE doc_id = ?", (source, doc_id))
            for key, value in meta.items():
                _put_meta(db, key, value)
            if upserts or removed or moved or (groups is not None and groups.everything):
                _put_meta(db, "generation", str(self.generation + 1))

    @guarded(_FAILURES, _problem)
    def clear(self) -> None:
        with self._transaction() as db:
            for table in ("documents", "sentences", "chunks", *_GROUP_TABLES, "meta"):
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
            "SELECT doc_id, title, source, text, date, publisher, author, language, url FROM documents ORDER BY doc_id"
        ).fetchall()
        texts = {row[0]: row[3] for row in documents}
        for chunk_id, doc_id, first, last, tokens in self._db.execute(
            "SELECT chunk_id, doc_id, first_sentence, last_sentence, tokens FROM chunks ORDER BY doc_id, first_sentence"
        ):
            rows = sentence_rows[doc_id]
            text = texts[doc_id][rows[first][2] : rows[last][3]]
            chunk_rows.setdefault(doc_id, []).append(Chunk(chunk_id, doc_id, first, last, text, tokens))
        out = []
        for doc_id, title, source, text, date, publisher, author, language, url in documents:
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
                url,
                sentences=[Sentence(doc_id, r[1], r[2], r[3]) for r in rows],
            )
            out.append(StoredDocument(document, chunk_rows.get(doc_id, []), [r[5] for r in rows], [r[4] for r in rows]))
        return out

    @guarded(_FAILURES, _problem)
    def sentences_with_keys(self, keys: list[int]) -> list[tuple[int, str, int]]:
        """(key, doc_id, sentence index) of the stored sentences that have one of the band ``keys``."""
        rows: list[tuple[int, str, int]] = []
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            part = keys[start : start + _KEYS_PER_QUERY]
            marks = ", ".join("?" * len(part))
            rows += self._db.execute(
                "SELECT b.key, d.doc_id, b.idx FROM sentence_bands b JOIN band_documents d ON d.number = b.doc"
                f" WHERE b.key IN ({marks})",
                part,
            )
        return rows

    @guarded(_FAILURES, _problem)
    def sentence_texts(self, sentences: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The verbatim text of each (doc_id, sentence index) the store holds."""
        found: dict[tuple[str, int], str] = {}
        for doc_id, index in sentences:
            row = self._db.execute(
                "SELECT substr(d.text, s.start + 1, s.end - s.start) FROM sentences s JOIN documents d"
                " ON d.doc_id = s.doc_id WHERE s.doc_id = ? AND s.idx = ?",
                (doc_id, index),
            ).fetchone()
            if row is not None:
                found[(doc_id, index)] = row[0]
        return found

    @guarded(_FAILURES, _problem)
    def sentence_links(self) -> list[SentenceLink]:
        """Every link between near-duplicate sentences of different documents."""
        rows = self._db.execute(
            "SELECT doc_id, idx, other_doc, other_idx, similarity FROM sentence_links ORDER BY doc_id, idx"
        )
        return [SentenceLink(*row) for row in rows]

    @guarded(_FAILURES, _problem)
    def grouped_sentences(self) -> int:
        """How many sentences have a near-duplicate in another document."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT doc_id, idx FROM sentence_links"
            " UNION SELECT other_doc, other_idx FROM sentence_links)"
        ).fetchone()
        return int(row[0])


def _insert_groups(db: sqlite3.Connection, groups: SentenceGroups) -> None:
    if groups.everything:
        for table in _GROUP_TABLES:
            db.execute(f"DELETE FROM {table}")
    # Band rows name their document by a number (band_documents), which keeps the largest table small.
    db.executemany(
        "INSERT OR IGNORE INTO band_documents (doc_id) VALUES (?)", [(d,) for d in dict.fromkeys(groups.documents())]
    )
    numbers = dict(db.execute("SELECT doc_id, number FROM band_documents"))
    # Two bands of one sentence may hash alike; one row is enough for the lookup.
    db.executemany(
        "INSERT OR IGNORE INTO sentence_bands (key, doc, idx) VALUES (?, ?, ?)",
        ((key, numbers[doc_id], index) for key, doc_id, index in groups.band_rows()),
    )
    db.executemany(
        "INSERT OR REPLACE INTO sentence_links VALUES (?, ?, ?, ?, ?)",
        [(k.doc_id, k.index, k.other_doc, k.other_index, k.similarity) for k in groups.links],
    )


def _put_meta(db: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _insert(db: sqlite3.Connection, stored: StoredDocument, now: float) -> None:
    d = stored.document
    db.execute(
        "INSERT INTO documents (doc_id, title, source, text, date, publisher, author, language, content_hash,"
        " indexed_at, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (d.doc_id, d.title, d.source, d.text, d.date, d.publisher, d.author, d.language, d.content_hash, now, d.url),
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
