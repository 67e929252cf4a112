"""Questions asked in both languages: the German and the English question of one fact, compared
question for question.

Two questions form a pair when their ids differ only in a language code (``news-013-de`` and
``news-013-en``, ``de-07`` and ``en-07``), they are in different languages, and they name the same
gold sentences. Over pairs, a gap between the languages is the cost of the language alone: the fact,
the article and the answer are the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The per-question figures compared across the two questions of a pair.
PAIR_FIGURES = ("retrieval_recall@1", "retrieval_recall@3", "retrieval_recall@10", "correct_and_gold_cited")
_LANGUAGE_CODE = re.compile(r"(?:^(de|en)[-_])|(?:[-_](de|en)$)")


def pair_key(identifier: str) -> str | None:
    """The id without its language code; None when it has none."""
    if not _LANGUAGE_CODE.search(identifier):
        return None
    return _LANGUAGE_CODE.sub("", identifier, count=1)


def language_pairs(rows: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(German row, English row) of every pair, in the order of the German questions."""
    by_key: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        key = pair_key(str(row.get("id", "")))
        if key is not None and row.get("language") in ("de", "en"):
            by_key.setdefault((key, row["language"]), row)
    pairs = []
    for (key, language), german in by_key.items():
        english = by_key.get((key, "en"))
        if language == "de" and english is not None and _gold(german) and _gold(german) == _gold(english):
            pairs.append((german, english))
    return pairs


def pair_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Over the pairs with gold sentences: each figure for the German and the English questions, and
    the gap (German minus English, in the figure's units)."""
    pairs = language_pairs(rows)
    summary: dict[str, Any] = {"pairs": len(pairs), "de": {}, "en": {}, "gap": {}}
    for figure in PAIR_FIGURES:
        german = _mean([_metric(g, figure) for g, _ in pairs])
        english = _mean([_metric(e, figure) for _, e in pairs])
        summary["de"][figure], summary["en"][figure] = german, english
        summary["gap"][figure] = round(german - english, 4) if german is not None and english is not None else None
    return summary


def _gold(row: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    gold = (row.get("expected") or {}).get("gold") or ()
    return frozenset((g.get("doc", ""), " ".join(g.get("sentence", "").split())) for g in gold)


def _metric(row: Mapping[str, Any], figure: str) -> float | None:
    value = (row.get("metrics") or {}).get(figure)
    return None if value is None else float(value)


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(sum(present) / len(present), 4) if present else None
