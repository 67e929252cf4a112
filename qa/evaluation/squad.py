"""Turn a SQuAD-format file (SQuAD 1.1 and 2.0, XQuAD, GermanQuAD) into a folder of article files for
the indexer and questions in the format of ``seeds/questions.jsonl``.

Articles are written as HTML. ``<title>`` gives the title back exactly, and the text changes only in
white space, which this module applies itself before writing, so every SQuAD offset can be carried
over. Markdown would rewrite emphasis and link syntax inside the contexts and join their lines, and
the title of a plain-text file is cut at its first sentence end ("John F. Kennedy" reads "John F.").

Gold sentences are taken from each article as ``index.loading.load_document`` reads it back, so they
are exactly the sentences the index will hold.
"""

from __future__ import annotations

import bisect
import html
import json
import logging
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from index.documents import Document
from index.errors import UserError
from index.language import detect_language
from index.loading import LoadError, load_document
from index.sentences import SentenceSpan, split_sentences

log = logging.getLogger(__name__)

_SLUG_CHARS = 48
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NON_SPACE = re.compile(r"\S+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(slots=True)
class SquadSet:
    questions: list[dict[str, Any]]
    """Questions in the fixed-question-set format, in file order."""
    documents: int
    """Article files written."""
    skipped: list[str] = field(default_factory=list)
    """One line per question that could not be used, with the reason."""


@dataclass(slots=True)
class _Paragraph:
    raw: str
    context: str
    """The context as it reads in the loaded article."""
    positions: list[int]
    """For each index of ``raw`` (and its end), the index in ``context``."""
    qas: list[Any]


@dataclass(slots=True)
class _Article:
    title: str
    paragraphs: list[_Paragraph]


@dataclass(slots=True)
class _Loaded:
    """One article as the indexer reads it, and where each paragraph starts in its text."""

    document: Document
    sentences: list[SentenceSpan]
    offsets: list[int | None] = field(default_factory=list)
    sentence_starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.sentence_starts = [s.start for s in self.sentences]


@dataclass(slots=True)
class _Collected:
    questions: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    renamed: int = 0


class _Unusable(Exception):
    """A question that cannot be used; the message is the reason."""


def load_squad(path: Path, corpus_dir: Path) -> SquadSet:
    """Write one article file per SQuAD article into ``corpus_dir`` (new or empty) and return the
    questions with their gold sentences. Raises ``UserError`` for a file that cannot be used; then
    nothing is left in ``corpus_dir``."""
    path, corpus_dir = Path(path), Path(corpus_dir)
    articles = _parse(_read_json(path), path)
    _check_target(corpus_dir)
    staging = _staging_dir(corpus_dir)
    collected = _Collected()
    try:
        names = _write_articles(articles, staging)
        for number, (article, name) in enumerate(zip(articles, names, strict=True), start=1):
            _collect(article, number, _load_back(staging / name), collected)
        if not collected.skipped and not collected.questions:
            raise UserError(f"{path} has no questions in its articles")
        if not collected.questions:
            skipped = collected.skipped
            raise UserError(f"{path} has no usable questions; all {len(skipped)} were skipped (first: {skipped[0]})")
        _move_into_place(staging, corpus_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    questions, skipped = collected.questions, collected.skipped
    log.info(
        "%s: %d articles, %d questions (%d unanswerable), %d skipped",
        path,
        len(articles),
        len(questions),
        sum(not q["answerable"] for q in questions),
        len(skipped),
    )
    if collected.renamed:
        log.info("%d questions repeat an earlier id and were given a suffix", collected.renamed)
    return SquadSet(questions, len(articles), skipped)


def _read_json(path: Path) -> Any:
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a SQuAD JSON file")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"no SQuAD file at {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a UTF-8 text file, so not SQuAD JSON") from None
    except OSError as error:
        raise UserError(f"cannot read the SQuAD file {path}: {error.strerror or error}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a SQuAD file") from None


def _parse(data: Any, path: Path) -> list[_Article]:
    """Check the whole shape before anything is written, so a bad file leaves no articles behind."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UserError(f"{path} is not in SQuAD format: expected a JSON object with a 'data' list of articles")
    if not data["data"]:
        raise UserError(f"{path} has no articles in its 'data' list")
    articles = []
    for number, article in enumerate(data["data"], start=1):
        where = f"{path} is not in SQuAD format: article {number}"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise UserError(f"{where} has no 'paragraphs' list")
        paragraphs = []
        for p_number, paragraph in enumerate(article["paragraphs"], start=1):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise UserError(f"{where}, paragraph {p_number} has no 'context' text")
            qas = paragraph.get("qas", [])
            if not isinstance(qas, list):
                raise UserError(f"{where}, paragraph {p_number}: 'qas' is not a list")
            context, positions = _as_loaded(paragraph["context"])
            paragraphs.append(_Paragraph(paragraph["context"], context, positions, qas))
        articles.append(_Article(_title(article.get("title"), number), paragraphs))
    return articles


def _title(raw: Any, number: int) -> str:
    """Wikipedia page names, as SQuAD uses them, write spaces as underscores."""
    title = " ".join(_as_loaded(raw.replace("_", " "))[0].split()) if isinstance(raw, str) else ""
    return title or f"Article {number}"


def _check_target(corpus_dir: Path) -> None:
    if corpus_dir.is_dir():
        if any(corpus_dir.iterdir()):
            raise UserError(f"the corpus folder {corpus_dir} is not empty; give a new or empty folder")
    elif corpus_dir.exists():
        raise UserError(f"{corpus_dir} is a file, not a folder for the articles")


def _staging_dir(corpus_dir: Path) -> Path:
    """A hidden sibling of ``corpus_dir``: on the same file system, so the finished folder is moved
    into place in one step and an interrupted run never leaves a half-written corpus."""
    staging = corpus_dir.parent / f".{corpus_dir.name}.partial-{secrets.token_hex(4)}"
    try:
        corpus_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as error:
        raise UserError(f"cannot create the corpus folder {corpus_dir}: {error.strerror or error}") from None
    return staging


def _move_into_place(staging: Path, corpus_dir: Path) -> None:
    try:
        if corpus_dir.is_dir():
            corpus_dir.rmdir()
        staging.rename(corpus_dir)
    except OSError as error:
        raise UserError(f"cannot write the articles to {corpus_dir}: {error.strerror or error}") from None


def _write_articles(articles: list[_Article], folder: Path) -> list[str]:
    width = max(4, len(str(len(articles))))
    names = [f"{number:0{width}d}_{_slug(a.title)}.html" for number, a in enumerate(articles, start=1)]
    try:
        for article, name in zip(articles, names, strict=True):
            (folder / name).write_text(_html(article), encoding="utf-8", newline="\n")
    except OSError as error:
        raise UserError(f"cannot write the articles to {folder.parent}: {error.strerror or error}") from None
    return names


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title.translate(_UMLAUTS)).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")[:_SLUG_CHARS].rstrip("-")
    return slug or "article"


def _html(article: _Article) -> str:
    """The title also opens the text, as a headline does in the other articles, and each paragraph
    keeps its line breaks as ``<br>``."""
    title = html.escape(article.title)
    body = [f"<h1>{title}</h1>"]
    for paragraph in article.paragraphs:
        for block in filter(None, paragraph.context.split("\n\n")):
            body.append("<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>")
    head = f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n</head>\n'
    return head + "<body>\n<article>\n" + "\n".join(body) + "\n</article>\n</body>\n</html>\n"


def _load_back(path: Path) -> _Loaded | str:
    """The article as the indexer reads it, or why it cannot be read."""
    try:
        document, _ = load_document(path, max_bytes=path.stat().st_size)
    except (LoadError, OSError) as error:
        return f"its article cannot be read back ({error})"
    return _Loaded(document, split_sentences(document.text))


def _paragraph_offsets(article: _Article, text: str) -> list[int | None]:
    """Where each paragraph starts in the loaded text; searched in order, after the title line."""
    cursor = len(article.title) if text.startswith(article.title + "\n\n") else 0
    offsets: list[int | None] = []
    for paragraph in article.paragraphs:
        found = text.find(paragraph.context, cursor) if paragraph.context else -1
        offsets.append(found if found >= 0 else None)
        if found >= 0:
            cursor = found + len(paragraph.context)
    return offsets


def _collect(article: _Article, number: int, loaded: _Loaded | str, collected: _Collected) -> None:
    if isinstance(loaded, _Loaded):
        if loaded.document.title != article.title:
            log.warning("article '%s' reads back with the title '%s'", article.title, loaded.document.title)
        loaded.offsets = _paragraph_offsets(article, loaded.document.text)
    for p_number, paragraph in enumerate(article.paragraphs, start=1):
        for q_number, qa in enumerate(paragraph.qas, start=1):
            source_id = _source_id(qa, f"{number}-{p_number}-{q_number}")
            try:
                if isinstance(loaded, str):
                    raise _Unusable(loaded)
                question = _question(qa, paragraph, loaded.offsets[p_number - 1], loaded)
            except _Unusable as reason:
                collected.skipped.append(f"{source_id} in '{article.title}': {reason}")
                log.debug("skipped %s: %s", source_id, reason)
                continue
            identifier = source_id
            suffix = 2
            while identifier in collected.ids:
                identifier, suffix = f"{source_id}-{suffix}", suffix + 1
            collected.renamed += identifier != source_id
            collected.ids.add(identifier)
            collected.questions.append({"id": identifier, **question})


def _question(qa: Any, paragraph: _Paragraph, offset: int | None, loaded: _Loaded) -> dict[str, Any]:
    if not isinstance(qa, dict):
        raise _Unusable("not a question object")
    text = " ".join(_as_loaded(qa["question"])[0].split()) if isinstance(qa.get("question"), str) else ""
    if not text:
        raise _Unusable("no question text")
    record: dict[str, Any] = {"question": text, "language": detect_language(text)}
    if qa.get("is_impossible") is True:
        return {**record, "answers": [], "gold": [], "answerable": False}
    listed = qa.get("answers")
    listed = listed if isinstance(listed, list) else []
    answers = [a for a in listed if isinstance(a, dict) and isinstance(a.get("text"), str)]
    aliases = list(dict.fromkeys(filter(None, (_as_loaded(a["text"])[0] for a in answers))))
    if not aliases:
        raise _Unusable("no answer text, and not marked as impossible")
    if offset is None:
        raise _Unusable("its paragraph is empty or not found in the article as loaded")
    gold: list[dict[str, str]] = []
    missing = []
    for answer in answers:
        span = _locate(answer, paragraph, offset, loaded.document.text)
        if span is None:
            missing.append(answer["text"].strip())
            continue
        gold.extend(_sentences(loaded, *span))
    if not gold:
        raise _Unusable(f"the answer '{missing[0]}' is not found in its paragraph")
    unique_gold = list({(g["doc"], g["sentence"]): g for g in gold}.values())
    return {**record, "answers": aliases, "gold": unique_gold, "answerable": True}


def _locate(answer: dict[str, Any], paragraph: _Paragraph, offset: int, text: str) -> tuple[int, int] | None:
    """The answer's span in the loaded text: at its mapped ``answer_start`` if the text is there,
    else its occurrence in the same paragraph closest to that offset."""
    wanted = _as_loaded(answer["text"])[0]
    if not wanted:
        return None
    expected = None
    start = answer.get("answer_start")
    if isinstance(start, int) and not isinstance(start, bool) and start >= 0:
        # The answer text may carry white space that the loaded form drops.
        start += len(answer["text"]) - len(answer["text"].lstrip())
        if start <= len(paragraph.raw):
            expected = offset + paragraph.positions[start]
    end_limit = offset + len(paragraph.context)
    if expected is not None and text.startswith(wanted, expected) and expected + len(wanted) <= end_limit:
        return expected, expected + len(wanted)
    best = None
    found = text.find(wanted, offset, end_limit)
    while found >= 0:
        if expected is None:
            return found, found + len(wanted)
        if best is None or abs(found - expected) < abs(best - expected):
            best = found
        found = text.find(wanted, found + 1, end_limit)
    return None if best is None else (best, best + len(wanted))


def _sentences(loaded: _Loaded, start: int, end: int) -> list[dict[str, str]]:
    """The sentences the span ``start..end`` overlaps."""
    index = max(bisect.bisect_right(loaded.sentence_starts, start) - 1, 0)
    found = []
    while index < len(loaded.sentences) and loaded.sentences[index].start < end:
        span = loaded.sentences[index]
        if span.end > start:
            found.append({"doc": loaded.document.doc_id, "sentence": loaded.document.text[span.start : span.end]})
        index += 1
    return found


def _source_id(qa: Any, fallback: str) -> str:
    identifier = qa.get("id") if isinstance(qa, dict) else None
    return str(identifier) if identifier not in (None, "") else fallback


def _as_loaded(raw: str) -> tuple[str, list[int]]:
    """``raw`` as it reads once written by ``_html`` and loaded: control characters removed, NFC,
    white space squashed to one space within a line, a line break kept, blank lines as one
    paragraph break. Also, for each index of ``raw`` (and its end), the index in that form."""
    text, positions = _rewrite(raw, _without_controls(raw))
    for stage in (_composed, _squashed):
        text, step = _rewrite(text, stage(text))
        positions = [step[p] for p in positions]
    return text, positions


def _rewrite(text: str, pieces: list[str]) -> tuple[str, list[int]]:
    """Replace each character of ``text`` by its piece; return the result and where each index went."""
    return "".join(pieces), [0, *accumulate(map(len, pieces))]


def _without_controls(text: str) -> list[str]:
    """As the loader does, with lone surrogates too, which cannot be written as UTF-8."""
    if not _CONTROLS.search(text):
        return list(text)
    pieces = []
    for index, char in enumerate(text):
        if char == "\r":
            pieces.append("" if text.startswith("\n", index + 1) else "\n")
        elif char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs"):
            pieces.append(char)
        else:
            pieces.append("")
    return pieces


def _composed(text: str) -> list[str]:
    """NFC, one base character with its combining marks at a time, so offsets stay traceable."""
    if unicodedata.is_normalized("NFC", text):
        return list(text)
    pieces = [""] * len(text)
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or unicodedata.combining(text[index]) == 0:
            pieces[start] = unicodedata.normalize("NFC", text[start:index])
            start = index
    return pieces


def _squashed(text: str) -> list[str]:
    pieces = ["" if char.isspace() else char for char in text]
    words = list(_NON_SPACE.finditer(text))
    for before, after in pairwise(words):
        breaks = text.count("\n", before.end(), after.start())
        pieces[before.end()] = "\n\n" if breaks >= 2 else "\n" if breaks else " "
    return pieces
