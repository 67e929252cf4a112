"""BM25 over stemmed words: German Snowball stems for German text, English for English.

A question may be in either language, so its words are stemmed both ways; an English stem that
happens to match a German word is rare and costs little.
"""

from __future__ import annotations

import re
from functools import cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_GERMAN

_WORD = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?!\d)|[^\W_]+")
_STOPWORDS = frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_EN)
_LANGUAGES = {"de": "german", "en": "english"}


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_LANGUAGES.get(language, "german"))


def words(text: str) -> list[str]:
    """Lower-cased words; "1.000" and "1,000" become "1000"."""
    out = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0)
        if word[0].isdigit():
            word = word.replace(".", "").replace(",", "")
        if word not in _STOPWORDS:
            out.append(word)
    return out


def analyse(text: str, language: str) -> list[str]:
    return _stemmer(language).stemWords(words(text))


def analyse_query(text: str) -> list[str]:
    tokens = words(text)
    stems = _stemmer("de").stemWords(tokens) + _stemmer("en").stemWords(tokens)
    return list(dict.fromkeys(stems))


class LexicalIndex:
    """BM25 scores of a query against every entry, in entry order."""

    def __init__(self, analysed: list[list[str]]):
        self.size = len(analysed)
        self._bm25 = bm25s.BM25()
        self._empty = not any(analysed)
        if not self._empty:
            self._bm25.index(analysed, show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not query_tokens or self._empty:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)
