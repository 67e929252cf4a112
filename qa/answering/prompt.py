"""Step 2: the answer prompt. The candidate sentences, numbered [1]..[n] under their article's title
and date, then the question; the model cites by those numbers."""

from __future__ import annotations

from index.retrieval import SentenceHit
from qa.prompts import label, render

Messages = list[dict[str, str]]


def answer_messages(
    hits: list[SentenceHit], language: str, question: str, form: str = "answer"
) -> tuple[Messages, list[SentenceHit]]:
    """The prompt's messages and the sentences in number order (``offered[n - 1]`` is ``[n]``).
    ``form`` is the prompt: "answer" (sources, then the answer) or "quote" (sources, a quote, then
    the answer)."""
    context, offered = numbered_context(hits, language)
    return render(form, language, context=context, question=question), offered


def numbered_context(hits: list[SentenceHit], language: str) -> tuple[str, list[SentenceHit]]:
    """The candidate sentences grouped under their article's title and date, and numbered 1..n in the
    order shown: articles in the order of their best sentence, sentences in reading order. Returns
    the text and the sentences in number order (``numbered[n - 1]`` is sentence ``[n]``)."""
    article = label(language, "article")
    groups: dict[str, list[SentenceHit]] = {}
    for hit in hits:
        groups.setdefault(hit.doc_id, []).append(hit)
    lines: list[str] = []
    numbered: list[SentenceHit] = []
    for members in groups.values():
        first = members[0]
        about = ", ".join(x for x in (first.date, first.publisher) if x)
        lines.append(f"{article}: {first.title}" + (f" ({about})" if about else ""))
        for hit in sorted(members, key=lambda h: h.sentence_index):
            numbered.append(hit)
            lines.append(f"[{len(numbered)}] {one_line(hit.sentence)}")
    return "\n".join(lines), numbered


def one_line(text: str) -> str:
    """One line, with straight double quotes shown as single ones: a model that copies a quoted
    word into its JSON answer would otherwise end the string early. Citations keep the original."""
    return " ".join(text.split()).replace('"', "'")
