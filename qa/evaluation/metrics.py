"""Per-question metrics as pure functions over plain values.

Answers are compared after normalising case, punctuation and number formats, so "1.000",
"1,000" and "1000" are equal and so are "Amir-Abdollahian" and "amir abdollahian".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

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
    """An accepted alias occurs in the answer, as whole words, after normalisation."""
    padded = f" {normalise(answer)} "
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
