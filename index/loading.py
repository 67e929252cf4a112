"""Find article files, read them safely, and turn each into a cleaned ``Document``.

Every file that cannot be used is reported once with a reason, and the others go on.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Document
from index.formats import parse_html, parse_markdown, parse_text
from index.language import detect_language

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
_FALLBACK_ENCODING = "cp1252"


class LoadError(Exception):
    """A file that cannot be indexed; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def load_documents(paths: list[Path], max_bytes: int) -> LoadResult:
    files, skipped = discover(paths)
    result = LoadResult(skipped=skipped)
    seen: dict[str, Path] = {}
    for path in files:
        try:
            document, warning = load_document(path, max_bytes)
        except LoadError as error:
            result.skipped.append(Skipped(str(path), str(error)))
            log.info("skipped %s: %s", path, error)
            continue
        if document.doc_id in seen:
            reason = f"same document id '{document.doc_id}' as {seen[document.doc_id]}; rename one"
            result.skipped.append(Skipped(str(path), reason))
            continue
        seen[document.doc_id] = path
        if warning:
            result.warnings.append(f"{path}: {warning}")
            log.info("%s: %s", path, warning)
        result.documents.append(document)
    return result


def load_document(path: Path, max_bytes: int) -> tuple[Document, str | None]:
    """Read one file. Returns the document and a warning (such as a fallback encoding), or raises
    ``LoadError``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes")
        raw = path.read_bytes()
    except OSError as error:
        raise LoadError(f"cannot read file ({error.strerror or error})") from error
    text, warning = decode(raw)
    text = _normalise(text)
    if not text.strip():
        raise LoadError("file is empty")
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        parsed = parse_html(text)
    elif suffix in {".md", ".markdown"}:
        parsed = parse_markdown(text)
    else:
        parsed = parse_text(text)
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
    )
    return document, warning


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
