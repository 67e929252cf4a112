"""Step 4: turn the model's reply into a checked answer: every citation is one of the offered
sentences, supports the answer, and is numbered 1..n in the order its marker first appears.

The model cites by the numbers of the sentences it was shown. Code maps numbers back to sentence
records, so a citation is verbatim source text by construction; numbers that were not offered are
dropped. Support is the similarity between the answer and the sentence, lowered where numbers or
names of the answer are missing from the cited sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.retrieval import SentenceHit
from index.sentences import split_sentences
from qa.answer import Citation
from qa.answering.generate import ModelReply
from qa.answering.support import lacks_asked_quantity, missing_terms, names, numbers, restates

ABSTENTION = {"de": "Dazu steht nichts in den Artikeln.", "en": "The articles don't say."}
_ABSTENTION_CUES = re.compile(
    r"steht nichts|nichts in den (artikeln|sätzen)|keine (angaben|informationen)|nicht erwähnt"
    r"|geht aus den (artikeln|sätzen) nicht hervor|weiß ich nicht"
    r"|(wird|wurde|ist) (darin |dort |hier )?nicht (genannt|angegeben)"
    r"|(articles|sentences|sources) (don't|do not|does not|doesn't) (say|mention)|no information"
    r"|not mentioned in the|cannot be answered|i don't know|(is|was) not (stated|specified|given)\b",
    re.IGNORECASE,
)
#: An uncited sentence that supports the answer by this much more than every cited one is cited too.
BETTER_SUPPORT = 0.02
#: A cited sentence this much below the best-supporting one, adding no number or name, is dropped.
WEAKER_SUPPORT = 0.05
#: Each missing number or name lowers a citation's support by this factor.
_MISSING_PENALTY = 0.85


@dataclass(slots=True)
class CheckedAnswer:
    text: str
    citations: list[Citation]
    abstained: bool
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_abstention(text: str) -> bool:
    return not text.strip() or bool(_ABSTENTION_CUES.search(text.replace("’", "'")))


def check(
    reply: ModelReply,
    offered: Sequence[SentenceHit],
    similarity: Sequence[float],
    min_support: float,
    question: str = "",
) -> CheckedAnswer:
    """``offered[n - 1]`` is the sentence the model saw as ``[n]``; ``similarity[i]`` is the
    similarity between the claim (question and answer) and ``offered[i]``. Numbers and names that
    the answer repeats from the question need no source."""
    notes: list[str] = []
    if is_abstention(reply.text):
        return CheckedAnswer("", [], True, notes=["the model found no answer in the sentences"])
    if question and restates(reply.text, question):
        return CheckedAnswer("", [], True, notes=["abstained: the answer only restates the question or asks one"])
    if question and lacks_asked_quantity(reply.text, question):
        return CheckedAnswer("", [], True, notes=["abstained: the question asks how many, the answer has no number"])
    cited: list[int] = []
    for number in reply.cited:
        if 1 <= number <= len(offered):
            cited.append(number - 1)
        else:
            notes.append(f"dropped citation [{number}]: no such sentence was offered")
    if not cited:
        best = max(range(len(offered)), key=lambda i: similarity[i], default=None)
        if best is None or similarity[best] < min_support:
            notes.append("abstained: the model cited nothing valid and no sentence supports its answer")
            return CheckedAnswer("", [], True, notes=notes)
        cited = [best]
        notes.append(
            f"re-attached the best-supporting sentence ({offered[best].doc_id}, {offered[best].sentence_index})"
        )
    cited = _complete(reply.text, cited, offered, similarity, min_support, notes, question)
    cited = _select(reply.text, cited, offered, similarity, notes, question)
    if max(similarity[i] for i in cited) < min_support:
        notes.append("abstained: the cited sentences do not support the answer")
        return CheckedAnswer("", [], True, notes=notes)
    unsupported = missing_terms(reply.text, [question, *(offered[i].sentence for i in cited)])
    invented = [term for term in unsupported if term[0].isdigit()]
    if invented:
        notes.append("abstained: no supporting sentence holds the number(s) " + ", ".join(invented))
        return CheckedAnswer("", [], True, notes=notes)
    if unsupported:
        notes.append("not found in the cited sentences: " + ", ".join(unsupported))
    penalty = _MISSING_PENALTY ** len(unsupported)
    text, order = _place_markers(reply.text, cited, offered)
    citations = [_citation(offered[i], similarity[i] * penalty) for i in order]
    return CheckedAnswer(text, citations, False, unsupported, notes)


def _complete(
    text: str,
    cited: list[int],
    offered: Sequence[SentenceHit],
    similarity: Sequence[float],
    min_support: float,
    notes: list[str],
    question: str,
) -> list[int]:
    """Add offered sentences that hold numbers or names the cited ones lack (answers that span two
    sentences), then drop cited sentences that add nothing and support the answer far less than
    the best one."""
    cited = list(dict.fromkeys(cited))
    missing = set(missing_terms(text, [question, *(offered[i].sentence for i in cited)]))
    for i in sorted(range(len(offered)), key=lambda i: -similarity[i]):
        if not missing:
            break
        if i in cited or similarity[i] < min_support:
            continue
        covered = missing - set(missing_terms(text, [question, *(offered[j].sentence for j in (*cited, i))]))
        if covered:
            cited.append(i)
            missing -= covered
            notes.append(f"added [{i + 1}]: it holds {', '.join(sorted(covered))}")
    return cited


def _select(
    text: str,
    cited: list[int],
    offered: Sequence[SentenceHit],
    similarity: Sequence[float],
    notes: list[str],
    question: str,
) -> list[int]:
    """Keep the citations that carry the answer. A small model often cites a neighbour of the right
    sentence: the sentence that supports the answer clearly better is added. Cited sentences are
    dropped that hold none of the answer's own numbers and names while a better-or-equal supporting
    citation does, or that support the answer far less than the best one and add no such term."""
    terms = set(missing_terms(text, [question]))

    def holds(i: int) -> set[str]:
        return terms - set(missing_terms(text, [offered[i].sentence]))

    best = max(range(len(offered)), key=lambda i: similarity[i])
    top = max(similarity[i] for i in cited)
    if best not in cited and similarity[best] >= top + BETTER_SUPPORT and (not terms or holds(best)):
        cited = [*cited, best]
        notes.append(f"added [{best + 1}]: it supports the answer best")
    holding = [i for i in cited if holds(i)]
    if terms and holding:
        best_holding = max(similarity[i] for i in holding)
        for i in [i for i in cited if not holds(i) and similarity[i] <= best_holding]:
            cited.remove(i)
            notes.append(f"dropped [{i + 1}]: it holds none of the answer's numbers and names")
    top = max(similarity[i] for i in cited)
    for i in sorted(cited, key=lambda i: similarity[i]):
        others = set().union(*(holds(j) for j in cited if j != i)) if len(cited) > 1 else None
        if others is not None and similarity[i] < top - WEAKER_SUPPORT and holds(i) <= others:
            cited.remove(i)
            notes.append(f"dropped [{i + 1}]: it supports the answer much less than the others")
    return cited


def _place_markers(text: str, cited: list[int], offered: Sequence[SentenceHit]) -> tuple[str, list[int]]:
    """Put each citation's marker after the answer sentence it shares most numbers and names with,
    and number the markers in order of first appearance. Returns the text and the offered indices in
    marker order."""
    spans = [(s.start, s.end) for s in split_sentences(text)] or [(0, len(text))]
    sentence_terms = [_terms(text[start:end]) for start, end in spans]
    placed: dict[int, list[int]] = {}
    for i in cited:
        source_terms = _terms(offered[i].sentence)
        overlap = [len(terms & source_terms) if terms else 0 for terms in sentence_terms]
        target = max(range(len(spans)), key=lambda s: (overlap[s], s == len(spans) - 1))
        placed.setdefault(target, []).append(i)
    order: list[int] = []
    pieces: list[str] = []
    cursor = 0
    for index, (start, end) in enumerate(spans):
        if index not in placed:
            continue
        body_end = end
        while body_end > start and text[body_end - 1] in ".!?":
            body_end -= 1
        markers = ""
        for i in placed[index]:
            order.append(i)
            markers += f"[{len(order)}]"
        pieces.append(text[cursor:body_end] + " " + markers)
        cursor = body_end
    pieces.append(text[cursor:])
    return "".join(pieces), order


def _terms(text: str) -> set[str]:
    return numbers(text) | {n.lower() for n in names(text)}


def _citation(hit: SentenceHit, score: float) -> Citation:
    return Citation(**hit.location(), score=round(max(0.0, min(1.0, score)), 4), also=list(hit.also))
