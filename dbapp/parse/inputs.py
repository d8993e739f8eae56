"""Finding inputs and cutting them into units of work, streaming (never a corpus in memory)."""

from __future__ import annotations

import errno
import glob
import gzip
import io
import os
import re
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from dbapp.errors import InputError
from dbapp.parse.html import require_web
from dbapp.parse.records import Reject
from dbapp.parse.sgml import split_records
from dbapp.parse.stream import (
    CHUNK,
    RAW_CAP,
    Guarded,
    read_capped,
    read_line,
    transcoded,
    wide_encoding,
)
from dbapp.parse.tabular import iter_csv_records, split_array
from dbapp.parse.warc import split_warc

FORMATS = ("native", "jsonl", "csv", "sgml", "html", "warc", "feed")
WEB_FORMATS = ("html", "warc", "feed")  # need the web extra
EXTENSIONS = {
    ".txt": "native",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".sgm": "sgml",
    ".sgml": "sgml",
    ".html": "html",
    ".htm": "html",
    ".warc": "warc",
    ".rss": "feed",
    ".atom": "feed",
    ".xml": "feed",
    ".zip": "zip",
}
ZIP = "zip"
MEMBER_SKIPPED = "archive_member_skipped"  # warning: a zip member that is not read, and why
# A zip member is refused, unread, when its header says it inflates past this, or past this
# ratio while over ZIP_RATIO_FLOOR: a zip bomb is refused by its size, never by memory.
ZIP_MEMBER_CAP = 8 * 1024**3
ZIP_RATIO = 200
ZIP_RATIO_FLOOR = 64 * 1024**2
FEED_BYTES = 32 * 1024**2  # a feed file is read whole (feedparser): at most this
SPOOL_IN_MEMORY = 16 * 1024**2  # a zip inside a zip is spooled: to disk past this
STDIN = "-"
RECORDS_PER_UNIT = 250
UNIT_BYTES = 4 * 1024 * 1024
ARCHIVES = (".tar", ".tgz", ".tar.gz", ".7z", ".rar")


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input: a file on disk or standard input."""

    path: str  # as the OS names it (may hold undecodable bytes as surrogates)
    fmt: str | None
    size: int

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN

    @property
    def display(self) -> str:
        """The absolute path as text that can be stored and printed (bad bytes as ``\\xff``):
        the same file is the same path however it was typed (rejects are kept once a file)."""
        return "<stdin>" if self.is_stdin else display_path(os.path.abspath(self.path))


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry of an input directory that is not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work for a parser: a format, where it came from, and its payload."""

    fmt: str  # a format, "json_items", or "reject" for a failure found while reading
    path: str
    payload: Any
    nbytes: int = 0  # on-disk bytes this unit accounts for (progress, MB/s)
    first_line: int = 1


def display_path(path: str) -> str:
    """A file name as valid text: undecodable bytes become ``\\xNN``, NUL becomes ``\\0``."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", "backslashreplace").replace("\x00", "\\0")
    return text.replace("\n", "\\n").replace("\r", "\\r")  # one line in every message


def format_of(name: str) -> str | None:
    """The format an input's name implies (``x.jsonl.gz`` -> ``jsonl``), or None."""
    lower = name.lower().removesuffix(".gz")
    return EXTENSIONS.get(os.path.splitext(lower)[1])


def _kind(path: Path) -> str | None:
    """None for a regular file (after symlinks), else why it cannot be read as one."""
    try:
        mode = path.stat().st_mode
    except RuntimeError:
        return "a symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return "a broken symlink" if path.is_symlink() else f"unreadable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def check_format(fmt: str | None) -> None:
    """InputError unless ``fmt`` is None or a known input format."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r} (one of: {', '.join(FORMATS)})")


def discover(
    paths: list[str], fmt: str | None = None, skipped: list[Skipped] | None = None
) -> list[InputFile]:
    """Expand files, directories (recursively, known extensions only), globs and ``-``.

    In a directory, entries that are not regular files (pipes, devices, sockets, broken links,
    symlink loops) and files of no known format are skipped and listed in ``skipped``. A path
    given by name must be a readable file or a pipe (``<(zcat x.gz)``), never a device.
    """
    check_format(fmt)
    found: list[InputFile] = []
    seen: set[str] = set()
    skips: list[Skipped] = [] if skipped is None else skipped

    def add(path: Path, explicit: bool) -> None:
        kind = _kind(path)
        if kind is not None and not (explicit and kind == "a named pipe (FIFO)"):
            if explicit:
                raise InputError(f"{display_path(str(path))} is {kind}, not a file dbapp can read")
            skips.append(Skipped(display_path(str(path)), kind))
            return
        try:
            key = str(path.resolve())
        except (OSError, RuntimeError):
            key = str(path.absolute())
        if key in seen:
            return
        implied = format_of(path.name)
        if not explicit and implied is None and fmt is None:
            lower = path.name.lower()
            if lower.endswith(ARCHIVES):
                skips.append(Skipped(display_path(str(path)), "an archive (unpack it first)"))
            else:
                skips.append(Skipped(display_path(str(path)), "no known input extension"))
            return
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
            walked: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(path, followlinks=True):
                try:
                    st = os.stat(root)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) in walked:  # a directory symlink loop
                    skips.append(Skipped(display_path(root), "a symlink loop"))
                    dirs[:] = []
                    continue
                walked.add((st.st_dev, st.st_ino))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        add(Path(root) / name, explicit=False)
        elif path.exists() or path.is_symlink():
            add(path, explicit=True)
        elif any(ch in given for ch in "*?["):
            matches = sorted(glob.glob(given, recursive=True))
            if not matches:
                raise InputError(f"no files match {given!r}")
            for match in matches:
                kind = _kind(Path(match))
                if kind is None:
                    add(Path(match), explicit=True)
                elif kind != "a directory":
                    skips.append(Skipped(display_path(match), kind))
        else:
            raise InputError(f"no such file or directory: {display_path(given)}")
    return found


def sniff(head: bytes) -> str | None:
    """Guess a format from the first bytes of an input."""
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"date ", b"date\t", b"http://", b"https://")):
        return "native"  # the date header, or a crawl's text with its URL first
    if text.startswith(b"WARC/1."):
        return "warc"
    lower = text[:1024].lower()
    if lower.startswith((b"<!doctype html", b"<html")):
        return "html"
    if lower.startswith((b"<rss", b"<feed", b"<rdf:rdf")) or (
        lower.startswith(b"<?xml") and re.search(rb"<(rss|feed|rdf:rdf)\b", lower)
    ):
        return "feed"
    if text[:1] in (b"{", b"["):
        return "jsonl"
    if text.startswith((b"<!DOCTYPE lewis", b"<REUTERS")):
        return "sgml"
    first = text.split(b"\n", 1)[0]
    if b"," in first and len(first) < 2000:
        return "csv"
    return None


def _open(item: InputFile) -> tuple[Guarded, BinaryIO]:
    """A guarded binary stream of the input (gunzipped, UTF-16/32 made UTF-8), and the file."""
    raw: Any = sys.stdin.buffer if item.is_stdin else open(item.path, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    stream: Any = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=buffered)
    guarded = Guarded(stream)
    wide = wide_encoding(guarded.peek(4)[:4])
    if wide is not None:
        guarded = Guarded(transcoded(stream, wide))
    return guarded, buffered


def iter_units(
    files: list[InputFile], max_document_bytes: int, source: str | None = None
) -> Iterator[Unit]:
    """Units of work for every input, in order; unreadable inputs become reject units."""
    for item in files:
        path = item.display
        try:
            stream, underlying = _open(item)
        except OSError as exc:
            yield Unit("reject", path, Reject(path, "unreadable", exc.strerror or str(exc), None))
            continue
        try:
            yield from _units_of(stream, item, path, max_document_bytes)
            if stream.error is not None:
                yield Unit("reject", path, _broken_off(item, path, stream), nbytes=0)
        finally:
            if not item.is_stdin:
                underlying.close()


def _broken_off(item: InputFile, path: str, stream: Guarded) -> Reject:
    """The reject for an input whose reading failed midway; what came before it still loads."""
    line = stream.newlines + 1
    raw, size, digest = b"", 0, None
    if not item.is_stdin:
        try:
            with open(item.path, "rb") as whole:
                raw, size, digest = read_capped(whole, RAW_CAP)
        except OSError:
            pass
    return Reject(
        path,
        "truncated",
        f"line {line}: the input breaks off after {stream.delivered:,} bytes "
        f"({stream.error}); every complete record before it was read, the rest is lost "
        "(the raw bytes kept are the file as it is on disk)",
        raw,
        line_number=line,
        raw_size=size,
        raw_sha256=digest,
    )


def _units_of(
    stream: Guarded, item: InputFile, path: str, max_bytes: int, depth: int = 0
) -> Iterator[Unit]:
    head = stream.peek(4096)[:4096]
    fmt = item.fmt or sniff(head)
    if fmt in WEB_FORMATS:
        require_web()
    if fmt == ZIP:
        yield from _zip_units(stream, item, path, max_bytes, depth)
        return
    if fmt in ("html", "feed"):
        # A feed is many items: its file may pass the limit for one document.
        cap = max(max_bytes, FEED_BYTES) if fmt == "feed" else max_bytes
        data, size, digest = read_capped(stream, cap)
        if digest is not None:
            yield Unit("reject", path, _too_large(path, data, size, digest, cap), item.size)
        elif stream.error is None:
            yield Unit(fmt, path, data, nbytes=item.size)
        return
    if fmt == "warc":
        yield from _record_units("warc", split_warc(stream, path, max_bytes), item, path, max_bytes)
        return
    if fmt is None:
        raw, size, digest = read_capped(stream, max_bytes)
        if not raw.strip() and digest is None:
            reject = Reject(path, "empty", "the file is empty", raw, line_number=1)
        else:
            reject = Reject(
                path,
                "unknown_format",
                f"cannot tell the format (use --format {'|'.join(FORMATS)})",
                raw,
                line_number=1,
                raw_size=size,
                raw_sha256=digest,
            )
        yield Unit("reject", path, reject, nbytes=item.size)
        return
    if fmt == "native":
        data, size, digest = read_capped(stream, max_bytes)
        if digest is not None:
            yield Unit("reject", path, _too_large(path, data, size, digest, max_bytes), item.size)
        elif stream.error is None:  # a native file broken off is one truncated document
            yield Unit("native", path, data, nbytes=item.size)
    elif fmt == "jsonl":
        yield from _jsonl_units(stream, item, path, max_bytes)
    elif fmt == "csv":
        yield from _record_units(
            "csv", iter_csv_records(stream, path, max_bytes), item, path, max_bytes
        )
    else:
        yield from _record_units(
            "sgml", split_records(stream, path, max_bytes), item, path, max_bytes
        )


def _zip_units(
    stream: Guarded, item: InputFile, path: str, max_bytes: int, depth: int
) -> Iterator[Unit]:
    """A zip's members as if they were files in a folder (``archive.zip!dir/a.txt``); a zip
    inside goes one level deep. Members whose headers promise a bomb are refused unread."""
    spool: Any = None
    try:
        if item.is_stdin or depth > 0 or item.path.lower().endswith(".gz"):
            # zipfile needs to seek: a zip inside a zip (or on stdin) goes to a temporary file,
            # in memory only while small.
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
            if stream.error is not None:
                raise zipfile.BadZipFile(f"it breaks off: {stream.error}")
            spool.seek(0)
            archive = zipfile.ZipFile(spool)
        else:
            archive = zipfile.ZipFile(item.path)
        _check_start(archive, spool if spool is not None else item.path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        if spool is not None:
            spool.close()
        yield Unit("reject", path, Reject(path, "bad_zip", f"not a readable zip archive: {exc}",
                   _head_of(item)), nbytes=item.size)  # fmt: skip
        return
    try:
        yield from _members(archive, path, item, max_bytes, depth)
    finally:
        archive.close()
        if spool is not None:
            spool.close()


def _members(
    archive: zipfile.ZipFile, path: str, item: InputFile, max_bytes: int, depth: int
) -> Iterator[Unit]:
    """Units of each member, in the archive's order; see _zip_units."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    share = item.size
    for n, member in enumerate(members):
        name = display_path(member.filename)
        inner = f"{path}!{name}"
        part = share if n == len(members) - 1 else min(share, member.compress_size)
        share -= part
        if os.path.basename(member.filename).startswith(".") or "__MACOSX" in name:
            continue
        bomb = member.file_size > ZIP_MEMBER_CAP or (
            member.file_size > ZIP_RATIO_FLOOR
            and member.file_size > ZIP_RATIO * max(member.compress_size, 1)
        )
        if bomb:
            why = (f"refused unread: it would inflate {member.compress_size:,} bytes to "
                   f"{member.file_size:,} (a zip bomb?)")  # fmt: skip
            yield Unit("reject", inner, Reject(inner, "zip_bomb", why, None), nbytes=part)
            continue
        fmt = format_of(member.filename)
        if fmt == ZIP and depth >= 1:
            why = "an archive nested more than one level deep (unpack it first)"
            yield Unit("note", inner, [(MEMBER_SKIPPED, f"{inner}: {why}")], nbytes=part)
            continue
        try:
            raw: Any = archive.open(member)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            reason = f"cannot read this member: {exc}"
            yield Unit("reject", inner, Reject(inner, "bad_zip", reason, None), nbytes=part)
            continue
        with raw:
            guarded = Guarded(io.BufferedReader(raw))
            if guarded.peek(2)[:2] == b"\x1f\x8b":
                unzipped: Any = gzip.GzipFile(fileobj=cast(Any, guarded))
                guarded = Guarded(unzipped)
            head = guarded.peek(4096)[:4096]
            if guarded.error is not None:  # a CRC error in the first bytes
                reason = f"cannot read this member: {guarded.error}"
                yield Unit("reject", inner, Reject(inner, "bad_zip", reason, None), nbytes=part)
                continue
            if fmt is None and (sniff(head) is None or _binary(head)):
                why = "no known input extension"
                yield Unit("note", inner, [(MEMBER_SKIPPED, f"{inner}: {why}")], nbytes=part)
                continue
            member_item = InputFile(inner, fmt, part)
            yield from _units_of(guarded, member_item, inner, max_bytes, depth + 1)
            if guarded.error is not None:  # a CRC error, a truncated member
                reason = f"the member breaks off: {guarded.error}"
                yield Unit("reject", inner, Reject(inner, "bad_zip", reason, None))


def _binary(head: bytes) -> bool:
    """Bytes that are not text: a NUL, or many control characters (a photo, a PDF)."""
    sample = head[:4096]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return b"\x00" in sample or controls > len(sample) * 0.05


def _check_start(archive: zipfile.ZipFile, source: Any) -> None:
    """BadZipFile unless the archive's first member starts the file: a zip cut short can show
    the directory of a zip stored inside it, and read as that zip (its other members lost)."""
    members = sorted(archive.infolist(), key=lambda m: m.header_offset)
    if not members:
        return
    if isinstance(source, str):
        with open(source, "rb") as f:
            head = f.read(30 + 1024)
    else:
        source.seek(0)
        head = source.read(30 + 1024)
        source.seek(0)
    first = members[0]
    name_length = int.from_bytes(head[26:28], "little") if len(head) >= 30 else -1
    if (
        not head.startswith(b"PK\x03\x04")
        or first.header_offset != 0
        or (
            head[30 : 30 + name_length] != first.orig_filename.encode("utf-8", "replace")
            and head[30 : 30 + name_length] != first.orig_filename.encode("cp437", "replace")
        )
    ):
        raise zipfile.BadZipFile("its directory does not match its start (cut short?)")


def _head_of(item: InputFile) -> bytes | None:
    """The first bytes of an input file, for a reject of the whole file."""
    if item.is_stdin:
        return None
    try:
        with open(item.path, "rb") as f:
            return f.read(RAW_CAP)
    except OSError:
        return None


def _too_large(
    path: str, data: bytes, size: int, digest: str, max_bytes: int, line: int = 1
) -> Reject:
    return Reject(
        path,
        "too_large",
        f"{size:,} bytes is more than the {max_bytes:,}-byte limit for one document "
        "(--max-document-size); the first bytes are kept",
        data[:RAW_CAP],
        line_number=line,
        raw_size=size,
        raw_sha256=digest,
    )


def _jsonl_units(stream: Guarded, item: InputFile, path: str, max_bytes: int) -> Iterator[Unit]:
    if stream.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
        yield from _record_units(
            "json_items", split_array(stream, path, max_bytes), item, path, max_bytes
        )
        return
    lines: list[bytes] = []
    first = lineno = 1
    size = 0
    share = item.size
    while (line := read_line(stream, max_bytes)) is not None:
        if line.oversized:
            if lines:
                yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), first_line=first)
            reject = Reject(
                path,
                "too_large",
                f"line {lineno}: a record of {line.size:,} bytes is more than the "
                f"{max_bytes:,}-byte limit (--max-document-size); the first bytes are kept",
                line.data if line.size > len(line.data) else line.data.removesuffix(b"\n"),
                line_number=lineno,
                raw_size=line.size if line.size > len(line.data) else None,
                raw_sha256=line.sha256 if line.size > len(line.data) else None,
            )
            yield Unit("reject", path, reject)
            lines, size = [], 0
            lineno += 1
            first = lineno
            continue
        lines.append(line.data)
        size += line.size
        lineno += 1
        if len(lines) >= RECORDS_PER_UNIT or size >= UNIT_BYTES:
            part = min(share, size)
            share -= part
            yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), nbytes=part, first_line=first)
            lines, size, first = [], 0, lineno
    if lines or share:
        yield Unit("jsonl", path, b"".join(lines).rstrip(b"\n"), nbytes=share, first_line=first)


def _record_units(
    fmt: str, records: Iterator[Any], item: InputFile, path: str, max_bytes: int
) -> Iterator[Unit]:
    """Records in units of RECORDS_PER_UNIT (or UNIT_BYTES); each reject a unit of its own."""
    batch: list[Any] = []
    size = 0
    for record in records:
        if isinstance(record, Reject):
            yield Unit("reject", path, record)
            continue
        batch.append(record)
        size += len(record.raw)
        if len(batch) >= RECORDS_PER_UNIT or size >= UNIT_BYTES:
            yield Unit(fmt, path, batch)
            batch, size = [], 0
    yield Unit(fmt, path, batch, nbytes=item.size)
