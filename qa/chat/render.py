"""HTML for the chat page: messages, answers with their citations, and the article in the source panel.

Everything that comes from a user or an article is escaped here; the page renders these strings as
HTML without Markdown, so an answer's "*" or "_" stays what it is. A citation link is an anchor
``#qa-cite-<turn>-<number>``: the page's script turns a click on it into a request for the source panel.
"""

from __future__ import annotations

import html
import re

from index.documents import Document
from qa.answer import Answer, Citation

_MARKER = re.compile(r"\[(\d+)\]")

_TEXTS = {
    "de": {
        "sources": "Quellen",
        "original": "Originalsatz",
        "abstain_head": "Keine Antwort in den Artikeln",
        "abstain_hint": "Kein Satz der Artikel im Index stützt eine Antwort. Formulieren Sie die Frage anders, "
        "oder fügen Sie einen Artikel hinzu, der davon handelt.",
        "unsupported": "In den zitierten Sätzen nicht gefunden",
    },
    "en": {
        "sources": "Sources",
        "original": "German original",
        "abstain_head": "No answer in the articles",
        "abstain_hint": "No sentence of the indexed articles supports an answer. Try asking another way, "
        "or add an article that covers it.",
        "unsupported": "Not found in the cited sentences",
    },
}


def _texts(language: str) -> dict[str, str]:
    return _TEXTS.get(language, _TEXTS["en"])


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def cite_anchor(turn: int, number: int) -> str:
    return f"#qa-cite-{turn}-{number}"


def parse_anchor(value: str) -> tuple[int, int] | None:
    """``qa-cite-<turn>-<number>[:anything]`` → (turn, citation index from 0), or None."""
    match = re.fullmatch(r"#?qa-cite-(\d+)-(\d+)(?::.*)?", (value or "").strip())
    if not match or int(match.group(2)) < 1:
        return None
    return int(match.group(1)), int(match.group(2)) - 1


def describe(citation: Citation) -> str:
    """Date and agency where known, for example "2024-03-12 · dpa"."""
    return " · ".join(part for part in (citation.date, citation.publisher) if part)


def citation_label(number: int, citation: Citation) -> str:
    about = describe(citation)
    return f"[{number}] {_shorten(citation.title, 70)}" + (f" · {about}" if about else "")


def user_message(question: str) -> str:
    return f'<div class="qa-question">{_escape(question)}</div>'


def pending_message(language: str) -> str:
    text = "Ich suche in den Artikeln …" if language == "de" else "Searching the articles …"
    return f'<div class="qa-answer qa-pending">{text}</div>'


def streaming_message(text: str) -> str:
    return f'<div class="qa-answer qa-streaming">{_escape(text)}<span class="qa-cursor">▌</span></div>'


def notice_message(text: str) -> str:
    """A problem that kept the question from being answered: the reason, and that nothing is lost."""
    return f'<div class="qa-notice" role="alert"><span class="qa-notice-icon">⚠</span> {_escape(text)}</div>'


def answer_message(answer: Answer, turn: int) -> str:
    texts = _texts(answer.language)
    if not answer.answerable:
        return (
            '<div class="qa-abstain" role="note">'
            f'<div class="qa-abstain-head">∅ {texts["abstain_head"]}</div>'
            f'<div class="qa-abstain-text">{_escape(answer.text)}</div>'
            f'<div class="qa-hint">{texts["abstain_hint"]}</div></div>'
        )
    parts = [f'<div class="qa-answer">{_linked_text(answer, turn)}</div>']
    if answer.citations:
        items = []
        for number, citation in enumerate(answer.citations, start=1):
            about = describe(citation)
            meta = f' <span class="qa-meta">{_escape(about)}</span>' if about else ""
            label = f'<span class="qa-label">{texts["original"]}:</span> ' if answer.language != "de" else ""
            items.append(
                f'<li><a class="qa-cite qa-cite-item" href="{cite_anchor(turn, number)}">'
                f'<span class="qa-num">[{number}]</span> <span class="qa-title">{_escape(citation.title)}</span></a>'
                f'{meta}<div class="qa-quote" lang="de">{label}„{_escape(citation.sentence)}“</div></li>'
            )
        parts.append(f'<div class="qa-sources-head">{texts["sources"]}</div>')
        parts.append(f'<ol class="qa-citations">{"".join(items)}</ol>')
    if answer.unsupported:
        parts.append(f'<div class="qa-warn">{texts["unsupported"]}: {_escape(", ".join(answer.unsupported))}</div>')
    return "".join(parts)


def _linked_text(answer: Answer, turn: int) -> str:
    count = len(answer.citations)

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if not 1 <= number <= count:
            return match.group(0)
        return f'<a class="qa-cite qa-marker" href="{cite_anchor(turn, number)}">[{number}]</a>'

    return _MARKER.sub(link, _escape(answer.text))


def empty_source() -> str:
    return (
        '<div class="qa-source qa-source-empty">Select a citation such as <b>[1]</b> in an answer: '
        "its article opens here with the sentence highlighted.</div>"
    )


def source_panel(answer: Answer, index: int, document: Document | None) -> str:
    """The article of citation ``index`` with its sentence marked ``qa-cited`` (and the answer's other
    sentences from the same article marked ``qa-also``). ``document`` is None when the article has
    been removed from the index since the answer."""
    citation = answer.citations[index]
    about = " · ".join(part for part in (describe(citation), _file_name(citation.source)) if part)
    head = (
        f'<div class="qa-source-head"><div class="qa-source-position">Citation {index + 1} of '
        f"{len(answer.citations)} · sentence {citation.sentence_index + 1}</div>"
        f'<div class="qa-source-title">{_escape(citation.title)}</div>'
        f'<div class="qa-meta">{_escape(about)}</div></div>'
    )
    original = ""
    if answer.language != "de":
        original = (
            '<div class="qa-original"><div class="qa-label">Original sentence (German)</div>'
            f'<blockquote lang="de">{_escape(citation.sentence)}</blockquote></div>'
        )
    spans = _spans(answer, index, document)
    if document is None or spans is None:
        body = (
            '<div class="qa-notice">This article has been removed or changed since the answer; '
            f'the cited sentence was:</div><div class="qa-article" lang="de"><mark class="qa-cited" id="qa-cited">'
            f"{_escape(citation.sentence)}</mark></div>"
        )
    else:
        body = f'<div class="qa-article" lang="de">{_marked(document.text, spans)}</div>'
    return f'<div class="qa-source">{head}{original}{body}</div>'


def _spans(answer: Answer, index: int, document: Document | None) -> list[tuple[int, int, str]] | None:
    """(start, end, class) of the sentences to mark, in text order; None when the selected sentence is
    no longer at its offsets."""
    if document is None:
        return None
    selected = answer.citations[index]
    if document.text[selected.start : selected.end] != selected.sentence:
        return None
    spans = [(selected.start, selected.end, "qa-cited")]
    for other in answer.citations:
        if other.doc_id != selected.doc_id or document.text[other.start : other.end] != other.sentence:
            continue
        if all(other.end <= start or other.start >= end for start, end, _ in spans):
            spans.append((other.start, other.end, "qa-also"))
    return sorted(spans)


def _marked(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, position = [], 0
    for start, end, kind in spans:
        out.append(_escape(text[position:start]))
        element_id = ' id="qa-cited"' if kind == "qa-cited" else ""
        out.append(f'<mark class="{kind}"{element_id}>{_escape(text[start:end])}</mark>')
        position = end
    out.append(_escape(text[position:]))
    return "".join(out)


def _file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
