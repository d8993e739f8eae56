"""JSON Lines (or a JSON array) and CSV: one article per record, columns mapped to fields."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dbapp.parse.dates import parse_date
from dbapp.parse.decode import decode_text
from dbapp.parse.native import apply_structure
from dbapp.parse.records import ParsedDocument, Reject, clean_field, clean_text

FIELDS = ("text", "date", "source", "title", "author", "url", "id", "language")
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
}


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record before mapping: its values, where it came from, and its exact bytes."""

    values: dict[str, Any]
    line: int | None
    number: int
    raw: bytes


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


def _candidates(keys: tuple[str, ...], field: str) -> tuple[str, ...]:
    """The record's own keys that can hold ``field``, in preference order (cached per shape)."""
    found = _COLUMN_CACHE.get((keys, field))
    if found is None:
        lowered: dict[str, str] = {}
        for key in keys:
            lowered.setdefault(str(key).lower(), key)
        found = tuple(lowered[c] for c in DEFAULT_COLUMNS[field] if c in lowered)
        if len(_COLUMN_CACHE) < 10_000:
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


def record_to_document(
    record: RawRecord, path: str, mapping: Mapping[str, str], source: str | None
) -> ParsedDocument | Reject:
    """Map one record's columns to a document; a record without text is a reject."""
    text = _field(record.values, "text", mapping)
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
        language=clean_field(_field(record.values, "language", mapping)) or "en",
    )
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
    doc.published_on, warning = parse_date(raw_date)
    if warning:
        doc.warnings.append((warning, f"{doc.where}: {str(raw_date)[:40]!r}"))
    apply_structure(doc)
    return doc


def iter_json_records(data: bytes, path: str, first_line: int = 1) -> Iterator[RawRecord | Reject]:
    """Records of a JSON Lines chunk (or of a whole JSON array file), rejects for bad lines."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" and first_line == 1:
        array = _json_array(data)
        if array is not None:  # otherwise: JSON Lines whose first line is an array
            yield from _array_records(array, path)
            return
    number = first_line - 1
    for offset, line in enumerate(data.split(b"\n")):
        lineno = first_line + offset
        if not line.strip():
            continue
        number = lineno
        text = decode_text(line, path, first_line=lineno, record=None)
        if isinstance(text, Reject):
            yield text
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(
                path,
                "malformed_json",
                f"line {lineno}: {exc.msg} at column {exc.colno}",
                line,
                line_number=lineno,
            )
            continue
        if not isinstance(value, dict):
            yield Reject(
                path,
                "not_an_object",
                f"line {lineno}: expected a JSON object, found {type(value).__name__}",
                line,
                line_number=lineno,
            )
            continue
        yield RawRecord(value, lineno, number, line)


def _json_array(data: bytes) -> list[Any] | None:
    """The file as one JSON array, or None if it is not one."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, list) else None


def _array_records(values: list[Any], path: str) -> Iterator[RawRecord | Reject]:
    for number, value in enumerate(values, 1):
        raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
        if not isinstance(value, dict):
            yield Reject(
                path,
                "not_an_object",
                f"item {number}: expected a JSON object, found {type(value).__name__}",
                raw,
                record_number=number,
            )
            continue
        yield RawRecord(value, None, number, raw)


class _LineTap:
    """Feeds lines to the csv module while remembering them, so each record keeps its bytes."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []
        self.line = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        self.line += 1
        return line

    def take(self) -> bytes:
        raw = "".join(self.taken).encode("utf-8", "surrogateescape")
        self.taken = []
        return raw


def iter_csv_records(
    lines: Iterator[str], path: str, max_field: int
) -> Iterator[RawRecord | Reject]:
    """Records of a CSV stream (decoded with ``surrogateescape``); the first row is the header."""
    csv.field_size_limit(max_field)
    tap = _LineTap(lines)
    reader = csv.reader(tap)
    header: list[str] | None = None
    number = 0
    while True:
        start = tap.line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Reject(
                path, "malformed_csv", f"line {start}: {exc}", tap.take(), line_number=start
            )
            continue
        raw = tap.take()
        try:
            "".join(row).encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes came through as surrogates
            bad = decode_text(raw, path, first_line=start)
            if isinstance(bad, Reject):
                yield bad
                continue
        if header is None:
            header = [h.strip().lstrip("\ufeff") for h in row]
            continue
        if not any(cell.strip() for cell in row):
            continue
        number += 1
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
        yield RawRecord(dict(zip(header, row, strict=True)), start, number, raw)
