"""Archives of many articles in one file: JSON Lines and CSV/TSV dumps, one article per record.

A record's fields are found by their common names (``title``; ``text``, ``content`` or ``body``;
``date`` or ``published``; ``source``, ``publisher`` or ``outlet``; ``url``; ``author``; ``id``), in any
case; ``fields`` maps other names (``{"text": "body", "date": "pubDate"}``). Every record becomes one
``Document`` or one ``Skipped`` with its line number and the reason: a record is never half-indexed.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.dates import normalise_date
from index.documents import Document
from index.formats import clean_fragment
from index.language import detect_language

JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
DUMP_SUFFIXES = JSON_LINES_SUFFIXES | {".csv", ".tsv"}
FIELDS = ("id", "title", "text", "date", "source", "url", "author")
#: The names each field goes by in the dumps of scrapers, feed readers and news datasets.
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "guid", "uuid", "article_id", "doc_id", "_id"),
    "title": ("title", "headline", "heading", "titel", "überschrift"),
    "text": ("text", "content", "body", "article", "maintext", "fulltext", "full_text", "article_text", "inhalt"),
    "date": (
        "date", "published", "pubdate", "published_at", "publish_date", "date_publish", "publication_date",
        "datetime", "time", "created_at", "datum", "updated",
    ),
    "source": ("source", "publisher", "outlet", "site_name", "sitename", "site", "source_name", "medium", "quelle"),
    "url": ("url", "link", "href", "source_url", "permalink", "canonical_url"),
    "author": ("author", "authors", "byline", "creator", "autor"),
}  # fmt: skip
#: Field names of a JSON Lines file collected for a message, at most.
_MAX_NAMES = 200
_TAG = re.compile(r"<(?:p|br|div|a|span|b|i|em|strong|h\d|ul|li|img|figure)\b[^>]*>", re.I)


class RecordError(Exception):
    """A record that cannot be indexed; the message says why in one sentence."""


class NotADumpError(Exception):
    """A JSON Lines or CSV file none of whose records has a text field: other data, such as a question
    set, not articles."""


@dataclass(frozen=True, slots=True)
class RecordSkip:
    line: int
    reason: str


@dataclass(slots=True)
class DumpResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[RecordSkip] = field(default_factory=list)
    #: Ids of every record the file holds, usable or not: a known article missing here was deleted.
    present: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    #: The line (or entry) each document's record starts on, by document id.
    lines: dict[str, int] = field(default_factory=dict)


def parse_fields(spec: str | None) -> dict[str, str]:
    """``"text=body,date=pubDate"`` as ``{"text": "body", "date": "pubDate"}``; ``ValueError`` with
    the reason for anything else."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, column = (piece.strip() for piece in part.partition("="))
        if not sep or not column:
            raise ValueError(f"'{part.strip()}' is not FIELD=NAME (for example text=body)")
        if name not in FIELDS:
            raise ValueError(f"'{name}' is not a field; the fields are {', '.join(FIELDS)}")
        mapping[name] = column
    return mapping


def read_dump(path: Path, text: str, fields: Mapping[str, str] | None, max_bytes: int) -> DumpResult:
    """The records of a decoded dump file; its suffix says whether it is JSON Lines or CSV/TSV.
    ``NotADumpError`` when no record has a text field at all."""
    result = DumpResult()
    for document, line in iter_dump(path, text.split("\n"), fields, max_bytes, result):
        result.documents.append(document)
        result.lines[document.doc_id] = line
    return result


def iter_dump(
    path: Path, lines: Iterable[str], fields: Mapping[str, str] | None, max_bytes: int, out: DumpResult
) -> Iterator[tuple[Document, int]]:
    """The usable records of a dump, one at a time, as it reads ``lines`` (the file's decoded lines),
    each with the line it starts on; the records it cannot use go to ``out.skipped`` and every id to
    ``out.present``. ``NotADumpError`` at the end when no record had a text field at all."""
    fields = fields or {}
    seen: dict[str, int] = {}
    texts: dict[bytes, int] = {}
    records = with_text = 0
    for line, row in dump_rows(path, lines, max_bytes):
        if isinstance(row, dict):
            records += 1
            with_text += _value(row, "text", fields) != ""
        try:
            if isinstance(row, RecordError):
                raise row
            document = record_document(row, fields, path, max_bytes)
        except RecordError as error:
            out.skipped.append(RecordSkip(line, str(error)))
            if isinstance(row, dict) and (known := _record_id(row, fields, path)):
                out.present.add(known)
            continue
        out.present.add(document.doc_id)
        digest = hashlib.sha1(document.text.encode()).digest()
        if document.doc_id in seen:
            out.skipped.append(RecordSkip(line, f"same id '{document.doc_id}' as line {seen[document.doc_id]}"))
        elif digest in texts:
            out.skipped.append(RecordSkip(line, f"same text as line {texts[digest]} (a duplicate)"))
        else:
            seen[document.doc_id] = texts[digest] = line
            yield document, line
    if records and not with_text:
        wanted = fields.get("text") or "text, content or body"
        raise NotADumpError(f"no record has a text field ({wanted}); name it with --fields text=NAME")


def dump_rows(path: Path, lines: Iterable[str], max_bytes: int) -> Iterator[tuple[int, dict | RecordError]]:
    """The records of a dump as dicts (or the error that makes one unreadable), with their lines."""
    if path.suffix.lower() in JSON_LINES_SUFFIXES:
        return _json_lines(lines)
    return _csv_rows(lines, path, max_bytes)


def field_names(path: Path, lines: Iterable[str], max_bytes: int) -> list[str]:
    """The names of a dump's fields: a CSV's header, or every key of a JSON Lines file's records (in the
    order they first appear, at most ``_MAX_NAMES``)."""
    if path.suffix.lower() not in JSON_LINES_SUFFIXES:
        try:
            header = next(_csv_reader(iter(lines), path, max_bytes), [])
        except csv.Error:
            header = []
        return [name for name in header if name.strip()]
    names: dict[str, None] = {}
    for _, row in _json_lines(lines):
        if isinstance(row, dict):
            names.update((str(key), None) for key in row if len(names) < _MAX_NAMES)
    return list(names)


def unmapped_fields(fields: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The ``fields`` (field: name) whose name is none of ``names``, in any case."""
    held = {name.strip().lower() for name in names}
    return {field_name: column for field_name, column in fields.items() if column.strip().lower() not in held}


def has_text_field(fields: Mapping[str, str], names: Iterable[str]) -> bool:
    """Whether a file with these field names holds articles: its text field by the mapped name or by a
    common one."""
    held = {name.strip().lower() for name in names}
    wanted = {fields["text"].strip().lower()} if "text" in fields else set()
    return bool(held & (wanted | set(COMMON_NAMES["text"])))


def describe_names(names: list[str], limit: int = 12) -> str:
    """Field names for a message: the first ``limit``, and how many more."""
    shown = ", ".join(names[:limit]) or "none"
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def record_document(row: Mapping[str, Any], fields: Mapping[str, str], path: Path, max_bytes: int) -> Document:
    """One record as a ``Document``, or ``RecordError``."""
    values = {name: _value(row, name, fields) for name in FIELDS}
    raw_text = values["text"]
    if not raw_text:
        wanted = fields.get("text") or "text, content or body"
        raise RecordError(f"no text (looked for the field {wanted})")
    if len(raw_text.encode("utf-8")) > max_bytes:
        raise RecordError(f"the text is {len(raw_text.encode('utf-8')):,} bytes, over the limit of {max_bytes:,}")
    body = clean_fragment(raw_text) if _TAG.search(raw_text) else _plain(raw_text)
    if not body.strip():
        raise RecordError("no text after removing the markup")
    date = None
    if values["date"]:
        date = normalise_date(values["date"])
        if date is None:
            raise RecordError(f"the date '{_short(values['date'])}' cannot be read")
    title = _plain(values["title"] or "").replace("\n", " ") or _first_line(body)
    return Document(
        doc_id=_record_id(row, fields, path) or "sha1-" + hashlib.sha1(body.encode()).hexdigest()[:16],
        title=title,
        source=str(path),
        text=body,
        date=date,
        publisher=_plain(values["source"] or "") or None,
        author=_plain(values["author"] or "") or None,
        language=detect_language(body[:5000]),
        url=values["url"] or None,
    )


def _record_id(row: Mapping[str, Any], fields: Mapping[str, str], path: Path) -> str | None:
    """The record's own id, scoped by its file (two dumps may both number from 1), else its URL."""
    if own := _value(row, "id", fields):
        return f"{path.stem}#{own}"
    return _value(row, "url", fields) or None


def _value(row: Mapping[str, Any], name: str, fields: Mapping[str, str]) -> str:
    keys = {str(key).strip().lower(): key for key in row}
    names = (fields[name],) if name in fields else COMMON_NAMES[name]
    for candidate in names:
        key = keys.get(candidate.lower())
        if key is not None and (value := _flatten(row[key])):
            return value
    return ""


def _flatten(value: Any) -> str:
    """A field's value as text: a list is joined ("authors"), an object gives its name ("source":
    {"name": "dpa"}), anything else is ``str``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(part for part in (_flatten(item) for item in value) if part)
    if isinstance(value, dict):
        for key in ("name", "title", "value", "href", "text"):
            if key in value:
                return _flatten(value[key])
        return ""
    return str(value).strip()


def _json_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict | RecordError]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, RecordError(f"not valid JSON: {error.msg} column {error.colno}")
            continue
        if not isinstance(row, dict):
            yield number, RecordError(f"a JSON {type(row).__name__}, not an object with fields")
            continue
        yield number, row


def _csv_rows(lines: Iterable[str], path: Path, max_bytes: int) -> Iterator[tuple[int, dict | RecordError]]:
    """Rows of a CSV or TSV file as dicts keyed by its header; the delimiter (comma, semicolon or tab)
    is sniffed from the header line. Line numbers are those of the file (a quoted field may span lines)."""
    reader = _csv_reader(iter(lines), path, max_bytes)
    try:
        names = next(reader)
    except (StopIteration, csv.Error):
        return
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield line, RecordError(f"not a readable {path.suffix.lstrip('.').upper()} row ({error})")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(names):
            yield line, RecordError(f"{len(cells)} fields where the header names {len(names)}")
            continue
        yield line, dict(zip(names, cells, strict=False))


def _csv_reader(lines: Iterator[str], path: Path, max_bytes: int) -> Iterator[list[str]]:
    """A ``csv.reader`` over the lines, its delimiter taken from the header line (the first)."""
    header = next(lines, "")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else max(",;\t|", key=header.count)
    csv.field_size_limit(max(max_bytes, 131072))
    rows = (line + "\n" for line in itertools.chain([header], lines))
    return csv.reader(rows, delimiter=delimiter)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\r\t" or unicodedata.category(ch) != "Cc")
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _first_line(text: str) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= 140 else line[:140].rsplit(" ", 1)[0] + " …"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"
