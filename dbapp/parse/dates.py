"""Publication dates from messy inputs: parse what is unambiguous, say why when we cannot."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

# Warning codes: the document keeps a NULL date and the load counts the reason.
DATE_MISSING = "date_missing"
DATE_AMBIGUOUS = "date_ambiguous"
DATE_OUT_OF_RANGE = "date_out_of_range"
DATE_UNPARSED = "date_unparsed"

MIN_YEAR = 1800

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_WEEKDAY = r"(?:[A-Za-z]{3,9},?\s+)?"
_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ].*)?$")
_YMD_SLASH = re.compile(r"^(?P<y>\d{4})[/.](?P<m>\d{1,2})[/.](?P<d>\d{1,2})$")
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_NUMERIC = re.compile(r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{2}|\d{4})$")
_DAY_MON_YEAR = re.compile(
    rf"^{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s-]+{_MONTH}[\s,-]+(?P<y>\d{{4}})\b"
)
_MON_DAY_YEAR = re.compile(
    rf"^{_WEEKDAY}{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b"
)
_EPOCH = re.compile(r"^\d{9,13}(?:\.\d+)?$")


def parse_date(value: object, today: dt.date | None = None) -> tuple[dt.date | None, str | None]:
    """``(date, None)`` when the value names one day unambiguously, else ``(None, warning_code)``.

    Never guesses: ``9/5/17`` could be 9 May or 5 September of 1917 or 2017, so it is ambiguous.
    """
    today = today or dt.date.today()
    if value is None:
        return None, DATE_MISSING
    if isinstance(value, dt.datetime):
        return _in_range(value.date(), today)
    if isinstance(value, dt.date):
        return _in_range(value, today)
    if isinstance(value, bool):
        return None, DATE_UNPARSED
    if isinstance(value, int | float):
        value = str(value)
    text = " ".join(str(value).split())
    if not text:
        return None, DATE_MISSING

    for pattern in (_ISO, _YMD_SLASH, _COMPACT):
        m = pattern.match(text)
        if m:
            return _ymd(int(m["y"]), int(m["m"]), int(m["d"]), today)
    for pattern in (_DAY_MON_YEAR, _MON_DAY_YEAR):
        m = pattern.match(text)
        if m:
            month = _MONTHS.get(m["month"].lower())
            if month is None:
                return None, DATE_UNPARSED
            return _ymd(int(m["y"]), month, int(m["d"]), today)
    m = _NUMERIC.match(text)
    if m:
        a, b, year = int(m["a"]), int(m["b"]), m["y"]
        if len(year) == 2 or (a <= 12 and b <= 12 and a != b):
            return None, DATE_AMBIGUOUS
        day, month = (a, b) if a > 12 else (b, a)
        return _ymd(int(year), month, day, today)
    if _EPOCH.match(text):
        seconds = float(text) / (1000 if len(text.split(".")[0]) == 13 else 1)
        try:
            return _in_range(dt.datetime.fromtimestamp(seconds, dt.UTC).date(), today)
        except (OverflowError, OSError, ValueError):  # e.g. 999999999999 is year 33658
            return None, DATE_OUT_OF_RANGE
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, DATE_UNPARSED
    return _in_range(parsed.date(), today)


def _ymd(y: int, m: int, d: int, today: dt.date) -> tuple[dt.date | None, str | None]:
    try:
        return _in_range(dt.date(y, m, d), today)
    except ValueError:
        return None, DATE_UNPARSED if MIN_YEAR <= y <= today.year + 1 else DATE_OUT_OF_RANGE


def _in_range(day: dt.date, today: dt.date) -> tuple[dt.date | None, str | None]:
    if day.year < MIN_YEAR or day > today + dt.timedelta(days=1):
        return None, DATE_OUT_OF_RANGE
    return day, None
