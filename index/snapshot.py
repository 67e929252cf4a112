"""An in-memory snapshot of the document store, shaped for retrieval: documents, chunks and
sentences as rows, BM25 over both, and the groups of near-duplicate sentences (one statement that
several articles print). Built once per index generation (by ``index.Index``), not per question."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from index.docstore import StoredDocument
from index.documents import Chunk, Document
from index.duplicates import SentenceLink
from index.lexical import LexicalIndex, analyse


class DocumentFilter(Hashable, Protocol):
    """Which articles a question may be answered from (``qa.filters.ArticleFilter``): a whole-article
    test, and the same test as a vector store's ``where``."""

    @property
    def is_empty(self) -> bool: ...

    def matches(self, document: Document) -> bool: ...

    def where(self) -> dict[str, Any] | None: ...


#: Filters whose row masks a snapshot keeps; older ones are computed again when asked for.
_KEPT_FILTERS = 64
#: Vectors a snapshot keeps for exact search under filters, over all filters and both kinds (about
#: 300 MB of 384-dimensional float32); the least recently used filter's go first.
KEPT_VECTOR_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class AllowedRows:
    """The chunk and sentence rows a filter admits, as masks over ``Snapshot.chunks`` and ``.sentences``."""

    chunks: np.ndarray
    sentences: np.ndarray
    chunk_count: int
    sentence_count: int


def best_first(values: np.ndarray, n: int) -> np.ndarray:
    """The positions of the ``n`` largest ``values``, largest first, equal values by position: a
    partition, then a sort of those only."""
    if n <= 0 or not values.size:
        return np.zeros(0, dtype=np.int64)
    if n < values.size:
        # The n-th largest value, and every position that reaches it, so that ties go by position.
        threshold = np.partition(values, values.size - n)[values.size - n]
        chosen = np.flatnonzero(values >= threshold)
    else:
        chosen = np.arange(values.size)
    return chosen[np.lexsort((chosen, -values[chosen]))][:n]


@dataclass(frozen=True, slots=True, eq=False)
class RowVectors:
    """The unit vectors of some rows of one kind (chunks or sentences), for exact search:
    ``matrix[i]`` is the vector of row ``rows[i]``; ``rows`` ascend. Rows whose vectors the vector
    store does not hold are left out."""

    rows: np.ndarray
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of each row to ``vector``, in the order of ``rows``."""
        norm = float(np.linalg.norm(vector))
        return self.matrix @ (np.asarray(vector, dtype=np.float32) / max(norm, 1e-12))

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The ``n`` most similar rows, best first (ties by row), with their similarities."""
        if n <= 0 or not len(self):
            return []
        similarity = self.similarities(vector)
        return [(int(self.rows[i]), float(similarity[i])) for i in best_first(similarity, n)]

    def lookup(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """The vectors of those of ``rows`` that are here."""
        if not len(self) or not len(rows):
            return {}
        wanted = np.asarray(rows, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.rows, wanted), len(self.rows) - 1)
        return {int(row): self.matrix[i] for row, i in zip(wanted, at, strict=True) if self.rows[i] == row}


@dataclass(frozen=True, slots=True)
class SentenceRow:
    doc_id: str
    index: int
    vector_id: str
    chunk_row: int


class Snapshot:
    def __init__(self, stored: list[StoredDocument], generation: int = 0, links: list[SentenceLink] | None = None):
        """``links`` (``DocumentStore.sentence_links()``) join near-duplicate sentences into groups."""
        self.generation = generation
        self.documents: dict[str, Document] = {}
        self.chunks: list[Chunk] = []
        self.sentences: list[SentenceRow] = []
        self.chunk_sentence_rows: list[range] = []
        chunk_texts: list[list[str]] = []
        sentence_texts: list[list[str]] = []
        for item in stored:
            document = item.document
            self.documents[document.doc_id] = document
            first_row = len(self.chunks)
            chunk_rows = {chunk.chunk_id: first_row + i for i, chunk in enumerate(item.chunks)}
            sentence_base = len(self.sentences)
            for chunk in item.chunks:
                self.chunks.append(chunk)
                self.chunk_sentence_rows.append(
                    range(sentence_base + chunk.first_sentence, sentence_base + chunk.last_sentence + 1)
                )
                chunk_texts.append(analyse(chunk.text, document.language))
            for sentence, vector_id, chunk_id in zip(
                document.sentences, item.sentence_vector_ids, item.sentence_chunk_ids, strict=True
            ):
                self.sentences.append(SentenceRow(document.doc_id, sentence.index, vector_id, chunk_rows[chunk_id]))
                sentence_texts.append(analyse(document.sentence_text(sentence.index), document.language))
        document_number = {doc_id: number for number, doc_id in enumerate(self.documents)}
        #: The number (in ``documents`` order) of each chunk's and each sentence's document.
        self._chunk_document = np.fromiter(
            (document_number[chunk.doc_id] for chunk in self.chunks), dtype=np.int32, count=len(self.chunks)
        )
        self._sentence_document = np.fromiter(
            (document_number[s.doc_id] for s in self.sentences), dtype=np.int32, count=len(self.sentences)
        )
        self.chunk_row = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        self.sentence_row = {s.vector_id: row for row, s in enumerate(self.sentences)}
        self._groups = group_rows(self.sentences, links or [])
        self.chunk_lexical = LexicalIndex(chunk_texts)
        self.sentence_lexical = LexicalIndex(sentence_texts)
        self._allowed: dict[DocumentFilter, AllowedRows] = {}
        self._allowed_lock = threading.Lock()
        self._vectors: OrderedDict[tuple[str, DocumentFilter], RowVectors] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.documents)

    def allowed(self, article_filter: DocumentFilter | None) -> AllowedRows | None:
        """The rows ``article_filter`` admits; None when there is no filter (every row is admitted).
        Computed once per filter and kept: the next question with the same filter only looks it up."""
        if article_filter is None or article_filter.is_empty:
            return None
        with self._allowed_lock:
            if (found := self._allowed.get(article_filter)) is not None:
                return found
        admitted = np.fromiter(
            (article_filter.matches(document) for document in self.documents.values()),
            dtype=bool,
            count=len(self.documents),
        )
        chunks, sentences = admitted[self._chunk_document], admitted[self._sentence_document]
        found = AllowedRows(chunks, sentences, int(chunks.sum()), int(sentences.sum()))
        with self._allowed_lock:
            if len(self._allowed) >= _KEPT_FILTERS:
                self._allowed.pop(next(iter(self._allowed)))
            self._allowed[article_filter] = found
        return found

    def row_vectors(self, kind: str, article_filter: DocumentFilter, load: Callable[[], RowVectors]) -> RowVectors:
        """The vectors of the ``kind`` rows ``article_filter`` admits, from ``load`` the first time and
        kept (up to ``KEPT_VECTOR_ROWS`` rows over all filters): the next question with the same filter
        searches them without the vector store."""
        key = (kind, article_filter)
        with self._vectors_lock:
            if (found := self._vectors.get(key)) is not None:
                self._vectors.move_to_end(key)
                return found
        found = load()
        with self._vectors_lock:
            self._vectors[key] = found
            kept = sum(len(vectors) for vectors in self._vectors.values())
            while kept > KEPT_VECTOR_ROWS and len(self._vectors) > 1:
                kept -= len(self._vectors.popitem(last=False)[1])
        return found

    def group_of(self, row: int) -> int:
        """The group of sentence ``row``: the first row of its group, or ``row`` itself when no other
        article has the sentence."""
        members = self._groups.get(row)
        return members[0] if members else row

    def members(self, row: int) -> tuple[int, ...]:
        """The rows of ``row``'s group in row order, ``row`` among them; ``(row,)`` when it has none."""
        return self._groups.get(row, (row,))

    def sentence_text(self, row: int) -> str:
        sentence = self.sentences[row]
        return self.documents[sentence.doc_id].sentence_text(sentence.index)


def group_rows(sentences: Sequence[SentenceRow], links: list[SentenceLink]) -> dict[int, tuple[int, ...]]:
    """Each grouped sentence row → the rows of its group (union-find over the links). Links to
    sentences the snapshot does not hold are ignored."""
    row_of = {(s.doc_id, s.index): row for row, s in enumerate(sentences)} if links else {}
    parent: dict[int, int] = {}

    def root(row: int) -> int:
        while (up := parent.get(row, row)) != row:
            parent[row] = parent.get(up, up)
            row = up
        return row

    linked: set[int] = set()
    for link in links:
        a, b = row_of.get((link.doc_id, link.index)), row_of.get((link.other_doc, link.other_index))
        if a is not None and b is not None and a != b:
            linked.update((a, b))
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    found: dict[int, list[int]] = {}
    for row in linked:
        found.setdefault(root(row), []).append(row)
    groups: dict[int, tuple[int, ...]] = {}
    for rows in found.values():
        members = tuple(sorted(rows))
        for row in members:
            groups[row] = members
    return groups
