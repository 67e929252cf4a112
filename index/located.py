"""A sentence where it stands: the one record that retrieval hits, copies and citations share."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, fields
from typing import Any, Self

from index.documents import Document


@dataclass(frozen=True, slots=True)
class LocatedSentence:
    """Sentence ``sentence_index`` of article ``doc_id``, verbatim ``document.text[start:end]``, with
    what a reader needs to find the article: its title, file, date, outlet and address."""

    doc_id: str
    title: str
    #: The file the article was read from.
    source: str
    sentence_index: int
    sentence: str
    start: int
    end: int
    _: KW_ONLY
    date: str | None = None
    publisher: str | None = None
    #: The article's address, when known.
    url: str | None = None

    @classmethod
    def of(cls, document: Document, index: int, **extra: Any) -> Self:
        """Sentence ``index`` of ``document``; ``extra`` fills a subclass's own fields."""
        sentence = document.sentences[index]
        return cls(
            document.doc_id,
            document.title,
            document.source,
            sentence.index,
            document.text[sentence.start : sentence.end],
            sentence.start,
            sentence.end,
            date=document.date,
            publisher=document.publisher,
            url=document.url,
            **extra,
        )

    def location(self) -> dict[str, Any]:
        """The fields of the located sentence alone, to make another record of the same sentence."""
        return {field.name: getattr(self, field.name) for field in fields(LocatedSentence)}

    def located(self) -> LocatedSentence:
        """This sentence as a plain located sentence (a copy listed under another hit or citation)."""
        return LocatedSentence(**self.location())

    @property
    def outlet(self) -> str:
        """Who printed it: the publisher where known, else the article's title."""
        return self.publisher or self.title
