"""The articles of an index as a user manages them from the chat page: list, upload, remove.

Uploaded files live in one folder (``<index>/uploads`` by default). Nothing a client sends becomes a
path as it is: the stored name is ``safe_name`` of the client's name, inside that folder. Every file
of a call is checked before anything is written there, each file is written atomically, and a file
the index refuses leaves the folder as it was.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Document
from index.errors import UserError
from index.loading import ARCHIVE_SUFFIXES, SUPPORTED_SUFFIXES, LoadError, load_file
from qa.engine import Engine

log = logging.getLogger(__name__)

_STEM_CHARS = 80
#: Room for "-N" and the suffix within the usual 255-byte limit of a file name.
_STEM_BYTES = 200
_SUFFIX_CHARS = 16
_SHOWN_CHARS = 100
_DEFAULT_STEM = "article"
_UNSAFE = re.compile(r"[^\w.\-]+")
_PATH = re.compile(r"(?<!\S)(?:/[^/\s]+)*/([^/\s]+)")
_ALLOWED = (
    "only articles (.txt, .md, .html, .pdf), dumps (.jsonl, .csv, .tsv) and feeds (.rss, .atom, .xml) can be added"
)
#: Past this many titles, a line of the upload's message names the first few and counts the rest.
_TITLES_SHOWN = 5
_PARTIAL = ".upload-"
_BACKUP = ".backup-"

Progress = Callable[[float, str], None]


class ArticleError(UserError):
    """An upload or removal that cannot be done as asked."""


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    doc_id: str
    title: str
    date: str | None
    publisher: str | None
    #: The source file's name only, never a server path.
    file_name: str
    sentences: int
    #: True when the file lives in the uploads folder (removing the article deletes it).
    uploaded: bool


@dataclass(slots=True)
class UploadResult:
    """Titles of the articles added, updated and found unchanged, and the files refused with a reason."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: (the client's file name as shown, reason)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def message(self) -> str:
        """One line per file or record, for example "Added “Title”." or "Refused notes.doc: <reason>.";
        a dump's many articles are counted on one line."""
        lines = _titled("Added", self.added)
        lines += _titled("Updated", self.updated)
        if len(self.unchanged) > _TITLES_SHOWN:
            lines.append(f"{len(self.unchanged)} articles were already there, unchanged.")
        else:
            lines += [f"“{title}” was already there, unchanged." for title in self.unchanged]
        lines += [f"Refused {name}: {_sentence(reason)}" for name, reason in self.refused]
        return "\n".join(lines) if lines else "No files were given."


@dataclass(slots=True)
class _Checked:
    """A file that passed every check, copied to a private staging folder."""

    shown: str
    name: str
    staged: Path
    documents: list[Document]


class ArticleLibrary:
    """The articles of ``engine``'s index; uploads go to ``uploads_dir`` (``<index>/uploads``).
    One library may serve several chat users at once: adding and removing take turns."""

    def __init__(self, engine: Engine, uploads_dir: Path | None = None):
        self.engine = engine
        folder = uploads_dir if uploads_dir is not None else engine.index_dir / "uploads"
        self.uploads_dir = Path(folder).resolve()
        self.max_file_bytes = engine.settings.max_file_bytes
        self.max_files = engine.settings.max_upload_files
        self._lock = threading.Lock()

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article, sorted by title."""
        documents = self.engine.documents().values()
        infos = [
            ArticleInfo(
                doc_id=d.doc_id,
                title=d.title,
                date=d.date,
                publisher=d.publisher,
                file_name=Path(d.source).name,
                sentences=len(d.sentences),
                uploaded=self._is_upload(d.source),
            )
            for d in documents
        ]
        return sorted(infos, key=lambda info: (info.title.casefold(), info.doc_id))

    def add(self, files: Sequence[tuple[str, Path]], progress: Progress | None = None) -> UploadResult:
        """Add or replace articles from uploaded files: (the name the client gave, the server-side
        temporary file). Files that cannot be used are refused with a reason and the rest go on."""
        if len(files) > self.max_files:
            raise ArticleError(f"{len(files)} files are too many for one upload; add at most {self.max_files} at once")
        result = UploadResult()
        with self._lock, tempfile.TemporaryDirectory(prefix="qa-upload-") as staging:
            checked = []
            for number, (client_name, temp_path) in enumerate(files):
                item = self._check(client_name, Path(temp_path), Path(staging) / str(number), result)
                if item is not None:
                    checked.append(item)
            for done, item in enumerate(checked):
                if progress is not None:
                    progress(done / len(checked), f"Indexing {item.shown} ({done + 1} of {len(checked)})")
                self._store(item, result)
            if progress is not None and checked:
                progress(1.0, "Done")
        log.info(
            "upload: %d added, %d updated, %d unchanged, %d refused",
            len(result.added),
            len(result.updated),
            len(result.unchanged),
            len(result.refused),
        )
        return result

    def remove(self, doc_id: str) -> str:
        """Take an article out of the index; an uploaded article's file is deleted too."""
        with self._lock:
            document = self.engine.documents().get(doc_id)
            version = self.engine.store.versions().get(doc_id)
            if version is None:
                shown = _printable(str(doc_id))
                raise ArticleError(f"there is no article '{shown}' in the index; reload the list of articles")
            title = document.title if document is not None else doc_id
            self.engine.remove([doc_id])
            source = Path(version.source)
            if self._is_upload(version.source):
                source.unlink(missing_ok=True)
                return f"Removed “{title}” and deleted its uploaded file."
            return (
                f"Removed “{title}” from the index. Its file {source.name} was not uploaded here and stays "
                "where it is, so the article comes back the next time its folder is indexed."
            )

    def _check(self, client_name: str, temp_path: Path, staging: Path, result: UploadResult) -> _Checked | None:
        """The file, checked and staged outside the uploads folder; or None, refused in ``result``."""
        shown = shown_name(client_name)
        name = safe_name(client_name)
        if Path(name).suffix not in SUPPORTED_SUFFIXES:
            result.refused.append((shown, _ALLOWED))
            return None
        try:
            size = temp_path.stat().st_size
        except OSError as error:
            result.refused.append((shown, f"the file cannot be read ({error.strerror or error})"))
            return None
        if size > self.max_file_bytes:
            limit = _megabytes(self.max_file_bytes)
            result.refused.append((shown, f"the file is {_megabytes(size)} MB, over the limit of {limit} MB per file"))
            return None
        staging.mkdir()
        staged = staging / name
        try:
            shutil.copyfile(temp_path, staged)
            loaded = load_file(staged, self.max_file_bytes)
        except LoadError as error:
            result.refused.append((shown, str(error)))
            return None
        except OSError as error:
            result.refused.append((shown, f"the file cannot be read ({error.strerror or error})"))
            return None
        if not loaded.documents:
            reasons = "; ".join(
                f"{skip.where.removeprefix(str(staged)).strip()}: {skip.reason}" for skip in loaded.skipped
            )
            result.refused.append((shown, f"no record could be used ({reasons})"))
            return None
        return _Checked(shown, name, staged, loaded.documents)

    def _store(self, item: _Checked, result: UploadResult) -> None:
        """Write the file under its final name and index it; put the folder back if that fails."""
        target = self._target(item.name)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        backup = self._write(item.staged, target)
        before = self.engine.store.versions()
        try:
            report = self.engine.index([target])
        except BaseException:
            self._restore(target, backup)
            raise
        whole_file = [skipped for skipped in report.skipped if skipped.line is None]
        if whole_file or not report.added + report.updated + report.unchanged:
            self._restore(target, backup)
            reason = (whole_file or report.skipped)[0].reason
            result.refused.append((item.shown, _without_paths(reason)))
            return
        if backup is not None:
            backup.unlink(missing_ok=True)
        log.info("uploaded %s as %s", item.shown, target.name)
        for skipped in report.skipped:  # records of a dump or feed; the others are indexed
            place = skipped.where.removeprefix(str(target))
            result.refused.append((item.shown + place, _without_paths(skipped.reason)))
        if target.suffix not in ARCHIVE_SUFFIXES:
            document = item.documents[0]
            title = document.title if document.title != document.doc_id else target.stem
            (result.added if report.added else result.updated if report.updated else result.unchanged).append(title)
            return
        indexed = self.engine.store.versions()
        for document in item.documents:
            if document.doc_id not in indexed or indexed[document.doc_id].source != str(target):
                continue  # refused by the index (an id another file holds), reported above
            known = before.get(document.doc_id)
            if known is None:
                result.added.append(document.title)
            elif known == indexed[document.doc_id]:
                result.unchanged.append(document.title)
            else:
                result.updated.append(document.title)

    def _target(self, name: str) -> Path:
        """``name`` in the uploads folder, with "-2", "-3", ... added to the stem while its document id
        belongs to an indexed article from another file."""
        versions = self.engine.store.versions()
        stem, suffix = Path(name).stem, Path(name).suffix
        number = 1
        while True:
            target = self.uploads_dir / (stem + (f"-{number}" if number > 1 else "") + suffix)
            known = versions.get(target.stem)
            if known is None or Path(known.source) == target:
                return target
            number += 1

    def _write(self, staged: Path, target: Path) -> Path | None:
        """Put ``staged`` at ``target`` atomically; returns a hidden backup of the file it replaced."""
        handle, partial = tempfile.mkstemp(prefix=_PARTIAL, suffix=".part", dir=self.uploads_dir)
        try:
            with os.fdopen(handle, "wb") as out, open(staged, "rb") as source:
                shutil.copyfileobj(source, out)
                out.flush()
                os.fsync(out.fileno())
            backup = None
            if target.exists():
                backup = self.uploads_dir / f"{_BACKUP}{uuid.uuid4().hex}"
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return backup

    @staticmethod
    def _restore(target: Path, backup: Path | None) -> None:
        if backup is not None:
            os.replace(backup, target)
        else:
            target.unlink(missing_ok=True)

    def _is_upload(self, source: str) -> bool:
        return self.uploads_dir in Path(source).parents


def safe_name(client_name: str) -> str:
    """A file name made from what a client sent: its last path component, NFC, control characters
    dropped, only word characters, "-", "_" and "." kept, no leading dots, a stem of at most 80
    characters and a lower-case suffix; "article" when nothing usable is left."""
    last = re.split(r"[/\\]", client_name)[-1]
    last = unicodedata.normalize("NFC", last)
    last = "".join(ch for ch in last if not unicodedata.category(ch).startswith("C"))
    last = _UNSAFE.sub("_", last.strip()).lstrip("._ ")
    stem, dot, suffix = last.rpartition(".")
    if not dot:
        stem, suffix = last, ""
    stem = stem[:_STEM_CHARS]
    while len(stem.encode("utf-8")) > _STEM_BYTES:
        stem = stem[:-1]
    if not stem:
        stem = _DEFAULT_STEM
    return stem + (f".{suffix.lower()}"[:_SUFFIX_CHARS] if suffix else "")


def shown_name(client_name: str) -> str:
    """The client's file name as a user may see it again: the last path component, no control
    characters, at most 100 characters."""
    return _printable(re.split(r"[/\\]", client_name)[-1]) or "(no name)"


def _printable(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = " ".join("".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).split())
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _without_paths(reason: str) -> str:
    """``reason`` with every absolute path cut to its last component."""
    return _PATH.sub(lambda match: match.group(1), reason)


def _titled(verb: str, titles: list[str]) -> list[str]:
    if len(titles) <= _TITLES_SHOWN:
        return [f"{verb} “{title}”." for title in titles]
    named = ", ".join(f"“{title}”" for title in titles[:3])
    return [f"{verb} {len(titles)} articles: {named} and {len(titles) - 3} more."]


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.3g}"


def _sentence(reason: str) -> str:
    return reason if reason.endswith((".", "!", "?")) else reason + "."
