"""Reuters-21578 SGML: ``<REUTERS NEWID=..>`` records with DATE, TITLE, DATELINE and BODY."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dbapp.parse.dates import describe_date, parse_date
from dbapp.parse.decode import ENCODING_FALLBACK, decode_input
from dbapp.parse.native import apply_structure, place_name
from dbapp.parse.records import (
    MAX_TAG_CHARS,
    ParsedDocument,
    Reject,
    clean_text,
    storage_problem,
)
from dbapp.parse.stream import CHUNK, RAW_CAP, Capped

DEFAULT_SOURCE = "Reuters"

_TAG = re.compile(rb"<REUTERS\b|</REUTERS>", re.I)
_CLOSE = b"</REUTERS>"
# Outside records only the DOCTYPE line and blanks are expected; anything else is a record
# whose tags are broken (``<REUTER ...>``) and must not vanish.
_IGNORABLE = re.compile(rb"\A(?:\s|<!DOCTYPE[^>]*>)*\Z", re.I)
_LONGEST_TAG = len(b"</REUTERS>")
_NEWID = re.compile(r'NEWID="(\d+)"', re.I)
_TEXT_TYPE = re.compile(
    r'<TEXT(?:\s+TYPE="(?P<type>[A-Z]+)")?\s*>(?P<text>.*?)</TEXT>', re.S | re.I
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# "    SALVADOR, Feb 26 - "
_DATELINE = re.compile(
    r"^\s*(?P<place>[^,]+?)(?:,\s*(?P<country>[^,]+?))?,\s*(?P<month>[A-Za-z]{3,9})\.?\s+\d{1,2}\s*-?\s*$"
)


@dataclass(frozen=True, slots=True)
class SgmlRecord:
    """One ``<REUTERS>`` element's bytes and the line it starts on."""

    raw: bytes
    line: int


def _capped_reject(record: Capped, path: str, line: int, code: str, message: str) -> Reject:
    return Reject(
        path,
        code,
        message,
        record.raw[:RAW_CAP],
        line_number=line,
        raw_size=record.size,
        raw_sha256=record.sha256,
    )


_LINE_WITH_TAG = re.compile(rb"(?<=\n)(?=<[A-Za-z])")


def _pieces(segment: bytes, line: int) -> Iterator[tuple[bytes, int | None]]:
    """Text between records cut where a line opens a tag (each broken record on its own):
    (piece, its first line) for a piece that starts such a line, (piece, None) otherwise."""
    parts = _LINE_WITH_TAG.split(segment)
    for i, part in enumerate(parts):
        yield part, (line if i else None)
        line += part.count(b"\n")


def _stray(outside: Capped, path: str, line: int) -> Iterator[Reject]:
    """Text between records that is not blank (a record whose tags are broken) is a reject."""
    if outside.size and not (outside.size <= RAW_CAP and _IGNORABLE.match(outside.raw)):
        lead = len(outside.raw) - len(outside.raw.lstrip())
        first = line + outside.raw[:lead].count(b"\n")
        yield _capped_reject(
            outside,
            path,
            first,
            "malformed_sgml",
            f"line {first}: text outside any <REUTERS> record (a broken tag?)",
        )


def split_records(
    stream: Any, path: str, max_bytes: int = 5_000_000
) -> Iterator[SgmlRecord | Reject]:
    """Cut a stream into records in one pass, holding at most one record (``max_bytes``).

    A ``<REUTERS>`` that opens before the previous one closed ends that one as a reject (it is
    never glued to the next), and so does a record left open at the end of the file.
    """
    if isinstance(stream, bytes):
        stream = io.BytesIO(stream)
    record: Capped | None = None
    start = line = outside_line = 1
    outside = Capped()

    def between(segment: bytes, at_line: int) -> Iterator[Reject]:
        """Text between records: a line opening some other tag starts a broken record."""
        nonlocal outside, outside_line
        for piece, piece_line in _pieces(segment, at_line):
            if piece_line is not None:
                yield from _stray(outside, path, outside_line)
                outside, outside_line = Capped(), piece_line
            outside.add(piece)

    tail = b""
    eof = False
    while not eof:
        chunk = stream.read(CHUNK)
        eof = not chunk
        data = tail + chunk
        # A tag may straddle two chunks: leave the last bytes for the next round.
        scan_end = len(data) if eof else max(0, len(data) - _LONGEST_TAG)
        pos = 0
        while (m := _TAG.search(data, pos)) is not None and m.start() < scan_end:
            segment = data[pos : m.start()]
            if record is not None:
                record.add(segment)
            else:
                yield from between(segment, line)
            line += segment.count(b"\n")
            if m.group().upper() != _CLOSE:
                yield from _stray(outside, path, outside_line)
                outside, outside_line = Capped(), line
                if record is not None:
                    yield _capped_reject(
                        record,
                        path,
                        start,
                        "malformed_sgml",
                        f"line {start}: <REUTERS> record is not closed before the next one "
                        f"opens at line {line}",
                    )
                record = Capped(max_bytes)
                start = line
                record.add(m.group())
            elif record is not None:
                record.add(m.group())
                if record.size > max_bytes:
                    yield _capped_reject(
                        record,
                        path,
                        start,
                        "too_large",
                        f"line {start}: record of {record.size:,} bytes is over the "
                        f"{max_bytes:,}-byte limit (--max-document-size)",
                    )
                else:
                    yield SgmlRecord(record.raw, start)
                record = None
                outside, outside_line = Capped(), line
            else:
                outside.add(m.group())  # a close tag with no record open
            pos = m.end()
        rest = max(pos, scan_end)
        segment = data[pos:rest]
        if record is not None:
            record.add(segment)
        else:
            yield from between(segment, line)
        line += segment.count(b"\n")
        tail = data[rest:]
    yield from _stray(outside, path, outside_line)
    if record is not None:
        yield _capped_reject(
            record,
            path,
            start,
            "malformed_sgml",
            f"line {start}: <REUTERS> record is not closed (truncated file?)",
        )


def _element(record: str, name: str) -> str | None:
    m = re.search(rf"<{name}>(.*?)</{name}>", record, re.S | re.I)
    return m.group(1) if m else None


def _text(value: str) -> str:
    return _CONTROL.sub("", html.unescape(value))


TAG_VOCABULARIES = ("TOPICS", "PLACES", "PEOPLE", "ORGS", "EXCHANGES")
_D = re.compile(r"<D>(.*?)</D>", re.S | re.I)


def sgml_tags(record: str) -> list[tuple[str, str]]:
    """Reuters' own tags: ``<TOPICS><D>crude</D><D>ship</D></TOPICS>`` -> (topics, crude)..."""
    tags = []
    for vocabulary in TAG_VOCABULARIES:
        element = _element(record, vocabulary)
        for m in _D.finditer(element or ""):
            tag = " ".join(_text(m.group(1)).split())
            if tag and (vocabulary.lower(), tag) not in tags:
                tags.append((vocabulary.lower(), tag[:MAX_TAG_CHARS]))
    return tags


def parse_sgml_record(
    rec: SgmlRecord, path: str, source: str | None = None, encoding: str | None = None
) -> ParsedDocument | Reject:
    """One Reuters record as a document.

    BRIEF items carry only a headline and the filler "Blah blah blah.": the headline is the text.
    UNPROC items have no BODY element: their raw text is the text.
    """
    decoded = decode_input(rec.raw, path, first_line=rec.line, encoding=encoding)
    if isinstance(decoded, Reject):
        return decoded
    text, fallback = decoded
    newid = _NEWID.search(text[:300])
    number = int(newid.group(1)) if newid else None
    body_el = _TEXT_TYPE.search(text)
    if body_el is None:
        return Reject(
            path,
            "malformed_sgml",
            f"line {rec.line}: record has no <TEXT> element",
            rec.raw,
            line_number=rec.line,
            record_number=number,
        )
    inner = body_el["text"]
    title = _element(inner, "TITLE")
    title = " ".join(_text(title).split()) if title else None
    body_raw = _element(inner, "BODY")
    if body_raw is not None:
        body = clean_text(_text(body_raw))
    elif (body_el["type"] or "").upper() == "BRIEF":
        body = title or ""
    else:
        body = clean_text(_text(re.sub(r"<[^>]+>", " ", inner)))
    if not body:
        return Reject(
            path,
            "empty",
            f"line {rec.line}: record has no text",
            rec.raw,
            line_number=rec.line,
            record_number=number,
        )
    doc = ParsedDocument(
        body=body,
        origin_path=path,
        origin_line=rec.line,
        record_number=number,
        source_name=source or DEFAULT_SOURCE,
        external_id=str(number) if number is not None else None,
        title=title,
    )
    if fallback:
        doc.warnings.append((ENCODING_FALLBACK, f"{doc.where}: {fallback}"))
    doc.tags = sgml_tags(text)
    raw_date = _element(text, "DATE")
    value = _text(raw_date) if raw_date is not None else None
    doc.published_on, warning = parse_date(value)
    if warning:
        doc.warnings.append((warning, f"{doc.where}: {describe_date(value)}"))
    dateline = _element(inner, "DATELINE")
    if dateline:
        doc.dateline = " ".join(_text(dateline).split()).rstrip(" -") or None
        m = _DATELINE.match(_text(dateline))
        if m:
            doc.dateline_place = place_name(m["place"].strip())
            doc.dateline_country = m["country"].strip() if m["country"] else None
            if doc.dateline:
                # The story as the wire sent it starts with its dateline ("SALVADOR, Feb 26 -
                # Showers..."): stored so, the dateline's place is a mention at exact offsets.
                # The dedup key stays the body's alone, as before.
                doc.dedup_text = doc.body
                doc.body = f"{doc.dateline} - {doc.body}"
    apply_structure(doc)
    problem = storage_problem(doc)
    if problem is not None:
        return Reject(path, *problem, rec.raw, line_number=rec.line, record_number=number)
    return doc
