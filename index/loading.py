"""Find article files, read them safely, and turn each into cleaned ``Document``s.

A text, Markdown, HTML or PDF file is one article; a JSON Lines or CSV/TSV dump and an RSS or Atom
feed hold many (``index.records``, ``index.feeds``). Every file, and every record of a dump, that
cannot be used is reported once with a reason (and its line), and the others go on.
"""

from __future__ import annotations

import codecs
import logging
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from index.documents import Document
from index.feeds import FEED_SUFFIXES, FeedError, read_feed
from index.formats import Parsed, parse_html, parse_markdown, parse_text
from index.language import detect_language
from index.pdf import PDF_SUFFIXES, PdfError, parse_pdf
from index.records import (
    DUMP_SUFFIXES,
    JSON_LINES_SUFFIXES,
    DumpResult,
    NotADumpError,
    RecordSkip,
    describe_names,
    dump_rows,
    field_names,
    has_text_field,
    iter_dump,
    unmapped_fields,
)

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"}) | PDF_SUFFIXES
#: Files of many articles: dumps and feeds. Their size limit is per record, not per file.
ARCHIVE_SUFFIXES = DUMP_SUFFIXES | FEED_SUFFIXES
SUPPORTED_SUFFIXES = ARTICLE_SUFFIXES | ARCHIVE_SUFFIXES
_FALLBACK_ENCODING = "cp1252"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: The start of a file that ``decode`` looks at for binary data.
_SAMPLE_BYTES = 8192


class LoadError(Exception):
    """A file that cannot be indexed; the message says why in one sentence."""


class NotArticlesError(LoadError):
    """A dump none of whose records has a text field: other data (a question set), not articles."""


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str
    #: The line of a dump (or the entry of a feed) the record starts on; None for a whole file.
    line: int | None = None

    @property
    def where(self) -> str:
        if self.line is None:
            return self.path
        return f"{self.path} {'entry' if Path(self.path).suffix.lower() in FEED_SUFFIXES else 'line'} {self.line}"


@dataclass(slots=True)
class FileRecords:
    """The records of one dump or feed: how many it holds, and how many of them were not indexed."""

    total: int = 0
    skipped: int = 0


@dataclass(slots=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Archive files that were read, and the ids of every record they hold (usable or not): an
    #: indexed record of such a file whose id is not among them has been deleted from it.
    archives: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    #: Every dump or feed read, by path: its records and how many of them were skipped.
    records: dict[str, FileRecords] = field(default_factory=dict)


class MissingFieldsError(LoadError):
    """A dump without a field that ``--fields`` names: none of its ``records`` is read."""

    def __init__(self, message: str, records: int):
        super().__init__(message)
        self.records = records


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand files and folders (recursively) into supported article files, in a stable order."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in paths:
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            files.extend(sorted(found))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                skipped.append(Skipped(str(path), f"unsupported file type '{path.suffix}'"))
        else:
            skipped.append(Skipped(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, skipped


def load_documents(paths: list[Path], max_bytes: int, fields: Mapping[str, str] | None = None) -> LoadResult:
    """Every article under ``paths``; ``fields`` maps a dump's column names (``{"text": "body"}``)."""
    result = LoadResult()
    result.documents = list(stream_documents(paths, max_bytes, fields, result))
    return result


def stream_documents(
    paths: list[Path], max_bytes: int, fields: Mapping[str, str] | None, result: LoadResult
) -> Iterator[Document]:
    """Every article under ``paths``, one at a time, as the files are read: a dump is never held in
    memory whole. ``result`` collects, file by file, what was skipped and why, the warnings, the
    archives read with the ids they hold, and each archive's record counts; its ``documents`` stay
    empty. A file's skipped records are added when the file has been read to its end."""
    files, skipped = discover(paths)
    result.skipped += skipped
    named = {path.resolve() for path in paths if path.is_file()}
    seen: dict[str, str] = {}
    for path in files:
        yield from _stream_file(path, path in named, max_bytes, fields, result, seen)


def _stream_file(
    path: Path,
    named: bool,
    max_bytes: int,
    fields: Mapping[str, str] | None,
    result: LoadResult,
    seen: dict[str, str],
) -> Iterator[Document]:
    """The articles of one file not already read from another (``seen``: id → where), into ``result``."""
    name = str(path)
    counts = FileRecords()
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        result.records[name] = counts
    read = FileLoad()
    duplicates: list[Skipped] = []
    try:
        for document, line in iter_file(path, max_bytes, fields, read):
            counts.total += 1
            if document.doc_id in seen:
                reason = f"same document id '{document.doc_id}' as {seen[document.doc_id]}; rename one"
                duplicates.append(Skipped(name, reason, line))
                continue
            seen[document.doc_id] = name if line is None else f"{name} line {line}"
            yield document
    except MissingFieldsError as error:
        counts.total = counts.skipped = error.records
        result.skipped.append(Skipped(name, str(error)))
        log.info("skipped %s: %s", path, error)
        return
    except LoadError as error:
        result.records.pop(name, None)
        # Other data beside the articles (a question set, an export) is reported only when named.
        if named or not isinstance(error, NotArticlesError):
            result.skipped.append(Skipped(name, str(error)))
        log.info("skipped %s: %s", path, error)
        return
    if name in result.records:
        result.archives.add(name)
        result.present |= read.present
    counts.total += len(read.skipped)
    counts.skipped += len(read.skipped) + len(duplicates)
    result.skipped += sorted(read.skipped + duplicates, key=lambda skip: skip.line or 0)
    result.warnings += [f"{path}: {warning}" for warning in read.warnings]


@dataclass(slots=True)
class FileLoad:
    """The articles of one file, with the line each record starts on (None for a one-article file)."""

    documents: list[Document] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    present: set[str] = field(default_factory=set)


def load_file(path: Path, max_bytes: int, fields: Mapping[str, str] | None = None) -> FileLoad:
    """The articles of one file of any supported kind; ``LoadError`` when the file as a whole cannot
    be used. Records of a dump or feed that cannot be used are in ``skipped`` with their line."""
    out = FileLoad()
    for document, line in iter_file(path, max_bytes, fields, out):
        out.documents.append(document)
        out.lines.append(line)
    return out


def iter_file(
    path: Path, max_bytes: int, fields: Mapping[str, str] | None, out: FileLoad
) -> Iterator[tuple[Document, int | None]]:
    """The articles of one file, one at a time, with the line each record starts on (None for a
    one-article file); ``out`` collects the skipped records, warnings and ids (its ``documents`` stay
    empty). ``LoadError`` when the file as a whole cannot be used."""
    suffix = path.suffix.lower()
    if suffix not in ARCHIVE_SUFFIXES:
        document, warning = load_document(path, max_bytes)
        out.warnings += [warning] if warning else []
        out.present.add(document.doc_id)
        yield document, None
    elif suffix in FEED_SUFFIXES:
        yield from _iter_feed(path, max_bytes, out)
    else:
        yield from _iter_dump(path, max_bytes, fields or {}, out)


def _iter_feed(path: Path, max_bytes: int, out: FileLoad) -> Iterator[tuple[Document, int | None]]:
    raw = _read(path, None)
    if not raw.strip():
        raise LoadError("file is empty")
    try:
        feed = read_feed(path, raw, max_bytes)
    except FeedError as error:
        raise LoadError(str(error)) from error
    if not feed.documents and not feed.skipped:
        raise LoadError("the file holds no records")
    _collect(feed, path, out)
    for document in feed.documents:
        yield document, feed.lines.get(document.doc_id)


def _iter_dump(
    path: Path, max_bytes: int, fields: Mapping[str, str], out: FileLoad
) -> Iterator[tuple[Document, int | None]]:
    """A JSON Lines or CSV dump, read line by line (after a first pass that checks its encoding, and
    one that checks the names ``fields`` maps)."""
    encoding = _survey(path)
    if fields:
        _check_fields(path, encoding, fields, max_bytes)
    dump = DumpResult(warnings=[encoding.warning] if encoding.warning else [])
    found = 0
    try:
        for document, line in iter_dump(path, _dump_lines(path, encoding), fields, max_bytes, dump):
            found += 1
            yield document, line
    except NotADumpError as error:
        raise NotArticlesError(str(error)) from error
    dump.skipped += [RecordSkip(line, "not valid UTF-8 (another encoding?)") for line in encoding.bad_lines]
    if not found and not dump.skipped:
        raise LoadError("the file holds no records")
    _collect(dump, path, out)


def _collect(dump: DumpResult, path: Path, out: FileLoad) -> None:
    out.warnings += dump.warnings
    out.present |= dump.present
    out.skipped += [Skipped(str(path), skip.reason, skip.line) for skip in sorted(dump.skipped, key=lambda s: s.line)]


def _check_fields(path: Path, encoding: _Encoding, fields: Mapping[str, str], max_bytes: int) -> None:
    """``MissingFieldsError`` when the dump holds articles but lacks a field ``fields`` names: then the
    mapping is another dump's, and its records would be lost without a word. A file with no text field
    by any name is other data, which the reading itself reports."""
    names = field_names(path, _dump_lines(path, encoding), max_bytes)
    missing = unmapped_fields(fields, names)
    if not missing or not has_text_field(fields, names):
        return
    records = len(encoding.bad_lines) + sum(1 for _ in dump_rows(path, _dump_lines(path, encoding), max_bytes))
    if not records:
        return
    spec = ",".join(f"{name}={column}" for name, column in missing.items())
    absent = ", ".join(f"'{column}'" for column in missing.values())
    noun = "keys" if path.suffix.lower() in JSON_LINES_SUFFIXES else "columns"
    raise MissingFieldsError(
        f"no field {absent} (--fields {spec}); its {noun} are {describe_names(names)}; "
        f"all {records} of its records skipped",
        records,
    )


def load_document(path: Path, max_bytes: int) -> tuple[Document, str | None]:
    """Read a file of one article (text, Markdown, HTML, PDF). Returns the document and a warning
    (such as a fallback encoding), or raises ``LoadError``."""
    raw = _read(path, max_bytes)
    suffix = path.suffix.lower()
    warning = None
    if suffix in PDF_SUFFIXES:
        try:
            parsed = parse_pdf(raw)
        except PdfError as error:
            raise LoadError(str(error)) from error
    else:
        text, warning = decode(raw)
        text = _normalise(text)
        if not text.strip():
            raise LoadError("file is empty")
        parsed = _parse(text, suffix)
    parsed.text = _normalise(parsed.text)
    if not parsed.text.strip():
        raise LoadError("file has no article text")
    document = Document(
        doc_id=path.stem,
        title=parsed.title or path.stem,
        source=str(path),
        text=parsed.text,
        date=parsed.date,
        publisher=parsed.publisher,
        author=parsed.author,
        language=detect_language(parsed.text[:5000]),
        url=parsed.url,
    )
    return document, warning


def _parse(text: str, suffix: str) -> Parsed:
    if suffix in {".html", ".htm"}:
        return parse_html(text)
    if suffix in {".md", ".markdown"}:
        return parse_markdown(text)
    return parse_text(text)


def _read(path: Path, max_bytes: int | None) -> bytes:
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise LoadError(f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes")
        return path.read_bytes()
    except OSError as error:
        raise LoadError(f"cannot read file ({error.strerror or error})") from error


@dataclass(frozen=True, slots=True)
class _Encoding:
    """How a dump is decoded: UTF-8 (with the numbers of the few lines that are not, which are read
    as blank and reported), UTF-16, or Windows-1252 when most lines are not UTF-8."""

    codec: str
    bad_lines: tuple[int, ...] = ()
    warning: str | None = None


def _survey(path: Path) -> _Encoding:
    """A first pass over a dump, line by line: its encoding, or ``LoadError`` for an empty, binary or
    unreadable file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
            handle.seek(0)
            if head.startswith(_UTF16_BOMS):
                _check_utf16(handle)
                return _Encoding("utf-16")
            return _survey_utf8(handle, head)
    except OSError as error:
        raise LoadError(f"cannot read file ({error.strerror or error})") from error


def _check_utf16(handle: BinaryIO) -> None:
    decoder = codecs.getincrementaldecoder("utf-16")()
    try:
        while block := handle.read(1 << 20):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise LoadError("file is neither text nor valid UTF-16") from error


def _survey_utf8(handle: BinaryIO, head: bytes) -> _Encoding:
    bad: list[int] = []
    content = False
    pieces = 1  # as ``raw.split(b"\n")`` counts them: one more than the line breaks
    for number, raw in enumerate(handle, start=1):
        if number == 1:
            raw = raw.removeprefix(_UTF8_BOM)
        content = content or bool(raw.strip())
        pieces += raw.endswith(b"\n")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    if not content:
        raise LoadError("file is empty")
    if len(bad) > pieces // 2:
        decode(head)  # binary data is refused here
        warning = f"not valid UTF-8; read as {_FALLBACK_ENCODING}, check its umlauts"
        return _Encoding(_FALLBACK_ENCODING, warning=warning)
    return _Encoding("utf-8", tuple(bad))


def _dump_lines(path: Path, encoding: _Encoding) -> Iterator[str]:
    """A dump's lines, decoded and cleaned as ``_normalise`` cleans a whole text, one at a time."""
    try:
        if encoding.codec == "utf-16":
            with path.open(encoding="utf-16", newline=None) as text:
                for line in text:
                    yield from _normalise(line.removesuffix("\n")).split("\n")
            return
        bad = set(encoding.bad_lines)
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                raw = raw.removeprefix(_UTF8_BOM) if number == 1 else raw
                line = "" if number in bad else _decode_line(raw.removesuffix(b"\n"), encoding.codec)
                yield from _normalise(line.removesuffix("\r")).split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise LoadError(f"cannot read file ({getattr(error, 'strerror', None) or error})") from error


def _decode_line(raw: bytes, codec: str) -> str:
    if codec == "utf-8":
        return raw.decode("utf-8")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode(raw: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; anything else falls back to Windows-1252
    with a warning. Binary data raises ``LoadError``."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), None
        except UnicodeDecodeError as error:
            raise LoadError("file is neither text nor valid UTF-16") from error
    if b"\x00" in raw[:8192]:
        raise LoadError("file is binary, not text")
    try:
        text, warning = raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        try:
            text = raw.decode(_FALLBACK_ENCODING)
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        warning = f"not valid UTF-8; read as {_FALLBACK_ENCODING}, check its umlauts"
    sample = text[:8192]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if sample and controls / len(sample) > 0.05:
        raise LoadError("file is binary, not text")
    return text, warning


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return "\n".join(line.rstrip() for line in text.split("\n"))
