"""Per-format cleaning and metadata: plain text, Markdown and HTML become article text plus
title, date, publisher and author where the file shows them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Comment, NavigableString

from index.dates import normalise_date

log = logging.getLogger(__name__)

_TITLE_CHARS = 140
#: trafilatura's default MIN_EXTRACTED_SIZE: below it, its result is a fallback, not a main text.
_MAIN_TEXT_CHARS = 250
_DATE_MARKER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*")
_ISO_DATE = re.compile(r"\b((?:19|20)\d\d-[01]\d(?:-[0-3]\d)?)(?:\b|(?=T\d))")
_GERMAN_DATE = re.compile(r"\b([0-3]?\d)\.([01]?\d)\.((?:19|20)\d\d)\b")
_CREDIT = re.compile(r"^\(([^()\n]{2,60})\)$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
_AGENCY = re.compile(r"^(?:dpa|afp|ap|reuters|kna|epd|sid|apa|sda|ddp)(?:[/,\s]+\w+)*$", re.I)
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?=\s+[A-ZÄÖÜ«»„\"])")

_BLOCK_TAGS = """
p div section article main h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre table tr figure
figcaption header address hr
""".split()
_DROP_TAGS = """
script style noscript template svg nav footer aside form iframe button
""".split()


@dataclass(slots=True)
class Parsed:
    text: str
    title: str | None = None
    date: str | None = None
    publisher: str | None = None
    author: str | None = None
    url: str | None = None


def parse_text(text: str) -> Parsed:
    date = None
    marker = _DATE_MARKER.match(text)
    if marker:
        date = marker.group(1)
        text = text[marker.end() :]
    text = text.strip("\n")
    publisher, author = _credit(text)
    return Parsed(text, _title_from_text(text), date or _date_in_edges(text), publisher, author)


def parse_markdown(text: str) -> Parsed:
    meta, body = _front_matter(text)
    lines: list[str] = []
    title = meta.get("title")
    for line in body.split("\n"):
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            line = heading.group(1)
            title = title or _inline_markdown(line)
            lines.extend(["", line, ""])
            continue
        line = re.sub(r"^\s{0,3}>\s?", "", line)
        lines.append(line)
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
    cleaned = [_join_soft_wraps(_inline_markdown(p)) for p in paragraphs]
    body = "\n\n".join(p for p in cleaned if p.strip())
    parsed = parse_text(body)
    parsed.title = title or parsed.title
    parsed.date = normalise_date(meta.get("date")) or parsed.date
    parsed.publisher = meta.get("publisher") or meta.get("source") or parsed.publisher
    parsed.author = meta.get("author") or parsed.author
    parsed.url = meta.get("url") or meta.get("link")
    return parsed


def parse_html(markup: str) -> Parsed:
    """A saved web page: the article text as trafilatura extracts it from the page furniture
    (navigation, cookie banners, "Textgröße ändern", teasers), with its title, date, site and author.
    Where trafilatura finds no main text (a bare fragment, a page of one short paragraph), the page's
    ``<article>`` or ``<body>`` text without scripts, navigation and footers is kept when it is the
    shorter reading (empty, when the page holds nothing but furniture)."""
    soup = BeautifulSoup(markup, "lxml")
    title = _meta(soup, "og:title") or _tag_text(soup, "title") or _tag_text(soup, "h1")
    date = _meta(soup, "article:published_time", "date", "pubdate", "dc.date", "publishdate")
    if not date and soup.find("time", attrs={"datetime": True}):
        date = soup.find("time", attrs={"datetime": True})["datetime"]
    publisher = _meta(soup, "og:site_name", "publisher", "dc.publisher")
    author = _meta(soup, "author", "article:author", "dc.creator")
    url = _meta(soup, "og:url") or _link(soup, "canonical")
    extracted = _extract(markup)
    text = extracted.text if extracted is not None else ""
    if len(text) < _MAIN_TEXT_CHARS:
        # Below trafilatura's own minimum it falls back to keeping every text block; the page's
        # <article> (else <body>) without navigation, scripts and footers is then the safer reading.
        cleaned = _soup_text(soup.find("article") or soup.body or soup)
        text = cleaned if not text or len(cleaned) <= len(text) else text
    parsed = parse_text(text)
    parsed.title = _squash(title) if title else (extracted.title if extracted else None) or parsed.title
    parsed.date = normalise_date(date) or (extracted.date if extracted else None) or parsed.date
    parsed.publisher = publisher or (extracted.sitename if extracted else None) or parsed.publisher
    parsed.author = author or (extracted.author if extracted else None) or parsed.author
    parsed.url = url or (extracted.url if extracted else None)
    return parsed


def clean_fragment(markup: str) -> str:
    """The text of an HTML fragment (a feed entry's content, a dump's HTML body), paragraphs kept."""
    soup = BeautifulSoup(markup, "lxml")
    return _soup_text(soup.body or soup)


@dataclass(slots=True)
class _Extracted:
    text: str
    title: str | None
    date: str | None
    sitename: str | None
    author: str | None
    url: str | None


def _extract(markup: str) -> _Extracted | None:
    import trafilatura

    try:
        found = trafilatura.bare_extraction(
            markup, with_metadata=True, include_comments=False, include_tables=False, deduplicate=True
        )
    except (ValueError, TypeError, AttributeError):  # trafilatura's failures on odd markup
        log.debug("trafilatura could not read the page", exc_info=True)
        return None
    if found is None:
        return None
    text = "\n\n".join(_squash(line) for line in (found.text or "").split("\n") if line.strip())
    return _Extracted(text, found.title, normalise_date(found.date), found.sitename, found.author, found.url)


def _soup_text(root: Any) -> str:
    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    for comment in root.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    for node in root.find_all(string=True):
        if type(node) is NavigableString and node.find_parent("pre") is None:
            node.replace_with(re.sub(r"\s+", " ", node))
    for br in root.find_all("br"):
        br.replace_with("\n")
    for tag in root.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    paragraphs = re.split(r"\n\s*\n", root.get_text())
    lines = ["\n".join(_squash(line) for line in p.split("\n") if line.strip()) for p in paragraphs]
    return "\n\n".join(p for p in lines if p)


def _title_from_text(text: str) -> str | None:
    first = next((line.strip() for line in text.split("\n") if line.strip()), None)
    if first is None:
        return None
    sentence = _FIRST_SENTENCE.match(first)
    title = sentence.group(1) if sentence else first
    if len(title) > _TITLE_CHARS:
        title = title[:_TITLE_CHARS].rsplit(" ", 1)[0] + " …"
    return title


def _credit(text: str) -> tuple[str | None, str | None]:
    """Agency or publisher credit: a line like ``(Reuters)`` or ``(P.Vasilyevsky--DTZ)``, a bare
    agency name, or a trailing section slug such as ``toi-allgemeines``."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    for line in reversed(lines):
        credit = _CREDIT.match(line)
        if credit and len(line.split()) <= 4:
            author, _, publisher = credit.group(1).rpartition("--")
            return publisher.strip(), author.strip() or None
    if lines and (_SLUG.match(lines[-1]) or _AGENCY.match(lines[-1])):
        return lines[-1], None
    return None, None


def _date_in_edges(text: str) -> str | None:
    lines = [line for line in text.split("\n") if line.strip()]
    for line in lines[:3] + lines[-3:]:
        if iso := _ISO_DATE.search(line):
            return iso.group(1)
        if german := _GERMAN_DATE.search(line):
            day, month, year = german.groups()
            return f"{year}-{int(month):02d}-{int(day):02d}"
    return None


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).split("\n"):
        key, sep, value = line.partition(":")
        if sep and value.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end() :]


def _inline_markdown(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"\1", text)
    return re.sub(r"`([^`]*)`", r"\1", text)


def _join_soft_wraps(paragraph: str) -> str:
    """Markdown joins the wrapped lines of a paragraph; list items stay lines of their own."""
    out: list[str] = []
    for line in paragraph.split("\n"):
        is_item = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", line)
        if out and out[-1].strip() and line.strip() and not is_item:
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line.rstrip())
    return "\n".join(out)


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def _link(soup: BeautifulSoup, rel: str) -> str | None:
    tag = soup.find("link", attrs={"rel": rel, "href": True})
    return tag["href"].strip() if tag else None


def _tag_text(soup: BeautifulSoup, name: str) -> str | None:
    tag = soup.find(name)
    text = tag.get_text(" ", strip=True) if tag else ""
    return text or None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
