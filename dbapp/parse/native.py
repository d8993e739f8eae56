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

from dbapp.parse.dates import DATE_MISSING
from dbapp.parse.decode import ENCODING_FALLBACK, decode_input
from dbapp.parse.records import (
    MAX_FIELD_CHARS,
    SPAN_BOILERPLATE,
    SPAN_BYLINE_AUTHOR,
    SPAN_DATELINE_COUNTRY,
    SPAN_DATELINE_PLACE,
    ParsedDocument,
    Reject,
    Span,
    clean_field,
    clean_text,
    storage_problem,
)

_HEADER = re.compile(r"\A[ \t]*date[ \t]+(?P<date>\S+)[ \t]*(?:\n)?")
_URL_LINE = re.compile(r"\A\s*(?P<url>https?://[^\s<>\"]+)[ \t]*(?:\r?\n|\Z)")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MONTH_WORD = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# "BAKU, Azerbaijan, September 11." / "TBILISI, Georgia, Jan. 3" / "BAKU, April 24" /
# "ABUJA, Jun 22 2022" / "BEIJING, June 3, 2021"
DATELINE = re.compile(
    # At most four words: a headline in capitals that runs into the dateline is not a place.
    r"\A(?P<place>[A-Z][A-Z'’.\-]*(?: [A-Z][A-Z'’.\-]*){0,3})"
    r"(?:,[ \t]*(?P<country>[A-Z][A-Za-z'’.\- ]*?[A-Za-z.]))?"
    rf",[ \t]*(?P<month>{_MONTH_WORD})[ \t]+(?P<day>\d{{1,2}})\b\.?"
    r"(?:,?[ \t]+(?P<year>(?:19|20)\d\d)\b)?"
)
# News agencies as their datelines and credits name them, and the source name each gives.
AGENCY_SOURCES = {
    "Reuters": "Reuters", "Reuter": "Reuters", "REUTERS": "Reuters", "AP": "AP",
    "Associated Press": "AP", "AFP": "AFP", "Agence France-Presse": "AFP", "Xinhua": "Xinhua",
    "IPS": "IPS", "TASS": "TASS", "Interfax": "Interfax", "Trend": "Trend", "APA": "APA",
    "Anadolu": "Anadolu", "UPI": "UPI", "Bloomberg": "Bloomberg", "EFE": "EFE", "ANSA": "ANSA",
    "dpa": "dpa", "DPA": "dpa", "Kyodo": "Kyodo", "Yonhap": "Yonhap", "PTI": "PTI",
    "IANS": "IANS", "Bernama": "Bernama", "Antara": "Antara", "AAP": "AAP",
}  # fmt: skip
_AGENCY_ALTERNATIVES = "|".join(sorted(map(re.escape, AGENCY_SOURCES), key=len, reverse=True))
# "(Xinhua) --", "(IPS) -", "(AP) —", "(AFP) -", "(Reuters) -": the wire marks its story.
AGENCY_MARK = re.compile(rf"\((?P<agency>{_AGENCY_ALTERNATIVES})\)[ \t]*(?:--|[-–—])")
MARK_WINDOW = 300  # the marker follows the dateline, at the top
# "WASHINGTON (AP) —": a dateline of only a place, before the agency's marker.
_PLACE_BEFORE_MARK = re.compile(
    r"\A(?P<place>[A-Z][A-Z'’.\-]*(?: [A-Z][A-Z'’.\-]*){0,3})"
    r"(?:,[ \t]*(?P<country>[A-Z][A-Za-z'’.\- ]*?[A-Za-z.]))?[ \t]+(?=\()"
)
_MONTH_NUMBERS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
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


def _url_first(
    raw: bytes, text: str, url: re.Match[str], path: str, source: str | None, fallback: str | None
) -> ParsedDocument | Reject:
    """A text whose first line is its URL (a crawl's export): dated by its dateline, the URL's
    path or --date, else kept undated; its source, unless given, from the agency's marker or
    the URL's domain."""
    body = clean_text(text[url.end() :])
    if not body:
        return Reject(path, "empty", "the file has a URL but no text", raw, line_number=1)
    doc = ParsedDocument(
        body=body,
        origin_path=path,
        origin_line=1,
        external_id=external_id_from_path(path),
        url=url["url"][:MAX_FIELD_CHARS],
        source_name=source,
    )
    doc.warnings.append((DATE_MISSING, f"{path}: no date header, dateline date or URL date"))
    return _finish(doc, raw, fallback)


def parse_native(
    raw: bytes, path: str, source: str | None = None, encoding: str | None = None
) -> ParsedDocument | Reject:
    """Parse one native-format file; a Reject says precisely what is wrong with it."""
    decoded = decode_input(raw, path, encoding=encoding)
    if isinstance(decoded, Reject):
        return decoded
    text, fallback = decoded
    if not text.strip():
        return Reject(path, "empty", "the file holds no text", raw, line_number=1)
    header = _HEADER.match(text.lstrip("\ufeff"))
    if header is None:
        url = _URL_LINE.match(text.lstrip("\ufeff"))
        if url is not None:
            return _url_first(raw, text.lstrip("\ufeff"), url, path, source, fallback)
        first = text.lstrip("\ufeff").split("\n", 1)[0][:60]
        return Reject(
            path,
            "missing_date_header",
            "expected the first line to be ' date YYYY-MM-DD' (the native format) or the "
            f"article's URL, found {first!r}",
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
    return _finish(doc, raw, fallback)


def _finish(doc: ParsedDocument, raw: bytes, fallback: str | None) -> ParsedDocument | Reject:
    """A text file's document, its structure found; a reject if it cannot be stored."""
    if fallback:
        doc.warnings.append((ENCODING_FALLBACK, f"{doc.origin_path}: {fallback}"))
    apply_structure(doc)
    problem = storage_problem(doc)
    if problem is not None:
        return Reject(doc.origin_path, *problem, raw, line_number=1)
    return doc


def apply_structure(doc: ParsedDocument) -> None:
    """Find a leading dateline, a byline and an agency attribution in the body.

    They become spans (for role mentions and to keep boilerplate out of entity counts) and fill
    the dateline/author/source fields the input did not give.
    """
    body = doc.body
    m = DATELINE.match(body)
    mark = AGENCY_MARK.search(body, 0, MARK_WINDOW)
    if m is None and mark is not None:
        m = _PLACE_BEFORE_MARK.match(body[: mark.start() + 1])
    byline_from = 0
    if m:
        doc.dateline = doc.dateline or m.group(0).rstrip()
        doc.dateline_place = doc.dateline_place or place_name(m["place"])
        doc.spans.append(Span(SPAN_DATELINE_PLACE, m.start("place"), m.end("place")))
        if m["country"]:
            doc.dateline_country = doc.dateline_country or m["country"]
            doc.spans.append(Span(SPAN_DATELINE_COUNTRY, m.start("country"), m.end("country")))
        if m.re is DATELINE:
            month = _MONTH_NUMBERS.get(m["month"].rstrip(".").lower()[:3])
            year = int(m["year"]) if m["year"] else None
            if month:
                doc.dateline_date = (year, month, int(m["day"]))
        byline_from = m.end()
    if mark is not None:
        doc.source_name = doc.source_name or AGENCY_SOURCES[mark["agency"]]
        doc.spans.append(Span(SPAN_BOILERPLATE, mark.start(), mark.end()))
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


# A byline's separators: "A, B and C", "A & B", "A; B".
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|&|\band\b|\n)\s*")
_NOT_A_NAME = re.compile(
    r"[@/\d]|https?:|\b(?:staff|desk|editors?|news|wire|reports?|press|agency|media|service|"
    r"times|post|journal|network|bureau|correspondents?|contributors?|associated|writers?|"
    r"reporters?|columnists?|producers?|photographers?|analysts?|team|online|digital)\b",
    re.I,
)
# RSS's author form: "editor@example.com (Nino Beridze)"
_EMAIL_NAME = re.compile(r"^\s*\S+@\S+\s*\((?P<name>[^()]+)\)\s*$")
# Within one list item, only these separate people ("Doe, John" is one person's name).
_ITEM_SPLIT = re.compile(r"\s*(?:;|&|\band\b|\n)\s*")
AUTHOR_WINDOW = 400  # a byline sits at the top or the bottom of an article
MAX_AUTHORS = 50  # an author field naming more is a list of something else: the first 50


def author_names(value: object) -> list[str]:
    """The people an author field names: a list gives one each, a string is split at commas,
    semicolons, "and" and "&" ("By" dropped); e-mails, URLs and desks are not names."""
    items = value[:MAX_AUTHORS] if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if len(names) >= MAX_AUTHORS:
            break
        if isinstance(item, dict):
            item = item.get("name")
        if not isinstance(item, str):
            continue
        named = _EMAIL_NAME.match(item)
        item = named["name"] if named else item
        item = re.sub(r"^\s*by\s+", "", item.strip(), flags=re.I)
        # One list item is one person ("Doe, John") unless it names several ("A, B and C").
        several = not isinstance(value, list) or _ITEM_SPLIT.search(item) is not None
        parts = (_AUTHOR_SPLIT if several else _ITEM_SPLIT).split(item[:2000])
        for part in parts:
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: not a name to keep
                continue
            name = " ".join((clean_field(part) or "").split()).strip(" .,")
            words = name.split()
            if (
                2 <= len(words) <= 5
                and not _NOT_A_NAME.search(name)
                and all(w[:1].isupper() for w in words if len(w) > 3)
                and name not in names
            ):
                names.append(name)
    return names


def add_authors(doc: ParsedDocument, names: list[str], append: bool = True) -> None:
    """Byline spans for the authors a field names, like a native byline's: found in the first
    or last AUTHOR_WINDOW characters, or else added as the text's last line ("By A and B"), so
    the mention has exact offsets. The dedup key stays the text's own. A stored text is never
    changed (``append=False``: re-extraction)."""
    missing = []
    for name in names:
        # A byline, not a mention in the story: "By Jane Doe" or the name on a line of its own.
        pattern = re.compile(
            rf"(?:(?<=\bBy )|(?<=\bby )|(?<=, )|(?<=and )|(?<=& )|^){re.escape(name)}"
            r"(?=[ \t]*(?:$|[,;&–—-]|and\b))",
            re.MULTILINE,
        )
        head = pattern.search(doc.body, 0, AUTHOR_WINDOW)
        tail = pattern.search(doc.body, max(0, len(doc.body) - AUTHOR_WINDOW))
        found = head or tail
        if found and not any(s.role == SPAN_BYLINE_AUTHOR and s.start == found.start()
                             for s in doc.spans):  # fmt: skip
            doc.spans.append(Span(SPAN_BYLINE_AUTHOR, found.start(), found.end()))
        elif not found:
            missing.append(name)
    if not missing or not append:
        return
    if doc.dedup_text is None:
        doc.dedup_text = doc.body
    line = "By " + (
        missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    )
    start = len(doc.body) + 2 + 3  # after "\n\nBy "
    doc.body = f"{doc.body}\n\n{line}"
    doc.spans.append(Span(SPAN_BOILERPLATE, start - 3, len(doc.body)))
    for name in missing:
        at = doc.body.index(name, start)
        doc.spans.append(Span(SPAN_BYLINE_AUTHOR, at, at + len(name)))
        start = at + len(name)
