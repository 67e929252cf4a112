"""The metadata that lets the vector store filter by date and outlet, on chunks and sentences alike.

Chroma compares ``$gte``/``$lte`` only on numbers, so a date is kept as the first and last day it
covers, as numbers YYYYMMDD (``date_from``, ``date_to``: a month covers all its days), and an outlet
as ``publisher_key``, its name casefolded with white space collapsed. A document without a date or
an outlet carries no such key, so no date or outlet filter admits it.

Indexes written before these keys existed get them in place, without embedding anything again
(``migrate``); the document store records the version of the metadata the vectors carry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from index.dates import date_range, normalise_date
from index.docstore import DocumentStore, StoredDocument
from index.vectors import CHUNKS, SENTENCES, VectorStore

log = logging.getLogger(__name__)

#: 1: ``date_from``, ``date_to`` and ``publisher_key`` on chunks and sentences.
METADATA_VERSION = 1
_VERSION_KEY = "metadata_version"


def publisher_key(publisher: str | None) -> str | None:
    """How outlets are compared: "  DPA " and "dpa" are one outlet."""
    key = " ".join((publisher or "").split()).casefold()
    return key or None


def day_span(date: str | None) -> tuple[int, int] | None:
    """The first and last day a document's date covers, as numbers YYYYMMDD; None without a date."""
    iso = normalise_date(date)
    return date_range(iso) if iso else None


def filter_metadata(date: str | None, publisher: str | None) -> dict[str, int | str]:
    """The filter keys of every vector of a document with this date and outlet."""
    metadata: dict[str, int | str] = {}
    if span := day_span(date):
        metadata["date_from"], metadata["date_to"] = span
    if key := publisher_key(publisher):
        metadata["publisher_key"] = key
    return metadata


def metadata_version(docstore: DocumentStore) -> int:
    return int(docstore.get_meta(_VERSION_KEY) or 0)


def is_current(docstore: DocumentStore) -> bool:
    """Whether every vector of the index carries the filter keys of ``METADATA_VERSION``."""
    return metadata_version(docstore) >= METADATA_VERSION


def record_current(docstore: DocumentStore) -> None:
    """Record that every vector carries the current filter keys (a new index's were written with them)."""
    docstore.set_meta(_VERSION_KEY, str(METADATA_VERSION))


def migrate(docstore: DocumentStore, vectors: VectorStore, stored: Iterable[StoredDocument] | None = None) -> int:
    """Give every vector of the documents in ``docstore`` its filter keys in place (the vectors stay as
    they are), then record the version. Returns how many vectors were updated. Safe to repeat: a run
    stopped half way leaves the version unrecorded, and the next run does it again."""
    updated: dict[str, tuple[list[str], list[dict]]] = {CHUNKS: ([], []), SENTENCES: ([], [])}
    for item in docstore.load_all() if stored is None else stored:
        metadata = filter_metadata(item.document.date, item.document.publisher)
        if not metadata:
            continue
        for kind, ids in ((CHUNKS, [c.chunk_id for c in item.chunks]), (SENTENCES, item.sentence_vector_ids)):
            updated[kind][0].extend(ids)
            updated[kind][1].extend([metadata] * len(ids))
    for kind, (ids, metadatas) in updated.items():
        vectors.update_metadata(kind, ids, metadatas)
    record_current(docstore)
    count = sum(len(ids) for ids, _ in updated.values())
    log.info("added date and outlet metadata to %d vectors (metadata version %d)", count, METADATA_VERSION)
    return count
