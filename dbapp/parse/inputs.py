"""Finding inputs and cutting them into units of work, streaming (never a corpus in memory)."""

from __future__ import annotations

import glob
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dbapp.errors import InputError
from dbapp.parse.records import Reject
from dbapp.parse.sgml import split_records
from dbapp.parse.tabular import iter_csv_records

FORMATS = ("native", "jsonl", "csv", "sgml")
EXTENSIONS = {
    ".txt": "native",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".sgm": "sgml",
    ".sgml": "sgml",
}
STDIN = "-"
RECORDS_PER_UNIT = 250
RAW_CAP = 16 * 1024 * 1024  # most bytes of one reject we keep


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input: a file on disk or standard input."""

    path: str
    fmt: str | None
    size: int

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work for a parser: a format, where it came from, and its payload."""

    fmt: str  # a format, or "reject" for a whole-input failure found while reading
    path: str
    payload: Any
    nbytes: int = 0  # on-disk bytes this unit accounts for (progress, MB/s)
    first_line: int = 1


def format_of(name: str) -> str | None:
    """The format an input's name implies (``x.jsonl.gz`` -> ``jsonl``), or None."""
    lower = name.lower().removesuffix(".gz")
    return EXTENSIONS.get(os.path.splitext(lower)[1])


def discover(paths: list[str], fmt: str | None = None) -> list[InputFile]:
    """Expand files, directories (recursively, known extensions only), globs and ``-``."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r} (one of: {', '.join(FORMATS)})")
    found: list[InputFile] = []
    seen: set[str] = set()

    def add(path: Path, explicit: bool) -> None:
        key = str(path.resolve())
        if key in seen:
            return
        implied = format_of(path.name)
        if not explicit and implied is None:
            return  # e.g. README.md inside a corpus directory
        seen.add(key)
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        found.append(InputFile(str(path), fmt or implied, size))

    for given in paths:
        if given == STDIN:
            found.append(InputFile(STDIN, fmt, 0))
            continue
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        add(Path(root) / name, explicit=False)
        elif path.exists():
            add(path, explicit=True)
        elif any(ch in given for ch in "*?["):
            matches = sorted(glob.glob(given, recursive=True))
            if not matches:
                raise InputError(f"no files match {given!r}")
            for match in matches:
                if Path(match).is_file():
                    add(Path(match), explicit=True)
        else:
            raise InputError(f"no such file or directory: {given}")
    return found


def sniff(head: bytes) -> str | None:
    """Guess a format from the first bytes of an input."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"date ") or text.startswith(b"date\t"):
        return "native"
    if text[:1] in (b"{", b"["):
        return "jsonl"
    if text.startswith((b"<!DOCTYPE lewis", b"<REUTERS")):
        return "sgml"
    first = text.split(b"\n", 1)[0]
    if b"," in first and len(first) < 2000:
        return "csv"
    return None


def _open(item: InputFile) -> BinaryIO:
    """A binary stream of the input, gunzipped when it starts with gzip's magic bytes."""
    raw: Any = sys.stdin.buffer if item.is_stdin else open(item.path, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered


def _display(item: InputFile) -> str:
    return "<stdin>" if item.is_stdin else item.path


def iter_units(
    files: list[InputFile], max_document_bytes: int, source: str | None = None
) -> Iterator[Unit]:
    """Units of work for every input, in order; unreadable inputs become reject units."""
    for item in files:
        path = _display(item)
        try:
            stream = _open(item)
        except OSError as exc:
            yield Unit("reject", path, Reject(path, "unreadable", exc.strerror or str(exc), None))
            continue
        try:
            yield from _units_of(stream, item, path, max_document_bytes)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield Unit(
                "reject",
                path,
                Reject(path, "unreadable", f"cannot read: {exc}", None),
                nbytes=item.size,
            )
        finally:
            if not item.is_stdin:
                stream.close()


def _units_of(stream: BinaryIO, item: InputFile, path: str, max_bytes: int) -> Iterator[Unit]:
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    fmt = item.fmt or sniff(head)
    if fmt is None:
        raw = stream.read(RAW_CAP)
        if not raw.strip():
            reject = Reject(path, "empty", "the file is empty", raw, line_number=1)
        else:
            reject = Reject(
                path,
                "unknown_format",
                "cannot tell the format (use --format native|jsonl|csv|sgml)",
                raw,
                line_number=1,
            )
        yield Unit("reject", path, reject, nbytes=item.size)
        return
    if fmt == "native":
        data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            yield Unit("reject", path, _too_large(path, data, stream, max_bytes), nbytes=item.size)
        else:
            yield Unit("native", path, data, nbytes=item.size)
    elif fmt == "jsonl":
        yield from _jsonl_units(stream, item, path, max_bytes)
    elif fmt == "csv":
        yield from _csv_units(stream, item, path, max_bytes)
    else:
        yield from _sgml_units(stream, item, path, max_bytes)


def _too_large(path: str, data: bytes, stream: BinaryIO, max_bytes: int, line: int = 1) -> Reject:
    total = len(data)
    while chunk := stream.read(1 << 20):
        total += len(chunk)
    return Reject(
        path,
        "too_large",
        f"{total:,} bytes is more than the {max_bytes:,}-byte limit for one document "
        "(--max-document-size); the first bytes are kept",
        data[:RAW_CAP],
        line_number=line,
    )


def _jsonl_units(stream: BinaryIO, item: InputFile, path: str, max_bytes: int) -> Iterator[Unit]:
    if stream.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":  # type: ignore[attr-defined]
        data = stream.read(max_bytes * 64 + 1)
        if len(data) > max_bytes * 64:
            yield Unit("reject", path, _too_large(path, data, stream, max_bytes * 64), item.size)
        else:
            yield Unit("jsonl", path, data, nbytes=item.size)
        return
    lines: list[bytes] = []
    first = lineno = 1
    size = 0
    share = item.size
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            break
        if len(line) > max_bytes and not line.endswith(b"\n"):
            rest = stream.readline()  # the remainder of the oversized line
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline()
            if lines:
                yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), first_line=first)
            reject = Reject(
                path,
                "too_large",
                f"line {lineno}: a record of more than {max_bytes:,} bytes (--max-document-size)",
                line[:RAW_CAP],
                line_number=lineno,
            )
            yield Unit("reject", path, reject)
            lines, size = [], 0
            lineno += 1
            first = lineno
            continue
        lines.append(line)
        size += len(line)
        lineno += 1
        if len(lines) >= RECORDS_PER_UNIT or size >= 4 * 1024 * 1024:
            part = min(share, size)
            share -= part
            yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), nbytes=part, first_line=first)
            lines, size, first = [], 0, lineno
    if lines or share:
        yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), nbytes=share, first_line=first)


def _csv_units(stream: BinaryIO, item: InputFile, path: str, max_bytes: int) -> Iterator[Unit]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    batch: list[Any] = []
    for record in iter_csv_records(iter(text), path, max_field=max_bytes):
        if isinstance(record, Reject):
            yield Unit("reject", path, record)
            continue
        batch.append(record)
        if len(batch) >= RECORDS_PER_UNIT:
            yield Unit("csv", path, batch)
            batch = []
    text.detach()
    yield Unit("csv", path, batch, nbytes=item.size)


def _sgml_units(stream: BinaryIO, item: InputFile, path: str, max_bytes: int) -> Iterator[Unit]:
    data = stream.read()
    batch: list[Any] = []
    for record in split_records(data, path):
        if isinstance(record, Reject):
            yield Unit("reject", path, record)
            continue
        if len(record.raw) > max_bytes:
            yield Unit(
                "reject",
                path,
                Reject(
                    path,
                    "too_large",
                    f"line {record.line}: record of {len(record.raw):,} bytes is over the limit",
                    record.raw[:RAW_CAP],
                    line_number=record.line,
                ),
            )
            continue
        batch.append(record)
        if len(batch) >= RECORDS_PER_UNIT:
            yield Unit("sgml", path, batch)
            batch = []
    yield Unit("sgml", path, batch, nbytes=item.size)
