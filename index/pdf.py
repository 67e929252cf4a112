"""PDF files (press releases, printed articles), read by pypdf: one file is one article.

pypdf gives the text line by line as laid out on the page. The lines of a paragraph are joined again,
words hyphenated at a line end are rejoined ("Zusammen-\\narbeit" → "Zusammenarbeit", while
"Nord-\\nKorea" keeps its hyphen before a capital), and pages are separated like paragraphs.
Title, author and date come from the PDF's document information where it has them.
"""

from __future__ import annotations

import io
import logging
import re

from index.dates import normalise_date
from index.formats import Parsed, parse_text

log = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})(\d{2})")
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-zäöüß])")


class PdfError(Exception):
    """A PDF that cannot be read as an article; the message says why."""


def parse_pdf(raw: bytes) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise PdfError("the PDF is encrypted; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except PdfError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise PdfError(f"not a readable PDF ({error})") from error
    text = "\n\n".join(_paragraphs(page) for page in pages if page.strip())
    if not text.strip():
        raise PdfError("the PDF has no text layer (a scanned image?); run OCR on it first")
    parsed = parse_text(text)
    parsed.title = _info(info, "/Title") or parsed.title
    parsed.author = _info(info, "/Author") or parsed.author
    created = _PDF_DATE.match(_info(info, "/CreationDate") or "")
    if created:
        parsed.date = normalise_date("-".join(created.groups())) or parsed.date
    return parsed


def _paragraphs(page: str) -> str:
    """A page's lines joined into paragraphs: a paragraph ends at a blank line, at a short line that ends
    a sentence, and after a short line that stands alone (a heading)."""
    page = _HYPHENATED.sub(r"\1", page.replace("\r\n", "\n"))
    lines = [line.strip() for line in page.split("\n")]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(line)
        alone = len(paragraphs[-1]) == 1 and len(line) < 0.6 * width and not line.endswith(("-", ","))
        if alone or (line.endswith((".", "!", "?", ":", "«", "“", '"')) and len(line) < 0.8 * width):
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def _info(info: object, key: str) -> str | None:
    try:
        value = info.get(key)  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return None
    return " ".join(str(value).split()) or None if value else None
