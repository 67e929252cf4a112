"""Typed records of the corpus: documents, their sentences, and the chunks that cover them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sentence:
    doc_id: str
    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive sentences ``first..last`` (inclusive) of one document: the unit of recall."""

    chunk_id: str
    doc_id: str
    first_sentence: int
    last_sentence: int
    text: str
    tokens: int


@dataclass(slots=True)
class Document:
    """One article. ``text`` is the exact stored text every offset refers to (NFC, cleaned)."""

    doc_id: str
    title: str
    source: str
    text: str
    date: str | None = None
    publisher: str | None = None
    author: str | None = None
    language: str = "de"
    #: Where the article can be read: the record's or page's address, when known.
    url: str | None = None
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored for the document changes, metadata included."""
        parts = (self.text, self.title, self.date, self.publisher, self.author)
        if self.url:  # only where there is one, so that documents without keep their earlier hash
            parts += (self.url,)
        joined = "\x1f".join(part or "" for part in parts)
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()

    def sentence_text(self, index: int) -> str:
        sentence = self.sentences[index]
        return self.text[sentence.start : sentence.end]

    def vector_id(self, kind: str, first: int, last: int) -> str:
        """Content-addressed id of a vector-store entry: the same document version and span
        always give the same id, so an interrupted run resumes without embedding twice."""
        digest = hashlib.sha1(f"{self.content_hash}:{first}:{last}".encode()).hexdigest()[:16]
        return f"{self.doc_id}:{kind}:{first}-{last}:{digest}"
