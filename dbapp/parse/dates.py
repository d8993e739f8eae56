"""Publication dates from messy inputs: parse what is unambiguous, say why when we cannot."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from dbapp.parse.records import ParsedDocument

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


DATE_ORDERS = ("MDY", "DMY")


def describe_date(value: object) -> str:
    """How a date warning shows the value: empty and absent fields said in words."""
    if value is None:
        return "no date field"
    if isinstance(value, str) and not value.strip():
        return "the date field is empty"
    return repr(str(value)[:40])


def _year(text: str, today: dt.date) -> int:
    """A year as written; two digits are this century's up to next year, else the last's
    (``17`` -> 2017, ``98`` -> 1998), as people read them."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= today.year + 1 else 1900
    return year


def parse_date(
    value: object, today: dt.date | None = None, order: str | None = None
) -> tuple[dt.date | None, str | None]:
    """``(date, None)`` when the value names one day unambiguously, else ``(None, warning_code)``.

    Never guesses: ``9/5/17`` could be 9 May or 5 September, so it is ambiguous unless ``order``
    (``MDY`` or ``DMY``, the input's convention, given by the user) says which; ``7/23/17``
    has one reading (there is no month 23) and is 23 July 2017.
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
        a, b, year = int(m["a"]), int(m["b"]), _year(m["y"], today)
        if a > 12 or b > 12 or a == b:  # one reading only
            day, month = (a, b) if a > 12 else (b, a)
        elif order == "MDY":
            month, day = a, b
        elif order == "DMY":
            day, month = a, b
        else:
            return None, DATE_AMBIGUOUS
        return _ymd(year, month, day, today)
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


# A date in a URL's path: /2022/06/22/, /2022-06-22-, /2022/6/3/
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](\d{1,2})[/-](\d{1,2})(?=[/._-]|$)")


def url_date(url: str, today: dt.date | None = None) -> dt.date | None:
    """The day a URL's path names (``/2022/06/22/``), if it names one."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    m = _URL_DATE.search(path)
    if m is None:
        return None
    day, _ = _ymd(int(m[1]), int(m[2]), int(m[3]), today or dt.date.today())
    return day


def settle_date(doc: ParsedDocument, default: dt.date | None = None) -> None:
    """Date a document its input did not date. The first that gives a day wins: the record's
    own date (already set), the dateline with its year ("ABUJA, Jun 22 2022"), the URL's path
    (``/2022/06/22/``), the dateline's day in the year of ``--date`` ("June 3"), ``--date``.
    A year is never guessed: a dateline without one and no ``--date`` leaves no date."""
    if doc.published_on is not None:
        return
    today = dt.date.today()
    found = None
    if doc.dateline_date is not None and doc.dateline_date[0] is not None:
        found, _ = _ymd(*doc.dateline_date, today)  # type: ignore[arg-type]
    if found is None and doc.url:
        found = url_date(doc.url, today)
    if found is None and doc.dateline_date is not None and default is not None:
        found, _ = _ymd(default.year, doc.dateline_date[1], doc.dateline_date[2], today)
    found = found or default
    if found is not None:
        doc.published_on = found
        doc.warnings = [w for w in doc.warnings if w[0] != DATE_MISSING]
