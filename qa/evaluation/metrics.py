"""Evaluation metrics as pure functions over plain values: per question, then summarised per group.

Answers are compared with the accepted aliases by their facts (``qa.evaluation.equivalence``):
numbers, units, dates, names and content words, in German or English, so "1.000", "1,000" and
"1000" are equal, and so are "28. Februar 2008" and "February 28, 2008". A sentence
matches a gold sentence when the document and the whitespace-normalised text are the same. A cited
or retrieved sentence stands for its copies too (``also``: the same statement in other articles,
shown once): it matches a gold sentence when it or one of its copies does, and it cites a gold
document when its copy there does.
Metrics that do not apply to a question (recall without gold, abstention accuracy on an
answerable question) are None and left out of the means, so groups stay comparable.

Trust: an answer that is wrong, or answers an unanswerable question, and still carries a citation
is the worst outcome; ``wrong_with_citation`` counts it over all questions, and so do its three
causes, which add up to it: ``wrong_sentence_cited`` (answerable, wrong, no gold sentence cited),
``gold_cited_misread`` (answerable, wrong, a gold sentence cited) and ``unanswerable_answered``. ``risk_coverage`` shows
what the verifier's confidence threshold trades: fewer answers for fewer such failures.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qa.evaluation.equivalence import answer_matches
from qa.evaluation.pairs import pair_summary

KS = (1, 3, 5, 10)
#: Above this many distinct confidences a risk-coverage curve keeps this many quantiles of them.
RISK_POINTS = 50
NO_ARTICLE = "(no article)"
NO_LANGUAGE = "(no language)"

_THOUSANDS = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<=\d),(?=\d)")
_PUNCTUATION = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)")


def normalise(text: str) -> str:
    """Lower case, NFC, thousands separators removed, decimal comma as point, punctuation as space."""
    text = unicodedata.normalize("NFC", text).lower().replace("ß", "ss")
    text = _THOUSANDS.sub("", text)
    text = _DECIMAL.sub(".", text)
    text = _PUNCTUATION.sub(" ", text)
    return " ".join(text.split())


def answer_correct(answer: str, aliases: Iterable[str]) -> bool:
    """The answer gives what an accepted alias gives, in German or English, and contradicts none of
    the aliases: see ``qa.evaluation.equivalence``."""
    return answer_matches(answer, aliases)


def alias_occurs(text: str, aliases: Iterable[str]) -> bool:
    """An accepted alias occurs in the text, as whole words, after normalisation."""
    padded = f" {normalise(text)} "
    return any(f" {normalise(alias)} " in padded for alias in aliases if normalise(alias))


def gold_cited(cited: Sequence[tuple[str, str]], gold: Sequence[tuple[str, str]]) -> bool:
    """At least one cited (doc, sentence) is a gold (doc, sentence)."""
    wanted = {(doc, " ".join(sentence.split())) for doc, sentence in gold}
    return any((doc, " ".join(sentence.split())) in wanted for doc, sentence in cited)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def token_f1(answer: str, aliases: Iterable[str]) -> float:
    """SQuAD-style token F1 between the normalised answer and its best-matching alias."""
    answer_tokens = normalise(answer or "").split()
    if not answer_tokens:
        return 0.0
    best = 0.0
    for alias in aliases or ():
        alias_tokens = normalise(alias or "").split()
        overlap = sum((Counter(answer_tokens) & Counter(alias_tokens)).values())
        if overlap:
            precision = overlap / len(answer_tokens)
            recall = overlap / len(alias_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_precision(
    citations: Iterable[Mapping[str, Any]] | None,
    gold: Iterable[Mapping[str, Any]] | None,
    aliases: Iterable[str] | None,
) -> float | None:
    """Share of distinct cited sentences that are gold or contain an accepted alias; None without citations."""
    distinct = _distinct_citations(citations)
    if not distinct:
        return None
    wanted = _gold_keys(gold)
    aliases = list(aliases or ())
    supported = sum(
        1 for keys in distinct.values() if any(key in wanted for key in keys) or alias_occurs(keys[0][1], aliases)
    )
    return supported / len(distinct)


def cited_document_precision(
    cited_docs: Iterable[str | None] | None, gold_docs: Iterable[str | None] | None
) -> float | None:
    """Share of distinct cited documents that are gold documents; None when nothing is cited."""
    cited, wanted = _ids(cited_docs), _ids(gold_docs)
    return len(cited & wanted) / len(cited) if cited else None


def cited_document_recall(
    cited_docs: Iterable[str | None] | None, gold_docs: Iterable[str | None] | None
) -> float | None:
    """Share of distinct gold documents that are cited; None when there are no gold documents."""
    cited, wanted = _ids(cited_docs), _ids(gold_docs)
    return len(cited & wanted) / len(wanted) if wanted else None


def retrieval_hit(
    retrieved: Sequence[Mapping[str, Any]] | None, gold: Iterable[Mapping[str, Any]] | None, k: int
) -> bool | None:
    """A gold sentence is among the first k retrieved sentences; None when there is no gold."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    wanted = _gold_keys(gold)
    if not wanted:
        return None
    return any(key in wanted for item in (retrieved or [])[:k] for key in _keys(item))


def question_metrics(prediction: Mapping[str, Any], expected: Mapping[str, Any], ks: Iterable[int] = KS) -> dict:
    """Every per-question metric, None where it does not apply to the question."""
    answerable = bool(expected.get("answerable", bool(expected.get("answers"))))
    aliases = list(expected.get("answers") or ())
    gold = list(expected.get("gold") or ())
    citations = list(prediction.get("citations") or ())
    answer = prediction.get("answer") or ""
    # Only an explicit False is an abstention: a prediction without the flag still gave an answer.
    abstained = prediction.get("answerable") is False
    gold_docs = [g.get("doc") for g in gold]
    cited_docs = [_cited_document(c, gold_docs) for c in citations]

    correct = gold_hit = f1 = doc_recall = None
    if answerable:
        correct = not abstained and answer_correct(answer, aliases)
        f1 = 0.0 if abstained else token_f1(answer, aliases)
        gold_hit = gold_cited(
            [key for c in citations for key in _keys(c)],
            [(g.get("doc"), g.get("sentence") or "") for g in gold],
        )
        doc_recall = cited_document_recall(cited_docs, gold_docs)
    metrics: dict[str, Any] = {
        "correct": correct,
        "token_f1": f1,
        "gold_cited": gold_hit,
        "correct_and_gold_cited": (correct and gold_hit) if answerable else None,
        "citation_precision": citation_precision(citations, gold, aliases),
        "cited_doc_precision": cited_document_precision(cited_docs, gold_docs),
        "cited_doc_recall": doc_recall,
        "abstained": abstained,
        "abstention_correct": None if answerable else abstained,
        "false_abstention": abstained if answerable else None,
        "language_match": _language_match(prediction.get("language"), expected.get("language")),
        "answered": not abstained if answerable else None,
        # A citation vouches for the answer, so a wrong or uncalled-for answer that cites is worse
        # than one that cites nothing; it counts against every question, hence never None.
        "wrong_with_citation": bool(citations) and not abstained and not (answerable and correct),
        # Its three causes, which add up to it: the wrong sentence cited, a gold sentence cited but
        # misread, or an unanswerable question answered.
        "wrong_sentence_cited": bool(citations) and answerable and not abstained and not correct and not gold_hit,
        "gold_cited_misread": bool(citations) and answerable and not abstained and not correct and bool(gold_hit),
        "unanswerable_answered": bool(citations) and not answerable and not abstained,
        "answered_right": None if abstained else bool(answerable and correct and gold_hit),
    }
    retrieved = list(prediction.get("retrieved") or ())
    for k in ks:
        metrics[f"retrieval_recall@{k}"] = retrieval_hit(retrieved, gold, k) if answerable else None
    return metrics


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict:
    """Counts, mean per-question metrics and latency percentiles over a group of scored questions."""
    metrics = [row.get("metrics") or {} for row in rows]
    summary: dict[str, Any] = {
        "questions": len(rows),
        "answerable": sum(1 for m in metrics if m.get("false_abstention") is not None),
        "unanswerable": sum(1 for m in metrics if m.get("abstention_correct") is not None),
    }
    for name, source in _MEANS:
        summary[name] = _mean(m.get(source) for m in metrics)
    recall_keys = {key for m in metrics for key in m if key.startswith("retrieval_recall@")}
    for key in sorted(recall_keys, key=_k_of):
        summary[key] = _mean(m.get(key) for m in metrics)
    for name, field in (("latency", "latency_s"), ("first_token", "first_token_s")):
        values = [float(row[field]) for row in rows if row.get(field) is not None]
        summary[f"{name}_p50"] = round(percentile(values, 50), 3) if values else None
        summary[f"{name}_p95"] = round(percentile(values, 95), 3) if values else None
    return summary


def compute_metrics(rows: Sequence[Mapping[str, Any]], operating_threshold: float | None = None) -> dict:
    """The summary over all questions, per question language and per article the questions are about,
    the two languages compared over the questions asked in both, and the risk-coverage curves over
    the verifier's confidence (``operating_threshold`` is the confidence the run withheld answers
    below, always a point of the curves when given)."""
    by_language = _by_language(rows)
    by_article: dict[str, list] = {}
    for row in rows:
        articles = _ids(row.get("articles"))
        for doc_id in articles or {NO_ARTICLE}:
            by_article.setdefault(doc_id, []).append(row)
    return {
        "overall": summarise(rows),
        "by_language": {language: summarise(group) for language, group in by_language.items()},
        "by_article": {doc_id: summarise(by_article[doc_id]) for doc_id in sorted(by_article)},
        "language_pairs": pair_summary(rows),
        "risk_coverage": risk_coverage_by_language(rows, operating=operating_threshold),
    }


def risk_coverage(
    rows: Sequence[Mapping[str, Any]],
    thresholds: Iterable[float] | None = None,
    operating: float | None = None,
    max_points: int = RISK_POINTS,
) -> list[dict]:
    """What each minimum confidence would keep of the drafted answers, sorted by threshold.

    A row is a prediction with ``confidence``, ``metrics`` and ``draft_metrics`` (the metrics of the
    drafted answer, shown or withheld; None without a draft). A draft is kept at threshold t when its
    confidence is at least t; a draft without a confidence was not scored and is always kept, a row
    without a draft never. Each point has ``coverage`` (share of the answerable questions whose
    draft is kept), ``wrong_with_citation`` (share of all questions), ``answered_precision`` (share
    of the kept drafts that are right and cite a gold sentence) and ``answered`` (drafts kept).
    Without ``thresholds`` they are 0, every distinct confidence (or ``max_points`` quantiles of
    them), ``operating`` and one past the highest confidence.
    """
    drafts = [
        (row.get("confidence"), row["draft_metrics"], _answerable(row))
        for row in rows
        if row.get("draft_metrics") is not None and not row["draft_metrics"].get("abstained")
    ]
    if thresholds is None:
        thresholds = _curve_thresholds([c for c, _, _ in drafts if c is not None], operating, max_points)
    answerable = sum(1 for row in rows if _answerable(row))
    points = []
    for threshold in sorted(set(thresholds)):
        kept = [(m, a) for confidence, m, a in drafts if confidence is None or confidence >= threshold]
        points.append(
            {
                "threshold": threshold,
                "coverage": _share(sum(1 for _, a in kept if a), answerable),
                "wrong_with_citation": _share(sum(1 for m, _ in kept if m.get("wrong_with_citation")), len(rows)),
                "answered_precision": _share(sum(1 for m, _ in kept if m.get("answered_right")), len(kept)),
                "answered": len(kept),
            }
        )
    return points


def risk_coverage_by_language(
    rows: Sequence[Mapping[str, Any]], thresholds: Iterable[float] | None = None, operating: float | None = None
) -> dict[str, list[dict]]:
    """``risk_coverage`` over all rows ("all") and per question language."""
    thresholds = None if thresholds is None else list(thresholds)
    groups = {"all": rows, **_by_language(rows)}
    return {name: risk_coverage(group, thresholds, operating) for name, group in groups.items()}


_MEANS = (
    ("accuracy", "correct"),
    ("token_f1", "token_f1"),
    ("gold_sentence_recall", "gold_cited"),
    ("correct_and_gold_cited", "correct_and_gold_cited"),
    ("wrong_with_citation", "wrong_with_citation"),
    ("wrong_sentence_cited", "wrong_sentence_cited"),
    ("gold_cited_misread", "gold_cited_misread"),
    ("unanswerable_answered", "unanswerable_answered"),
    ("answered_precision", "answered_right"),
    ("coverage", "answered"),
    ("citation_precision", "citation_precision"),
    ("cited_doc_precision", "cited_doc_precision"),
    ("cited_doc_recall", "cited_doc_recall"),
    ("abstention_accuracy", "abstention_correct"),
    ("false_abstention_rate", "false_abstention"),
    ("language_match", "language_match"),
)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(value) for value in values if value is not None]
    return round(sum(present) / len(present), 4) if present else None


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _by_language(rows: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(_language(row.get("language")) or NO_LANGUAGE, []).append(row)
    return {language: groups[language] for language in sorted(groups)}


def _answerable(row: Mapping[str, Any]) -> bool:
    # Only answerable questions have a false-abstention value, in the final and the draft metrics alike.
    return any((row.get(key) or {}).get("false_abstention") is not None for key in ("metrics", "draft_metrics"))


def _curve_thresholds(confidences: list[float], operating: float | None, max_points: int) -> list[float]:
    """0, the distinct confidences (evenly spaced quantiles of them when there are too many), the
    operating threshold, and a point past the highest, where only unscored drafts are kept."""
    scores = sorted(confidences)
    chosen = set(scores)
    if len(chosen) > max_points:
        # Quantiles taken from the scores themselves, so each point is a kept set that really occurs.
        last = len(scores) - 1
        chosen = {scores[round(i * last / (max_points - 1))] for i in range(max_points)}
    chosen.add(0.0)
    if operating is not None:
        chosen.add(float(operating))
    if scores:
        # Rounding moves the value by at most 0.005, so it stays above the highest score.
        chosen.add(round(scores[-1] + 0.01, 2))
    return sorted(chosen)


def _k_of(key: str) -> tuple[int, str]:
    suffix = key.rpartition("@")[2]
    return (int(suffix), "") if suffix.isdigit() else (sys.maxsize, suffix)


def _sentence_key(doc_id: str | None, sentence: str | None) -> tuple[str | None, str]:
    return doc_id, " ".join((sentence or "").split())


def _gold_keys(gold: Iterable[Mapping[str, Any]] | None) -> set[tuple[str | None, str]]:
    return {_sentence_key(g.get("doc"), g.get("sentence")) for g in gold or ()}


def _keys(item: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """The (document, sentence) keys a cited or retrieved sentence stands for: its own, then its copies'."""
    return [_sentence_key(x.get("doc_id"), x.get("sentence")) for x in (item, *(item.get("also") or ()))]


def _cited_document(citation: Mapping[str, Any], gold_docs: Iterable[str | None]) -> str | None:
    """The citation's document, or, where that is not a gold document, one of its copies' that is."""
    wanted = _ids(gold_docs)
    own = citation.get("doc_id")
    if own in wanted:
        return own
    return next((copy.get("doc_id") for copy in citation.get("also") or () if copy.get("doc_id") in wanted), own)


def _distinct_citations(citations: Iterable[Mapping[str, Any]] | None) -> dict[tuple, list[tuple[str | None, str]]]:
    # A sentence cited twice (same document and position) is one claim, not two; without a position
    # the normalised text has to stand in for it. Each claim keeps its own key first, then its copies'.
    distinct: dict[tuple, list[tuple[str | None, str]]] = {}
    for citation in citations or ():
        keys = _keys(citation)
        doc_id, sentence = keys[0]
        index = citation.get("sentence_index")
        distinct.setdefault((doc_id, index) if index is not None else (doc_id, sentence), keys)
    return distinct


def _ids(values: Iterable[str | None] | None) -> set[str]:
    return {value for value in values or () if value}


def _language_match(answered: str | None, asked: str | None) -> bool | None:
    # An answer too short to tell its language ("Wonsan.", "2018.") neither matches nor fails.
    if answered is None:
        return None
    return bool(_language(asked)) and _language(answered) == _language(asked)


def _language(value: str | None) -> str:
    return (value or "").strip().lower()
