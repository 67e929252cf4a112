"""Dates as archives write them, made ISO 8601: "2015-11-05", "5.11.2015", "5. November 2015",
"Thu, 05 Nov 2015 10:00:00 +0100", "Nov 5, 2015" … become "2015-11-05"; a month alone stays "2015-11".

The common forms are read by pattern, fast enough for a dump of 100,000 records; anything else goes
to ``dateparser`` (German and English). A date that cannot be read is ``None``, never a guess.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from email.utils import parsedate_to_datetime
from functools import lru_cache

_ISO = re.compile(r"^\s*((?:1[89]|20)\d\d)-([01]\d)(?:-([0-3]\d))?(?:[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?)?\s*$")
_GERMAN_NUMERIC = re.compile(r"^\s*(?:\w+,\s*)?([0-3]?\d)\.\s?([01]?\d)\.\s?((?:1[89]|20)\d\d)\b")
_MONTH_YEAR = re.compile(r"^\s*([01]?\d)/((?:1[89]|20)\d\d)\s*$")
_RFC822 = re.compile(r"^\s*(?:[A-Z][a-z]{2},\s*)?\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}\s+\d")
_YEAR = re.compile(r"^\s*((?:1[89]|20)\d\d)\s*$")


def normalise_date(value: object) -> str | None:
    """``value`` as "YYYY-MM-DD" (or "YYYY-MM" where only the month is given); ``None`` when it is
    empty or cannot be read as a date."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    text = str(value).strip()
    if not text or len(text) > 80:
        return None
    return _parse(text)


@lru_cache(maxsize=4096)
def _parse(text: str) -> str | None:
    if iso := _ISO.match(text):
        year, month, day = iso.groups()
        return _checked(int(year), int(month), int(day) if day else None)
    if german := _GERMAN_NUMERIC.match(text):
        day, month, year = german.groups()
        return _checked(int(year), int(month), int(day))
    if month_year := _MONTH_YEAR.match(text):
        return _checked(int(month_year.group(2)), int(month_year.group(1)), None)
    if _YEAR.match(text):
        return None  # a year alone is too coarse to filter on
    if _RFC822.match(text):  # feeds: the day where the article appeared, in its own time zone
        try:
            return parsedate_to_datetime(text).date().isoformat()
        except (TypeError, ValueError):
            pass
    return _dateparser(text)


def _checked(year: int, month: int, day: int | None) -> str | None:
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _dateparser(text: str) -> str | None:
    import dateparser

    parsed = dateparser.parse(
        text,
        languages=["de", "en"],
        settings={
            "REQUIRE_PARTS": ["month", "year"],
            "PREFER_DAY_OF_MONTH": "first",
            "PARSERS": ["custom-formats", "absolute-time"],  # never "yesterday" or a bare timestamp
        },
    )
    if parsed is None:
        return None
    return parsed.date().isoformat()


def date_range(iso: str) -> tuple[int, int]:
    """The first and last day that an ISO date or month covers, as numbers YYYYMMDD (what the vector
    store compares)."""
    year, month = int(iso[:4]), int(iso[5:7])
    if len(iso) >= 10:
        day = int(iso[8:10])
        return _number(year, month, day), _number(year, month, day)
    return _number(year, month, 1), _number(year, month, calendar.monthrange(year, month)[1])


def _number(year: int, month: int, day: int) -> int:
    return year * 10000 + month * 100 + day
