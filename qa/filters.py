"""Filters by date and outlet: which articles a question may be answered from.

A filter is read from what a user types ("2023-10-05", "5.10.2023", "5. Oktober 2023", "2023-10" for
a whole month; outlets by name, in any case). An article matches a date filter when the days its
date covers overlap the filter's, so an article dated only "2023-10" matches "since 2023-10-15";
an article without a date matches no date filter, and one without an outlet no outlet filter.
Retrieval applies the filter before it ranks (the admitted rows searched exactly when they are few,
else a deeper approximate search masked by them; row masks for BM25), so a filtered question gets as
many sentences as an unfiltered one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from index.dates import date_range, normalise_date
from index.documents import Document
from index.errors import UserError
from index.metadata import day_span, publisher_key

#: Outlets a filter may name at once.
MAX_SOURCES = 50


class FilterError(UserError):
    """A date or outlet filter cannot be read, or no article matches it."""


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    #: ISO dates ("2023-10-05", or "2023-10" for a month), or None for an open end.
    since: str | None = None
    until: str | None = None
    #: Outlets as the user wrote them (stripped); compared casefolded.
    sources: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] | str | None = None,
        names: tuple[str, str] = ("since", "until"),
    ) -> ArticleFilter:
        """The filter of what a user typed; ``names`` are how the face calls the two dates ("--since")
        in its messages. Raises ``FilterError`` with one sentence when a date cannot be read, when
        ``since`` comes after ``until``, or when too many outlets are named."""
        first = _date(since, names[0])
        last = _date(until, names[1])
        if first and last and date_range(first)[0] > date_range(last)[1]:
            raise FilterError(
                f"{names[0]} {first} comes after {names[1]} {last}; swap them, or leave one out for an open end"
            )
        if isinstance(sources, str):
            sources = [sources]
        named: dict[str, str] = {}
        for source in sources or ():
            if not isinstance(source, str):
                raise FilterError(f"an outlet must be given as text, not {source!r}")
            if key := publisher_key(source):
                named.setdefault(key, " ".join(source.split()))
        if len(named) > MAX_SOURCES:
            raise FilterError(f"a filter can name at most {MAX_SOURCES} outlets, not {len(named)}")
        return cls(first, last, tuple(named.values()))

    @property
    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.sources

    @property
    def first_day(self) -> int | None:
        """``since`` as a number YYYYMMDD: the first day it covers."""
        return date_range(self.since)[0] if self.since else None

    @property
    def last_day(self) -> int | None:
        """``until`` as a number YYYYMMDD: the last day it covers."""
        return date_range(self.until)[1] if self.until else None

    @property
    def source_keys(self) -> frozenset[str]:
        return frozenset(key for source in self.sources if (key := publisher_key(source)))

    def matches(self, document: Document) -> bool:
        if self.since or self.until:
            span = day_span(document.date)
            if span is None:
                return False
            first, last = self.first_day, self.last_day
            if (first is not None and span[1] < first) or (last is not None and span[0] > last):
                return False
        return not self.sources or publisher_key(document.publisher) in self.source_keys

    def where(self) -> dict[str, Any] | None:
        """The same filter as a Chroma ``where`` clause over the keys of ``index.metadata``; None when
        the filter admits everything."""
        conditions: list[dict[str, Any]] = []
        if self.since:
            conditions.append({"date_to": {"$gte": self.first_day}})
        if self.until:
            conditions.append({"date_from": {"$lte": self.last_day}})
        if self.sources:
            conditions.append({"publisher_key": {"$in": sorted(self.source_keys)}})
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def describe(self) -> str:
        """The filter in words: "since 2023-10-05, from dpa or AFP"."""
        parts = []
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.sources:
            parts.append(f"from {_either(self.sources)}")
        return ", ".join(parts) or "no filter"


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    articles: int


@dataclass(frozen=True, slots=True)
class DateSpan:
    """The dates of the indexed articles: the earliest and the latest, and how many have none."""

    first: str | None
    last: str | None
    dated: int
    undated: int

    def describe(self) -> str:
        total = self.dated + self.undated
        if not self.dated:
            return "the one article has no date" if total == 1 else f"none of the {total} articles has a date"
        articles = "the one article is" if total == 1 else f"the {total} articles are"
        dates = f"dated {self.first}" if self.first == self.last else f"dated {self.first} to {self.last}"
        undated = f" ({self.undated} {'has' if self.undated == 1 else 'have'} no date)" if self.undated else ""
        return f"{articles} {dates}{undated}"


def outlets(documents: Iterable[Document]) -> list[Outlet]:
    """The outlets of ``documents`` with their article counts, sorted by name. Spellings that differ
    only in case or spacing are one outlet, shown as most of its articles write it."""
    spellings: dict[str, Counter[str]] = {}
    for document in documents:
        if key := publisher_key(document.publisher):
            spellings.setdefault(key, Counter())[" ".join(str(document.publisher).split())] += 1
    found = [Outlet(names.most_common(1)[0][0], sum(names.values())) for names in spellings.values()]
    return sorted(found, key=lambda outlet: (outlet.name.casefold(), outlet.name))


def date_span(documents: Iterable[Document]) -> DateSpan:
    dated: list[tuple[tuple[int, int], str]] = []
    undated = 0
    for document in documents:
        span = day_span(document.date)
        if span is None:
            undated += 1
        else:
            dated.append((span, str(normalise_date(document.date))))
    if not dated:
        return DateSpan(None, None, 0, undated)
    first = min(dated, key=lambda item: item[0][0])[1]
    last = max(dated, key=lambda item: item[0][1])[1]
    return DateSpan(first, last, len(dated), undated)


def no_match(article_filter: ArticleFilter, documents: Sequence[Document]) -> FilterError:
    """The error for a filter that admits no article, saying what the index holds instead."""
    if not documents:
        return FilterError(f"no article matches {article_filter.describe()}: the index holds no articles")
    found = outlets(documents)
    names = [outlet.name for outlet in found]
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    held = f"outlets: {shown}" if found else "no article names its outlet"
    return FilterError(f"no article matches {article_filter.describe()}: {date_span(documents).describe()}; {held}")


def _date(value: str | None, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    iso = normalise_date(value) if isinstance(value, str) else None
    if iso is None:
        raise FilterError(f"the date {value!r} for {name} cannot be read; write it as 2023-10-05 or 5.10.2023")
    return iso


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
