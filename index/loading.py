"""Find article files, read them safely, and turn each into cleaned ``Document``s.

A text, Markdown, HTML or PDF file is one article; a JSON Lines or CSV/TSV dump and an RSS or Atom
feed hold many (``index.records``, ``index.feeds``). Every file, and every record of a dump, that
cannot be used is reported once with a reason (and its line), and the others go on.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Document
from index.feeds import FEED_SUFFIXES, FeedError, read_feed
from index.formats import Parsed, parse_html, parse_markdown, parse_text
from index.language import detect_language
from index.pdf import PDF_SUFFIXES, PdfError, parse_pdf
from index.records import DUMP_SUFFIXES, DumpResult, NotADumpError, RecordSkip, read_dump

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"}) | PDF_SUFFIXES
#: Files of many articles: dumps and feeds. Their size limit is per record, not per file.
ARCHIVE_SUFFIXES = DUMP_SUFFIXES | FEED_SUFFIXES
SUPPORTED_SUFFIXES = ARTICLE_SUFFIXES | ARCHIVE_SUFFIXES
_FALLBACK_ENCODING = "cp1252"


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
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Archive files that were read, and the ids of every record they hold (usable or not): an
    #: indexed record of such a file whose id is not among them has been deleted from it.
    archives: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)


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
    files, skipped = discover(paths)
    named = {path.resolve() for path in paths if path.is_file()}
    result = LoadResult(skipped=skipped)
    seen: dict[str, str] = {}
    for path in files:
        try:
            loaded = load_file(path, max_bytes, fields)
        except NotArticlesError as error:
            # Other data beside the articles (a question set, an export); reported when named.
            if path in named:
                result.skipped.append(Skipped(str(path), str(error)))
            log.info("passed over %s: %s", path, error)
            continue
        except LoadError as error:
            result.skipped.append(Skipped(str(path), str(error)))
            log.info("skipped %s: %s", path, error)
            continue
        if path.suffix.lower() in ARCHIVE_SUFFIXES:
            result.archives.add(str(path))
            result.present |= loaded.present
        result.skipped += [Skipped(str(path), skip.reason, skip.line) for skip in loaded.skipped]
        result.warnings += [f"{path}: {warning}" for warning in loaded.warnings]
        for document, line in zip(loaded.documents, loaded.lines, strict=True):
            if document.doc_id in seen:
                reason = f"same document id '{document.doc_id}' as {seen[document.doc_id]}; rename one"
                result.skipped.append(Skipped(str(path), reason, line))
                continue
            seen[document.doc_id] = str(path) if line is None else f"{path} line {line}"
            result.documents.append(document)
    return result


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
    suffix = path.suffix.lower()
    if suffix not in ARCHIVE_SUFFIXES:
        document, warning = load_document(path, max_bytes)
        return FileLoad([document], [None], warnings=[warning] if warning else [], present={document.doc_id})
    raw = _read(path, None)
    if not raw.strip():
        raise LoadError("file is empty")
    if suffix in FEED_SUFFIXES:
        try:
            dump = read_feed(path, raw, max_bytes)
        except FeedError as error:
            raise LoadError(str(error)) from error
    else:
        text, warnings, bad_lines = decode_lines(raw)
        try:
            dump = read_dump(path, _normalise(text), fields, max_bytes)
        except NotADumpError as error:
            raise NotArticlesError(str(error)) from error
        dump.warnings[:0] = warnings
        dump.skipped += [RecordSkip(line, "not valid UTF-8 (another encoding?)") for line in bad_lines]
    return _file_load(dump, path)


def _file_load(dump: DumpResult, path: Path) -> FileLoad:
    if not dump.documents and not dump.skipped:
        raise LoadError("the file holds no records")
    out = FileLoad(warnings=dump.warnings, present=dump.present)
    for document in dump.documents:
        out.documents.append(document)
        out.lines.append(dump.lines.get(document.doc_id))
    out.skipped = [Skipped(str(path), skip.reason, skip.line) for skip in sorted(dump.skipped, key=lambda s: s.line)]
    return out


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


def decode_lines(raw: bytes) -> tuple[str, list[str], list[int]]:
    """A dump's text. Where a few lines are not UTF-8 they are blanked and returned by number, so that
    their records are reported and the others go on; a file mostly not UTF-8 is read as Windows-1252,
    with a warning."""
    try:
        return raw.decode("utf-8-sig"), [], []
    except UnicodeDecodeError:
        pass
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, warning = decode(raw)
        return text, [warning] if warning else [], []
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    good: list[str] = []
    bad: list[int] = []
    for number, line in enumerate(lines, start=1):
        try:
            good.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            good.append("")
            bad.append(number)
    if len(bad) > len(lines) // 2:
        text, warning = decode(raw)
        return text, [warning] if warning else [], []
    return "\n".join(good), [], bad


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
