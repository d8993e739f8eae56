"""JSON Lines (or a JSON array) and CSV: one article per record, columns mapped to fields."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dbapp.parse.dates import describe_date, parse_date
from dbapp.parse.decode import ENCODING_FALLBACK, decode_input
from dbapp.parse.language import language_code
from dbapp.parse.native import add_authors, apply_structure, author_names
from dbapp.parse.records import (
    SPAN_BYLINE_AUTHOR,
    ParsedDocument,
    Reject,
    clean_field,
    clean_tags,
    clean_text,
    storage_problem,
)
from dbapp.parse.stream import CHUNK, RAW_CAP, Capped

FIELDS = ("text", "date", "source", "title", "author", "url", "id", "language", "html")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "content", "article", "full_text", "story", "content_original"),
    "date": (
        "date",
        "published",
        "published_at",
        "publish_date",
        "published_on",
        "pubdate",
        "datetime",
        "timestamp",
        "created_at",
    ),
    "source": ("source", "outlet", "publisher", "source_name", "agency", "site"),
    "title": ("title", "headline"),
    "author": ("author", "authors", "byline"),
    "url": ("url", "link", "source_url"),
    "id": ("id", "external_id", "guid", "uuid", "doc_id", "article_id"),
    "language": ("language", "lang"),
    "html": ("html", "raw_html", "content_html", "page"),  # a page to extract the text from
}


# The source's own tags, kept in document_tags under the field's name as the vocabulary.
TAG_FIELDS = ("tags", "tag", "topic", "topics", "keywords", "categories", "category", "section")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record before mapping: its values, where it came from, and its exact bytes."""

    values: dict[str, Any]
    line: int | None
    number: int
    raw: bytes
    fallback: str | None = None  # how it was decoded when it was not UTF-8


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``["text=content_original", ...]`` -> ``{"text": "content_original"}``; ValueError if bad."""
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field = field.strip().lower()
        if not sep or not column.strip():
            raise ValueError(f"--map expects FIELD=COLUMN, got {pair!r}")
        if field not in FIELDS:
            raise ValueError(f"--map: unknown field {field!r} (fields: {', '.join(FIELDS)})")
        mapping[field] = column.strip()
    return mapping


def _lookup(values: Mapping[str, Any], column: str) -> Any:
    """A value by column name, case-insensitively; ``a.b`` reaches into nested objects."""
    current: Any = values
    for part in column.split("."):
        if not isinstance(current, Mapping):
            return None
        if part in current:
            current = current[part]
            continue
        lowered = {str(k).lower(): k for k in current}
        key = lowered.get(part.lower())
        if key is None:
            return None
        current = current[key]
    return current


_COLUMN_CACHE: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
CACHE_SHAPES = 512
CACHE_KEYS = 64


def _candidates(keys: tuple[str, ...], field: str) -> tuple[str, ...]:
    """The record's own keys that can hold ``field``, in preference order (cached per shape)."""
    cacheable = len(keys) <= CACHE_KEYS  # records with thousands of keys are not a "shape"
    found = _COLUMN_CACHE.get((keys, field)) if cacheable else None
    if found is None:
        lowered: dict[str, str] = {}
        for key in keys:
            lowered.setdefault(str(key).lower(), key)
        found = tuple(lowered[c] for c in DEFAULT_COLUMNS[field] if c in lowered)
        if cacheable and len(_COLUMN_CACHE) < CACHE_SHAPES:
            _COLUMN_CACHE[(keys, field)] = found
    return found


def _field(values: Mapping[str, Any], field: str, mapping: Mapping[str, str]) -> Any:
    if field in mapping:
        return _lookup(values, mapping[field])
    # Records of one file share their keys: resolve the column names once per shape.
    for key in _candidates(tuple(values), field):
        value = values[key]
        if value not in (None, ""):
            return value
    return None


def _has_field(values: Mapping[str, Any], field: str, mapping: Mapping[str, str]) -> bool:
    """Whether the record has a column for ``field`` at all (empty or not)."""
    if field in mapping:
        return _lookup(values, mapping[field]) is not None
    return bool(_candidates(tuple(values), field))


def record_to_document(
    record: RawRecord,
    path: str,
    mapping: Mapping[str, str],
    source: str | None,
    date_order: str | None = None,
) -> ParsedDocument | Reject:
    """Map one record's columns to a document; a record without text is a reject."""
    text = _field(record.values, "text", mapping)
    page = _field(record.values, "html", mapping)
    if (not isinstance(text, str) or not text.strip()) and isinstance(page, str) and page.strip():
        return _from_html(record, page, path, mapping, source, date_order)
    if not isinstance(text, str) or not text.strip():
        looked = mapping.get("text") or ", ".join(DEFAULT_COLUMNS["text"])
        what = (
            "is empty" if isinstance(text, str) else "is missing" if text is None else "is not text"
        )
        return Reject(
            path,
            "missing_text",
            f"the text field ({looked}) {what}; use --map text=COLUMN",
            record.raw,
            line_number=record.line,
            record_number=record.number,
        )
    if "\x00" in text:
        return Reject(
            path,
            "nul_character",
            "the text holds a NUL character (PostgreSQL text cannot)",
            record.raw,
            line_number=record.line,
            record_number=record.number,
        )
    raw_source = _field(record.values, "source", mapping)
    if isinstance(raw_source, Mapping):
        raw_source = _lookup(raw_source, "name")
    doc = ParsedDocument(
        body=clean_text(text),
        origin_path=path,
        origin_line=record.line,
        record_number=record.number,
        source_name=source or clean_field(raw_source),
        external_id=clean_field(_field(record.values, "id", mapping)),
        title=clean_field(_field(record.values, "title", mapping)),
        author=clean_field(_field(record.values, "author", mapping)),
        url=clean_field(_field(record.values, "url", mapping)),
        language=language_code(clean_field(_field(record.values, "language", mapping))),
    )
    if record.fallback:
        doc.warnings.append((ENCODING_FALLBACK, f"{doc.where}: {record.fallback}"))
    if not doc.body:
        return Reject(
            path,
            "missing_text",
            "the text is only whitespace",
            record.raw,
            line_number=record.line,
            record_number=record.number,
        )
    raw_date = _field(record.values, "date", mapping)
    if raw_date is None and _has_field(record.values, "date", mapping):
        raw_date = ""  # there, but empty
    doc.published_on, warning = parse_date(raw_date, order=date_order)
    if warning:
        doc.warnings.append((warning, f"{doc.where}: {describe_date(raw_date)}"))
    apply_structure(doc)
    add_authors(doc, author_names(_field(record.values, "author", mapping)))
    for key in TAG_FIELDS:
        if key in record.values:
            doc.tags += clean_tags(record.values[key], key.lower())
    problem = storage_problem(doc)
    if problem is not None:
        return Reject(
            path, *problem, record.raw, line_number=record.line, record_number=record.number
        )
    return doc


def _from_html(
    record: RawRecord,
    page: str,
    path: str,
    mapping: Mapping[str, str],
    source: str | None,
    date_order: str | None,
) -> ParsedDocument | Reject:
    """A record that holds a web page instead of a text: the page's article, with the
    record's own fields winning over the page's metadata."""
    from dbapp.parse.html import parse_html

    raw_source = _field(record.values, "source", mapping)
    if isinstance(raw_source, Mapping):
        raw_source = _lookup(raw_source, "name")
    url = clean_field(_field(record.values, "url", mapping))
    doc = parse_html(
        page.encode("utf-8", "surrogatepass"),
        path,
        source or clean_field(raw_source),
        url=url,
        record=record.number,
    )
    if isinstance(doc, Reject):
        return replace(doc, raw=record.raw, line_number=record.line)
    doc.origin_line = record.line
    doc.external_id = clean_field(_field(record.values, "id", mapping))
    doc.title = clean_field(_field(record.values, "title", mapping)) or doc.title
    doc.url = url or doc.url
    doc.language = language_code(clean_field(_field(record.values, "language", mapping)))
    author = _field(record.values, "author", mapping)
    if author not in (None, "", []):
        people = author_names(author)
        doc.author = clean_field(author)
        doc.spans = [x for x in doc.spans if x.role != SPAN_BYLINE_AUTHOR]
        add_authors(doc, people)
    for key in TAG_FIELDS:
        if key in record.values:
            doc.tags += clean_tags(record.values[key], key.lower())
    raw_date = _field(record.values, "date", mapping)
    if raw_date not in (None, ""):
        day, warning = parse_date(raw_date, order=date_order)
        if day is not None:
            doc.published_on = day
            doc.warnings = [w for w in doc.warnings if w[0] != "date_missing"]
        elif warning:
            doc.warnings.append((warning, f"{doc.where}: {describe_date(raw_date)}"))
    return doc


def _loads(text: str | bytes) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, why)`` for text that is not JSON we can hold."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return None, str(exc)


def _json_record(
    raw: bytes, path: str, line: int | None, number: int, where: str, encoding: str | None = None
) -> RawRecord | Reject:
    decoded = decode_input(
        raw, path, first_line=line or 1, record=None if line else number, encoding=encoding
    )
    if isinstance(decoded, Reject):
        return decoded
    text, fallback = decoded
    value, why = _loads(text)
    if why is not None:
        code = "too_deep" if why == "nested too deeply" else "malformed_json"
        return Reject(path, code, f"{where}: {why}", raw, line_number=line, record_number=number)
    if not isinstance(value, dict):
        return Reject(
            path,
            "not_an_object",
            f"{where}: expected a JSON object, found {type(value).__name__}",
            raw,
            line_number=line,
            record_number=number,
        )
    return RawRecord(value, line, number, raw, fallback)


def iter_json_records(
    data: bytes, path: str, first_line: int = 1, encoding: str | None = None
) -> Iterator[RawRecord | Reject]:
    """Records of a JSON Lines chunk, rejects for bad lines."""
    for offset, line in enumerate(data.split(b"\n")):
        lineno = first_line + offset
        if not line.strip():
            continue
        yield _json_record(line, path, lineno, lineno, f"line {lineno}", encoding)


@dataclass(frozen=True, slots=True)
class ArrayItem:
    """One element of a JSON array file: its exact bytes, its number and its first line."""

    raw: bytes
    number: int
    line: int


def iter_array_records(
    items: Iterable[ArrayItem | Reject], path: str, encoding: str | None = None
) -> Iterator[RawRecord | Reject]:
    """Records of JSON array elements (already cut out by :func:`split_array`)."""
    for item in items:
        if isinstance(item, Reject):
            yield item
            continue
        yield _json_record(item.raw, path, item.line, item.number, f"item {item.number}", encoding)


_OUTSIDE = re.compile(rb'["\[\]{},]')
_INSIDE = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"


def split_array(stream: Any, path: str, max_bytes: int = 5_000_000) -> Iterator[ArrayItem | Reject]:
    """Cut a JSON array file into its elements' exact bytes, in one pass with bounded memory.

    Only strings and brackets are tracked; each element is parsed later on its own. An element
    over ``max_bytes`` becomes a ``too_large`` reject holding its first bytes, its size and
    digest; an array that never closes leaves its unfinished last element as a reject.
    """
    if isinstance(stream, bytes):
        stream = io.BytesIO(stream)
    head = stream.read(CHUNK)
    head = head.removeprefix(b"\xef\xbb\xbf")
    stripped = head.lstrip(_WHITESPACE)
    line = 1 + head[: len(head) - len(stripped)].count(b"\n")
    data = stripped[1:]  # past the opening bracket
    depth, in_string, escaped = 1, False, False
    element = Capped(max_bytes)
    elem_line, number, commas = line, 0, 0

    def add(part: bytes) -> None:
        nonlocal elem_line
        if element.size == 0:  # an element's bytes start at its first non-blank byte
            stripped = part.lstrip(_WHITESPACE)
            elem_line += part[: len(part) - len(stripped)].count(b"\n")
            part = stripped
        if part:
            element.add(part)

    def finish(last: bool) -> Iterator[ArrayItem | Reject]:
        nonlocal element, number, elem_line
        raw = element.raw.strip(_WHITESPACE)
        empty_array = last and commas == 0 and element.size == 0
        if not empty_array:
            number += 1
            first = elem_line
            if element.size > max_bytes:
                yield Reject(
                    path,
                    "too_large",
                    f"item {number}: {element.size:,} bytes is more than the {max_bytes:,}-byte "
                    "limit (--max-document-size); the first bytes are kept",
                    element.raw[:RAW_CAP],
                    line_number=first,
                    record_number=number,
                    raw_size=element.size,
                    raw_sha256=element.sha256,
                )
            else:
                yield ArrayItem(raw, number, first)
        elem_line += element.newlines
        element = Capped(max_bytes)

    while data:
        pos = 1 if escaped else 0  # the byte after a backslash that ended the last chunk
        escaped = False
        seg = 0
        while True:
            if in_string:
                m = _INSIDE.search(data, pos)
                if m is None:
                    pos = len(data)
                    break
                if m.group() == b"\\":
                    if m.end() >= len(data):
                        escaped = True
                        pos = len(data)
                        break
                    pos = m.end() + 1
                    continue
                in_string = False
                pos = m.end()
                continue
            m = _OUTSIDE.search(data, pos)
            if m is None:
                pos = len(data)
                break
            char = m.group()
            pos = m.end()
            if char == b'"':
                in_string = True
            elif char in b"[{":
                depth += 1
            elif char in b"]}":
                depth -= 1
                if depth == 0:
                    add(data[seg : m.start()])
                    yield from finish(last=True)
                    rest, more = _next_significant(data[pos:], stream)
                    elem_line += rest.count(b"\n") - more.count(b"\n")
                    if not more.startswith(b","):
                        yield from _after_array(more, stream, path, elem_line)
                        return
                    # A stray bracket closed the array early ("[{...]}, {...}]"): the element
                    # it broke is a reject, and the elements after it still count.
                    depth, commas = 1, commas + 1
                    data, pos, seg = more, 1, 1
                    continue
            elif depth == 1:  # a comma between two elements
                add(data[seg : m.start()])
                commas += 1
                yield from finish(last=False)
                seg = pos
        add(data[seg:])
        data = stream.read(CHUNK)
    # The input ended inside the array. An element that never closed ("{...," then more
    # elements) swallowed the rest: one element a line, as arrays are usually written, gets
    # the later ones back; what still does not parse is a reject.
    if element.size <= max_bytes and element.newlines and element.raw.strip(_WHITESPACE):
        yield from _salvage_lines(element.raw, path, elem_line, number)
        return
    if element.raw.strip(_WHITESPACE) or element.size > max_bytes or number == 0:
        number += 1
        yield Reject(
            path,
            "malformed_json",
            f"item {number}: the JSON array is not closed (truncated file?)",
            element.raw[:RAW_CAP] or b"[",
            line_number=elem_line,
            record_number=number,
            raw_size=element.size or 1,
            raw_sha256=element.sha256 if element.size else None,
        )


def _salvage_lines(raw: bytes, path: str, line: int, number: int) -> Iterator[ArrayItem | Reject]:
    """The elements of an unclosed array's tail, one a line; bad runs of lines are rejects."""
    bad: list[bytes] = []
    bad_line = line

    def flush() -> Iterator[Reject]:
        nonlocal number
        if bad and b"".join(bad).strip(_WHITESPACE):
            number += 1
            yield Reject(
                path,
                "malformed_json",
                f"item {number}: an element that never closes (the array is not closed)",
                b"".join(bad).strip(_WHITESPACE),
                line_number=bad_line,
                record_number=number,
            )
        bad.clear()

    for offset, piece in enumerate(raw.split(b"\n")):
        item = piece.strip(_WHITESPACE).rstrip(b",").rstrip(b"]").rstrip(_WHITESPACE).rstrip(b",")
        if not item:
            continue  # a blank line, or the array's closing bracket
        value = None
        if item.startswith(b"{"):
            try:
                value = json.loads(item)
            except (ValueError, RecursionError):
                value = None
        if isinstance(value, dict):
            yield from flush()
            number += 1
            yield ArrayItem(item, number, line + offset)
        else:
            if not bad:
                bad_line = line + offset
            bad.append(piece + b"\n")
    yield from flush()


def _next_significant(rest: bytes, stream: Any) -> tuple[bytes, bytes]:
    """``(skipped, remainder)``: what follows up to and from the next non-blank byte (reading
    on as needed); ``skipped`` holds the blanks, the remainder starts at that byte."""
    skipped = b""
    while True:
        stripped = rest.lstrip(_WHITESPACE)
        skipped += rest[: len(rest) - len(stripped)]
        if stripped:
            return skipped + stripped, stripped
        rest = stream.read(CHUNK)
        if not rest:
            return skipped, b""


def _after_array(rest: bytes, stream: Any, path: str, line_of_end: int) -> Iterator[Reject]:
    """Anything but whitespace after the closing bracket is a reject (kept, capped)."""
    extra = Capped()
    extra.add(rest)
    while chunk := stream.read(CHUNK):
        extra.add(chunk)
    if extra.raw.strip(_WHITESPACE):
        yield Reject(
            path,
            "malformed_json",
            "content after the end of the JSON array (JSON Lines? name the file .jsonl)",
            extra.raw,
            line_number=line_of_end,
            raw_size=extra.size,
            raw_sha256=extra.sha256,
        )


class _QuoteState:
    """Whether a CSV record is inside a quoted field, by the csv module's rules: a quote opens
    a field only at its start; inside, ``""`` is a quote and ``"`` ends the field. Fed bytes in
    pieces; only quote characters are visited."""

    def __init__(self) -> None:
        self.quoted = False
        self.at_field_start = True
        self.pending_quote = False  # a quote ended the last piece inside a quoted field

    def feed(self, data: bytes) -> None:
        pos = 0
        if self.pending_quote and data:
            self.pending_quote = False
            if data[:1] == b'"':
                pos = 1  # an escaped quote: still quoted
            else:
                self.quoted = False
        while pos < len(data):
            if self.quoted:
                q = data.find(b'"', pos)
                if q < 0:
                    break
                if q + 1 == len(data):
                    self.pending_quote = True
                    return
                if data[q + 1 : q + 2] == b'"':
                    pos = q + 2
                    continue
                self.quoted = False
                pos = q + 1
                self.at_field_start = False
                continue
            # Unquoted: the next quote opens a field only right after a separator or line end.
            q = data.find(b'"', pos)
            if q < 0:
                tail = data[pos:]
                if tail:
                    self.at_field_start = tail[-1:] in (b",", b"\n", b"\r")
                return
            before = data[q - 1 : q] if q > pos else (b"," if self.at_field_start else b"x")
            if q == pos and self.at_field_start or before in (b",", b"\n", b"\r"):
                self.quoted = True
            pos = q + 1
            self.at_field_start = False
        if not self.quoted and data:
            self.at_field_start = data[-1:] in (b",", b"\n", b"\r")


class _Oversized(Exception):
    """The current CSV record is over the size limit."""


class _LineTap:
    """Feeds a CSV byte stream to the csv module line by line, keeping each record's bytes.

    Lines are read with a bounded ``readline``, so a record over the limit is never held whole.
    """

    def __init__(self, stream: Any, max_bytes: int) -> None:
        self._stream = stream
        self.max = max_bytes
        self.record = Capped(max_bytes)
        self.state = _QuoteState()
        self.line = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        data = self._stream.readline(self.max + 1)
        if not data:
            raise StopIteration
        self.line += 1
        self._add(data)
        if self.record.size > self.max:
            while not data.endswith(b"\n"):  # the rest of this physical line
                data = self._stream.readline(CHUNK)
                if not data:
                    break
                self._add(data)
            raise _Oversized
        return data.decode("utf-8", "surrogateescape")

    def _add(self, data: bytes) -> None:
        self.record.add(data)
        if b'"' in data or self.state.quoted or self.state.pending_quote:
            self.state.feed(data)
        elif data:
            self.state.at_field_start = data[-1:] in (b",", b"\n", b"\r")

    def finish_record(self) -> None:
        """Read on to the end of a record cut short: while it is inside a quoted field."""
        while self.state.quoted and not self.state.pending_quote:
            data = self._stream.readline(CHUNK)
            if not data:
                return
            if data.endswith(b"\n"):
                self.line += 1
            self._add(data)

    def take(self) -> Capped:
        record = self.record
        self.record = Capped(self.max)
        self.state = _QuoteState()
        return record


def _header_fault(row: list[str]) -> str | None:
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return "invalid UTF-8"
    if any("\x00" in cell for cell in row):
        return "a NUL character"
    if not any(cell.strip() for cell in row):
        return "no column names"
    names = [c.strip().lstrip("\ufeff").lower() for c in row]
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        return f"the column name(s) {', '.join(twice)} more than once"
    return None


def iter_csv_records(stream: Any, path: str, max_bytes: int) -> Iterator[RawRecord | Reject]:
    """Records of a CSV byte stream (UTF-8); the first row is the header.

    A header that cannot be read (invalid UTF-8, NUL, empty) is a reject, and so is every record
    after it, each with its own bytes: nothing is mapped to the wrong columns.
    """
    if isinstance(stream, bytes):
        stream = io.BytesIO(stream)
    csv.field_size_limit(max(max_bytes, 1))
    tap = _LineTap(stream, max_bytes)
    reader = csv.reader(tap, strict=True)
    header: list[str] | None = None
    header_fault: str | None = None
    number = 0
    while True:
        start = tap.line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except _Oversized:
            tap.finish_record()
            record = tap.take()
            number += header is not None
            yield Reject(
                path,
                "too_large",
                f"line {start}: a record of {record.size:,} bytes is more than the "
                f"{max_bytes:,}-byte limit (--max-document-size); the first bytes are kept",
                record.raw[:RAW_CAP],
                line_number=start,
                record_number=number or None,
                raw_size=record.size,
                raw_sha256=record.sha256,
            )
            reader = csv.reader(tap, strict=True)  # fresh state after the skipped record
            continue
        except csv.Error as exc:
            yield Reject(
                path, "malformed_csv", f"line {start}: {exc}", tap.take().raw, line_number=start
            )
            continue
        raw = tap.take().raw
        if header is None and header_fault is None:
            header_fault = _header_fault(row)
            if header_fault is None:
                header = [h.strip().lstrip("\ufeff") for h in row]
            else:
                yield Reject(
                    path,
                    "bad_csv_header",
                    f"line {start}: the header row holds {header_fault}; no record of this "
                    "file can be mapped to fields (fix the header and load the file again)",
                    raw,
                    line_number=start,
                )
            continue
        if not row:
            continue  # a blank line
        number += 1
        if not any(cell.strip() for cell in row):
            yield Reject(
                path,
                "empty",
                f"line {start}: a record with no values",
                raw,
                line_number=start,
                record_number=number,
            )
            continue
        if header is None:
            yield Reject(
                path,
                "csv_no_header",
                f"line {start}: the file's header was rejected ({header_fault})",
                raw,
                line_number=start,
                record_number=number,
            )
            continue
        fallback = None
        try:
            "".join(row).encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes came through as surrogates
            decoded = decode_input(raw, path, first_line=start)
            if isinstance(decoded, Reject):
                yield replace(decoded, record_number=number)
                continue
            row, fallback = next(csv.reader(io.StringIO(decoded[0]), strict=True)), decoded[1]
        if len(row) != len(header):
            yield Reject(
                path,
                "csv_field_count",
                f"line {start}: expected {len(header)} fields ({', '.join(header)}), "
                f"found {len(row)}",
                raw,
                line_number=start,
                record_number=number,
            )
            continue
        yield RawRecord(dict(zip(header, row, strict=True)), start, number, raw, fallback)
