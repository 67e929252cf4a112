"""HTML for the chat page: messages, answers with their citations, and the article in the source panel.

Everything that comes from a user or an article is escaped here; the page renders these strings as
HTML without Markdown, so an answer's "*" or "_" stays what it is. A citation link is an anchor
``#qa-cite-<turn>-<number>``, and a link to a copy of the cited sentence in another article (the same
statement, "also reported by") ``#qa-cite-<turn>-<number>-<copy>``: the page's script turns a click on
either into a request for the source panel, which opens that sentence in its own article.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from index.documents import Document
from index.located import LocatedSentence
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
        "related": "nur verwandt: nennt die Antwort nicht",
        "related_tip": "Die Prüfung fand, dass dieser Satz vom selben Thema handelt, die Antwort aber nicht "
        "selbst nennt.",
        "states_tip": "Die Prüfung fand, dass dieser Satz die Antwort nennt.",
        "unverified_head": "Nicht belegt: kein zitierter Satz nennt das",
        "unverified_hint": "Nur zur Orientierung gezeigt; prüfen Sie die Quellen selbst.",
        "claims": "Aussagen, die kein zitierter Satz nennt",
        "withheld": "Eine Antwort wurde entworfen, aber zurückgehalten, weil kein Satz der Artikel sie nennt.",
        "also": "auch berichtet von",
        "searched": "Auch auf Deutsch gesucht",
        "quoting": "Zitiere",
        "quote": "Geschrieben aus dem Zitat",
    },
    "en": {
        "sources": "Sources",
        "original": "German original",
        "abstain_head": "No answer in the articles",
        "abstain_hint": "No sentence of the indexed articles supports an answer. Try asking another way, "
        "or add an article that covers it.",
        "unsupported": "Not found in the cited sentences",
        "related": "only related: does not state the answer",
        "related_tip": "The check found that this sentence is about the same thing but does not itself state "
        "the answer.",
        "states_tip": "The check found that this sentence states the answer.",
        "unverified_head": "Unverified: no cited sentence states this",
        "unverified_hint": "Shown for orientation only; check the sources yourself.",
        "claims": "Claims no cited sentence states",
        "withheld": "An answer was drafted but withheld because no sentence of the articles states it.",
        "also": "also reported by",
        "searched": "Also searched in German, as the language model translated the question",
        "quoting": "Quoting",
        "quote": "Written from the quote",
    },
}
_TRANSLATE_BUTTON = "Show an English machine translation"
_TRANSLATION_LABEL = "Machine translation (by the language model) — the German original above is the citation."


def _texts(language: str) -> dict[str, str]:
    return _TEXTS.get(language, _TEXTS["en"])


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def cite_anchor(turn: int, number: int) -> str:
    return f"#qa-cite-{turn}-{number}"


def copy_anchor(turn: int, number: int, copy: int) -> str:
    """The link to copy ``copy`` (from 0) of citation ``number``: its sentence in another article."""
    return f"#qa-cite-{turn}-{number}-{copy + 1}"


_ANCHOR = re.compile(r"#?qa-cite-(\d+)-(\d+)(?:-(\d+))?(?::.*)?")


def parse_anchor(value: str) -> tuple[int, int] | None:
    """``qa-cite-<turn>-<number>[-<copy>][:anything]`` → (turn, citation index from 0), or None."""
    match = _ANCHOR.fullmatch((value or "").strip())
    if not match or int(match.group(2)) < 1 or match.group(3) == "0":
        return None
    return int(match.group(1)), int(match.group(2)) - 1


def parse_copy(value: str) -> int | None:
    """The copy (from 0) a ``qa-cite-<turn>-<number>-<copy>`` link opens; None for the citation itself."""
    match = _ANCHOR.fullmatch((value or "").strip())
    if not match or match.group(3) is None or int(match.group(3)) < 1:
        return None
    return int(match.group(3)) - 1


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


def quoting_message(quote: str, language: str) -> str:
    """The quote as the model copies it from its sentence, before the answer is written from it."""
    head = _texts(language)["quoting"]
    return (
        f'<div class="qa-answer qa-streaming qa-quoting">{head}: <q lang="de">{_escape(quote)}</q>'
        '<span class="qa-cursor">▌</span></div>'
    )


def notice_message(text: str) -> str:
    """A problem that kept the question from being answered: the reason, and that nothing is lost."""
    return f'<div class="qa-notice" role="alert"><span class="qa-notice-icon">⚠</span> {_escape(text)}</div>'


def answer_message(answer: Answer, turn: int) -> str:
    texts = _texts(answer.language)
    # The German form an English question was searched in, so that a miss can be understood.
    searched = (
        f'<div class="qa-hint qa-searched">{texts["searched"]}: <span lang="de">{_escape(answer.searched_as)}'
        "</span></div>"
        if answer.searched_as
        else ""
    )
    if not answer.answerable:
        # The withheld draft itself is not shown: no sentence states it, so it must not read as an answer.
        withheld = f'<div class="qa-hint qa-withheld">{texts["withheld"]}</div>' if answer.withheld else ""
        return (
            '<div class="qa-abstain" role="note">'
            f'<div class="qa-abstain-head">∅ {texts["abstain_head"]}</div>'
            f'<div class="qa-abstain-text">{_escape(answer.text)}</div>'
            f'<div class="qa-hint">{texts["abstain_hint"]}</div>{withheld}{searched}</div>'
        )
    parts = [f'<div class="qa-answer">{_linked_text(answer, turn)}</div>']
    if answer.quote:
        parts.append(f'<div class="qa-hint qa-quote">{texts["quote"]}: <q lang="de">{_escape(answer.quote)}</q></div>')
    if answer.citations:
        parts.append(f'<div class="qa-sources-head">{texts["sources"]}</div>{_citation_list(answer, turn)}')
    if answer.unsupported:
        parts.append(f'<div class="qa-warn">{texts["unsupported"]}: {_escape(", ".join(answer.unsupported))}</div>')
    if answer.unsupported_claims:
        claims = "".join(f"<li>{_escape(claim)}</li>" for claim in answer.unsupported_claims)
        parts.append(f'<div class="qa-warn qa-claims">{texts["claims"]}:<ul>{claims}</ul></div>')
    if searched:
        parts.append(searched)
    if answer.verified is False:
        head = (
            f'<div class="qa-unverified-head">⚠ {texts["unverified_head"]}</div>'
            f'<div class="qa-hint">{texts["unverified_hint"]}</div>'
        )
        return f'<div class="qa-unverified" role="note">{head}{"".join(parts)}</div>'
    return "".join(parts)


def _citation_list(answer: Answer, turn: int) -> str:
    label = ""
    if answer.language != "de":
        label = f'<span class="qa-label">{_texts(answer.language)["original"]}:</span> '
    items = []
    for number, citation in enumerate(answer.citations, start=1):
        about = describe(citation)
        meta = f' <span class="qa-meta">{_escape(about)}</span>' if about else ""
        items.append(
            f'<li><a class="qa-cite qa-cite-item" href="{cite_anchor(turn, number)}">'
            f'<span class="qa-num">[{number}]</span> <span class="qa-title">{_escape(citation.title)}</span></a>'
            f"{meta}{verdict_badge(citation, answer.language)}"
            f'<div class="qa-quote" lang="de">{label}„{quoted_sentence(citation)}“</div>'
            f"{also_reported(citation, turn, number, answer.language)}</li>"
        )
    return f'<ol class="qa-citations">{"".join(items)}</ol>'


def also_reported(citation: Citation, turn: int, number: int, language: str) -> str:
    """The same statement in other articles, "also reported by Outlet A, Outlet B", each a link that
    opens that article's sentence in the source panel; empty when no other article has it."""
    if not citation.also:
        return ""
    links = ", ".join(
        f'<a class="qa-cite qa-copy" href="{copy_anchor(turn, number, i)}" title="{_escape(_copy_tip(copy))}">'
        f"{_escape(copy.outlet)}</a>"
        for i, copy in enumerate(citation.also)
    )
    return f'<div class="qa-copies">{_texts(language)["also"]} {links}</div>'


def _copy_tip(copy: LocatedSentence) -> str:
    about = " · ".join(part for part in (copy.date, copy.title) if part)
    return f"{about}: „{copy.sentence}“"


def as_citation(citation: Citation, copy: int) -> Citation:
    """Copy ``copy`` of ``citation`` as a citation of its own sentence, for the source panel. The check
    judged the cited sentence, not the copy, so the copy carries no verdict and no evidence span."""
    return replace(
        citation, **citation.also[copy].location(), verdict="copy", evidence_start=None, evidence_end=None, also=[]
    )


def verdict_badge(citation: Citation, language: str) -> str:
    """A badge on a citation whose sentence is only related to the answer; a quiet check mark on one
    that states it; nothing for a verdict this page does not know."""
    texts = _texts(language)
    if citation.verdict == "related":
        badge, tip = texts["related"], texts["related_tip"]
    elif citation.verdict == "states":
        badge, tip = "✓", texts["states_tip"]
    else:
        return ""
    return f' <span class="qa-verdict qa-{citation.verdict}" title="{_escape(tip)}">{_escape(badge)}</span>'


def quoted_sentence(citation: Citation) -> str:
    """The cited sentence, escaped, with its evidence span marked ``qa-evidence`` where it has one."""
    return _with_evidence(citation.sentence, evidence_span(citation))


def evidence_span(citation: Citation) -> tuple[int, int] | None:
    """The evidence as offsets into the sentence, or None when there is none or its document offsets
    do not lie inside the sentence: a misplaced highlight would point the reader at the wrong words."""
    start, end = citation.evidence_start, citation.evidence_end
    inside = min(citation.end, citation.start + len(citation.sentence))
    if start is None or end is None or not citation.start <= start < end <= inside or not citation.evidence.strip():
        return None
    return start - citation.start, end - citation.start


def _with_evidence(sentence: str, span: tuple[int, int] | None) -> str:
    if span is None:
        return _escape(sentence)
    start, end = span
    return (
        f'{_escape(sentence[:start])}<mark class="qa-evidence">{_escape(sentence[start:end])}</mark>'
        f"{_escape(sentence[end:])}"
    )


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


def source_panel(
    answer: Answer,
    index: int,
    document: Document | None,
    *,
    translation: str | None = None,
    translation_problem: str | None = None,
    copy: int | None = None,
) -> str:
    """The article of citation ``index`` with its sentence marked ``qa-cited`` (and the answer's other
    sentences from the same article marked ``qa-also``); with ``copy``, that copy of the cited sentence
    (``citation.also[copy]``) in its own article instead. ``document`` is the article shown, None when
    it has been removed from the index since the answer. For an answer that is not German, the German
    original is shown above the article, with the machine ``translation`` of it where one was made,
    else why it could not be made (``translation_problem``), else a button that asks for one."""
    citation = answer.citations[index]
    position = f"Citation {index + 1} of {len(answer.citations)}"
    if copy is not None and 0 <= copy < len(citation.also):
        citation = as_citation(citation, copy)
        position += " · the same statement in another article"
    about = " · ".join(part for part in (describe(citation), _file_name(citation.source)) if part)
    head = (
        f'<div class="qa-source-head"><div class="qa-source-position">{position}'
        f" · sentence {citation.sentence_index + 1}</div>"
        f'<div class="qa-source-title">{_linked_title(citation)}</div>'
        f'<div class="qa-meta">{_escape(about)}{verdict_badge(citation, answer.language)}</div></div>'
    )
    original = ""
    if answer.language != "de":
        original = (
            '<div class="qa-original"><div class="qa-label">Original sentence (German)</div>'
            f'<blockquote lang="de">{quoted_sentence(citation)}</blockquote>'
            f"{_translation_block(translation, translation_problem)}</div>"
        )
    spans = _spans(answer, citation, document)
    evidence = evidence_span(citation)
    if document is None or spans is None:
        body = (
            '<div class="qa-notice">This article has been removed or changed since the answer; '
            f'the cited sentence was:</div><div class="qa-article" lang="de"><mark class="qa-cited" id="qa-cited">'
            f"{quoted_sentence(citation)}</mark></div>"
        )
    else:
        body = f'<div class="qa-article" lang="de">{_marked(document.text, spans, evidence)}</div>'
    return f'<div class="qa-source">{head}{original}{body}</div>'


def _translation_block(translation: str | None, problem: str | None) -> str:
    if translation:
        return (
            f'<div class="qa-translation"><div class="qa-label">{_TRANSLATION_LABEL}</div>'
            f'<blockquote lang="en">{_escape(translation)}</blockquote></div>'
        )
    if problem:
        return f'<div class="qa-translation qa-translation-problem" role="alert">{_escape(problem)}</div>'
    # The page's script turns a click on this into the page's "translate" event.
    return f'<button type="button" class="qa-translate">{_TRANSLATE_BUTTON}</button>'


def _spans(answer: Answer, selected: Citation, document: Document | None) -> list[tuple[int, int, str]] | None:
    """(start, end, class) of the sentences to mark, in text order; None when the selected sentence is
    no longer at its offsets."""
    if document is None:
        return None
    if document.text[selected.start : selected.end] != selected.sentence:
        return None
    spans = [(selected.start, selected.end, "qa-cited")]
    for other in answer.citations:
        if other.doc_id != selected.doc_id or document.text[other.start : other.end] != other.sentence:
            continue
        if all(other.end <= start or other.start >= end for start, end, _ in spans):
            spans.append((other.start, other.end, "qa-also"))
    return sorted(spans)


def _marked(text: str, spans: list[tuple[int, int, str]], evidence: tuple[int, int] | None = None) -> str:
    """The text escaped, with ``spans`` marked; ``evidence`` (offsets into the cited sentence) is
    marked inside the ``qa-cited`` span. ``_spans`` has checked that span against the text."""
    out, position = [], 0
    for start, end, kind in spans:
        out.append(_escape(text[position:start]))
        if kind == "qa-cited":
            inner = _with_evidence(text[start:end], evidence)
            out.append(f'<mark class="qa-cited" id="qa-cited">{inner}</mark>')
        else:
            out.append(f'<mark class="{kind}">{_escape(text[start:end])}</mark>')
        position = end
    out.append(_escape(text[position:]))
    return "".join(out)


def _file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _linked_title(citation: Citation) -> str:
    """The article's title, linked to its address where the archive gave one (http and https only)."""
    title = _escape(citation.title)
    url = citation.url or ""
    if not url.lower().startswith(("http://", "https://")):
        return title
    return f'<a class="qa-article-link" href="{_escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
