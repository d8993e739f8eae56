"""The native wire format: `` date YYYY-MM-DD `` then the article, dateline and byline included.

Example (Trend)::

     date 2020-04-24 BAKU, Azerbaijan, April 24

    By Leman Zeynalova – Trend:

    The letter ... has been published ..., Trend reports.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePath

from dbapp.parse.decode import decode_text
from dbapp.parse.records import (
    SPAN_BOILERPLATE,
    SPAN_BYLINE_AUTHOR,
    SPAN_DATELINE_COUNTRY,
    SPAN_DATELINE_PLACE,
    ParsedDocument,
    Reject,
    Span,
    clean_text,
    storage_problem,
)

_HEADER = re.compile(r"\A[ \t]*date[ \t]+(?P<date>\S+)[ \t]*(?:\n)?")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MONTH_WORD = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# "BAKU, Azerbaijan, September 11." / "TBILISI, Georgia, Jan. 3" / "BAKU, April 24"
DATELINE = re.compile(
    # At most four words: a headline in capitals that runs into the dateline is not a place.
    r"\A(?P<place>[A-Z][A-Z'’.\-]*(?: [A-Z][A-Z'’.\-]*){0,3})"
    r"(?:,[ \t]*(?P<country>[A-Z][A-Za-z'’.\- ]*?[A-Za-z.]))?"
    rf",[ \t]*(?P<month>{_MONTH_WORD})[ \t]+(?P<day>\d{{1,2}})\b\.?"
)
# "By Leman Zeynalova – Trend:" on a line of its own
_BYLINE = re.compile(
    r"^[ \t]*By[ \t]+(?P<author>[A-Z][\w.'’\-]*(?:[ \t]+[A-Z][\w.'’\-]*){0,4})"
    r"[ \t]*[–—\-][ \t]*(?P<source>[A-Z][\w&'’.\-]*(?:[ \t]+[A-Z][\w&'’.\-]*){0,3})[ \t]*:[ \t]*$",
    re.MULTILINE,
)
# "..., Trend reports." (agency attribution)
_ATTRIBUTION = re.compile(
    r",[ \t]+(?P<source>[A-Z][\w&'’.\-]*(?:[ \t]+[A-Z][\w&'’.\-]*){0,3})[ \t]+reports\b"
)
# A wire's sign-off on the last line ("Reuter", "REUTER").
_SIGNOFF = re.compile(r"(?:\A|\s)(?P<sign>Reuters?|REUTERS?)\s*\Z")
_FILE_ID = re.compile(r"\A\d+_(?P<id>[0-9A-Za-z]+)\Z")
BYLINE_WINDOW = 400  # a byline sits right under the dateline


def external_id_from_path(path: str) -> str:
    """``000_d1f4e4cf78dcdb67.txt`` -> ``d1f4e4cf78dcdb67``; otherwise the file's stem."""
    name = PurePath(path).name
    for suffix in (".gz", ".txt"):
        name = name.removesuffix(suffix)
    m = _FILE_ID.match(name)
    return m["id"] if m else name


def place_name(caps: str) -> str:
    """A dateline place in capitals as a name: ``NEW YORK`` -> ``New York``."""
    return " ".join(w.capitalize() if w.isupper() else w for w in caps.split())


def parse_native(raw: bytes, path: str, source: str | None = None) -> ParsedDocument | Reject:
    """Parse one native-format file; a Reject says precisely what is wrong with it."""
    text = decode_text(raw, path)
    if isinstance(text, Reject):
        return text
    if not text.strip():
        return Reject(path, "empty", "the file holds no text", raw, line_number=1)
    header = _HEADER.match(text.lstrip("\ufeff"))
    if header is None:
        first = text.lstrip("\ufeff").split("\n", 1)[0][:60]
        return Reject(
            path,
            "missing_date_header",
            f"expected the first line to start with ' date YYYY-MM-DD', found {first!r}",
            raw,
            line_number=1,
        )
    stamp = header["date"]
    try:
        if not _ISO_DAY.match(stamp):
            raise ValueError
        published = dt.date.fromisoformat(stamp)
    except ValueError:
        return Reject(
            path,
            "invalid_date_header",
            f"the date header {stamp!r} is not a valid YYYY-MM-DD date",
            raw,
            line_number=1,
        )
    body = clean_text(text.lstrip("\ufeff")[header.end() :])
    if not body:
        return Reject(path, "empty", "the file has a date header but no text", raw, line_number=1)

    doc = ParsedDocument(
        body=body,
        origin_path=path,
        origin_line=1,
        external_id=external_id_from_path(path),
        published_on=published,
        source_name=source,
    )
    apply_structure(doc)
    problem = storage_problem(doc)
    if problem is not None:
        return Reject(path, *problem, raw, line_number=1, record_number=None)
    return doc


def apply_structure(doc: ParsedDocument) -> None:
    """Find a leading dateline, a byline and an agency attribution in the body.

    They become spans (for role mentions and to keep boilerplate out of entity counts) and fill
    the dateline/author/source fields the input did not give.
    """
    body = doc.body
    m = DATELINE.match(body)
    byline_from = 0
    if m:
        doc.dateline = doc.dateline or m.group(0).rstrip()
        doc.dateline_place = doc.dateline_place or place_name(m["place"])
        doc.spans.append(Span(SPAN_DATELINE_PLACE, m.start("place"), m.end("place")))
        if m["country"]:
            doc.dateline_country = doc.dateline_country or m["country"]
            doc.spans.append(Span(SPAN_DATELINE_COUNTRY, m.start("country"), m.end("country")))
        byline_from = m.end()
    b = _BYLINE.search(body, byline_from, byline_from + BYLINE_WINDOW)
    if b:
        doc.author = doc.author or " ".join(b["author"].split())
        doc.source_name = doc.source_name or b["source"]
        doc.spans.append(Span(SPAN_BYLINE_AUTHOR, b.start("author"), b.end("author")))
        doc.spans.append(Span(SPAN_BOILERPLATE, b.start(), b.end()))
    a = _ATTRIBUTION.search(body)
    if a:
        doc.source_name = doc.source_name or a["source"]
        doc.spans.append(Span(SPAN_BOILERPLATE, a.start("source"), a.end()))
    sign = _SIGNOFF.search(body, max(0, len(body) - 40))
    if sign:
        doc.spans.append(Span(SPAN_BOILERPLATE, sign.start("sign"), sign.end("sign")))
