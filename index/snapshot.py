"""An in-memory snapshot of the document store, shaped for retrieval: documents, chunks and
sentences as rows, BM25 over both, and the groups of near-duplicate sentences (one statement that
several articles print). Built once per index generation (by ``index.Index``), not per question."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
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


@dataclass(frozen=True, slots=True)
class AllowedRows:
    """The chunk and sentence rows a filter admits, as masks over ``Snapshot.chunks`` and ``.sentences``."""

    chunks: np.ndarray
    sentences: np.ndarray
    chunk_count: int
    sentence_count: int


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
        self.chunk_row = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        self.sentence_row = {s.vector_id: row for row, s in enumerate(self.sentences)}
        self._groups = group_rows(self.sentences, links or [])
        self.chunk_lexical = LexicalIndex(chunk_texts)
        self.sentence_lexical = LexicalIndex(sentence_texts)
        self._allowed: dict[DocumentFilter, AllowedRows] = {}
        self._allowed_lock = threading.Lock()

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
        admitted = {doc_id for doc_id, document in self.documents.items() if article_filter.matches(document)}
        chunks = np.fromiter((chunk.doc_id in admitted for chunk in self.chunks), dtype=bool, count=len(self.chunks))
        sentences = np.fromiter((s.doc_id in admitted for s in self.sentences), dtype=bool, count=len(self.sentences))
        found = AllowedRows(chunks, sentences, int(chunks.sum()), int(sentences.sum()))
        with self._allowed_lock:
            if len(self._allowed) >= _KEPT_FILTERS:
                self._allowed.pop(next(iter(self._allowed)))
            self._allowed[article_filter] = found
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
