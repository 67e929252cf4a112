"""RSS 2.0, RSS 1.0 and Atom feed files, read by feedparser: one entry is one article.

An entry's text is its full content (``content:encoded``, Atom ``content``) where the feed carries
it, else its summary; markup is removed. Entries are numbered from 1 in the order of the file, which
is how a bad entry is reported.
"""

from __future__ import annotations

import time
from pathlib import Path

from index.dates import normalise_date
from index.records import DumpResult, RecordError, RecordSkip, record_document

FEED_SUFFIXES = frozenset({".rss", ".atom", ".xml"})


class FeedError(Exception):
    """A file that is not a feed at all."""


def read_feed(path: Path, raw: bytes, max_bytes: int) -> DumpResult:
    import feedparser

    parsed = feedparser.parse(raw)
    if not parsed.entries:
        if parsed.get("bozo"):
            raise FeedError(f"not a readable RSS or Atom feed ({parsed.bozo_exception})")
        raise FeedError("the feed has no entries")
    outlet = parsed.feed.get("title") or None
    result = DumpResult()
    if parsed.get("bozo"):
        result.warnings.append(f"the feed is not well-formed ({parsed.bozo_exception}); read what could be read")
    seen: dict[str, int] = {}
    for number, entry in enumerate(parsed.entries, start=1):
        contents = entry.get("content") or []
        record = {
            "id": entry.get("id") or "",
            "url": entry.get("link") or "",
            "title": entry.get("title") or "",
            "text": max((c.get("value", "") for c in contents), key=len, default="") or entry.get("summary", ""),
            "date": _date(entry),
            "source": entry.get("source", {}).get("title") or outlet or "",
            "author": entry.get("author") or "",
        }
        # A guid is an address or a feed-wide id; the feed's own name scopes neither, so it is not a
        # file-scoped id like a dump's row id.
        record_id = record.pop("id")
        record["url"] = record["url"] or (record_id if record_id.startswith("http") else "")
        try:
            document = record_document(record, {}, path, max_bytes)
        except RecordError as error:
            result.skipped.append(RecordSkip(number, str(error)))
            continue
        if record_id and not record_id.startswith("http"):
            document.doc_id = f"{path.stem}#{record_id}"
        result.present.add(document.doc_id)
        if document.doc_id in seen:
            result.skipped.append(RecordSkip(number, f"same id '{document.doc_id}' as entry {seen[document.doc_id]}"))
            continue
        seen[document.doc_id] = result.lines[document.doc_id] = number
        result.documents.append(document)
    return result


def _date(entry: dict) -> str:
    """The entry's publication date: as the feed wrote it (its own day, in its own time zone), else
    as feedparser read it (in UTC)."""
    for key in ("published", "updated", "created"):
        if normalise_date(entry.get(key)):
            return entry[key]
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return time.strftime("%Y-%m-%d", value)
    return ""
