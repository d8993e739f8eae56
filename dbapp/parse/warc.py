"""WARC archives (CC-NEWS style): records cut from the stream, HTML responses made documents.

Records are cut here by their headers' Content-Length, with bounded memory, so one corrupt
record (a wrong length, a broken header) becomes a reject with its bytes and the reader
resynchronises on the next ``WARC/1.x`` line: the rest of the archive still loads. Each record
is then parsed by fastwarc (HTTP headers, chunked and compressed payloads) in the parser
processes. Responses that are not HTML, or not status 200, and other record types (requests,
metadata) are counted, not rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dbapp.parse.dates import parse_date
from dbapp.parse.records import Reject
from dbapp.parse.stream import CHUNK, RAW_CAP, Capped

MAX_HEADER = 64 * 1024
_START = re.compile(rb"(?:\A|\n)(WARC/1\.[01]\r?\n)")
_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d{1,15})[ \t]*\r?$", re.M | re.I)
_TYPE = re.compile(rb"^WARC-Type:[ \t]*(\S+)", re.M | re.I)

# Counts (unit warnings), not rejects: what a news crawl holds besides articles.
WARC_NOT_HTML = "warc_not_html"
WARC_NOT_200 = "warc_not_200"
WARC_OTHER_RECORDS = "warc_other_records"


@dataclass(frozen=True, slots=True)
class WarcChunk:
    """One WARC record's exact bytes and its number in the archive (1-based)."""

    raw: bytes
    number: int
    record_type: str


class _Buffer:
    """Pushback buffer over a binary stream: the splitter reads ahead and gives back."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.data = b""
        self.eof = False

    def fill(self, n: int) -> bool:
        read = getattr(self.stream, "read1", self.stream.read)
        while len(self.data) < n and not self.eof:
            chunk = read(CHUNK)
            if not chunk:
                self.eof = True
            self.data += chunk
        return len(self.data) >= n

    def take(self, n: int) -> bytes:
        part, self.data = self.data[:n], self.data[n:]
        return part


def split_warc(stream: Any, path: str, max_bytes: int) -> Iterator[WarcChunk | Reject]:
    """Every record of a WARC stream, in order; corrupt stretches and oversized records are
    rejects (with their first bytes, size and digest)."""
    buf = _Buffer(stream)
    number = 0
    while True:
        buf.fill(MAX_HEADER)
        # Blank lines between records (an extra CRLF) are tolerated.
        blank = len(buf.data) - len(buf.data.lstrip(b"\r\n"))
        if blank:
            buf.take(blank)
            buf.fill(MAX_HEADER)
        if not buf.data.strip():
            return
        number += 1
        if not buf.data.startswith(b"WARC/1."):
            yield _garbage(buf, path, number, "no WARC record starts here")
            continue
        crlf, lf = buf.data.find(b"\r\n\r\n"), buf.data.find(b"\n\n")
        end = crlf if crlf >= 0 and (lf < 0 or crlf < lf) else lf
        length = _LENGTH.search(buf.data, 0, end if end >= 0 else 0)
        if end < 0 or length is None:
            yield _garbage(buf, path, number, "a record header without a valid Content-Length")
            continue
        header_size = end + (4 if end == crlf else 2)
        size = header_size + int(length.group(1))
        kind = _TYPE.search(buf.data, 0, end)
        record_type = kind.group(1).decode("ascii", "replace").lower() if kind else "unknown"
        if size > max_bytes:
            yield _oversized(buf, path, number, size, max_bytes)
            continue
        if not buf.fill(size + 2):
            # Shorter than its length says: a lying length, or the archive breaks off here.
            yield _garbage(buf, path, number, "its Content-Length runs past the end of the archive")
            continue
        # A record ends with a blank line and the next starts with WARC/: else its length lies.
        buf.fill(size + 16)
        trailer = buf.data[size : size + 4]
        gap = 4 if trailer == b"\r\n\r\n" else 2 if trailer.startswith(b"\n\n") else 0
        following = buf.data[size + gap :].lstrip(b"\r\n")[:8]
        if not gap or (following and not following.startswith(b"WARC/1.")):
            yield _garbage(buf, path, number, "its Content-Length does not match its content")
            continue
        raw = buf.take(size)
        buf.take(gap)
        if kind is None:  # a record must say what it is
            yield Reject(path, "corrupt_warc_record", f"record {number}: no WARC-Type header",
                         raw, record_number=number)  # fmt: skip
            continue
        yield WarcChunk(raw, number, record_type)


def _resync(buf: _Buffer) -> Capped:
    """Consume up to the next ``WARC/1.x`` line after the current position."""
    capped = Capped()
    searched = 1  # never the record start we are on
    while True:
        m = _START.search(buf.data, searched)
        if m is not None:
            capped.add(buf.take(m.start(1)))
            return capped
        if buf.eof:
            capped.add(buf.take(len(buf.data)))
            return capped
        keep = 16  # a boundary may straddle two chunks
        capped.add(buf.take(max(0, len(buf.data) - keep)))
        searched = 0 if len(buf.data) <= keep else 1
        buf.fill(len(buf.data) + CHUNK)


def _garbage(buf: _Buffer, path: str, number: int, why: str) -> Reject:
    capped = _resync(buf)
    after = "; the reader went on from the next record" if buf.data.strip() else ""
    return Reject(
        path,
        "corrupt_warc_record",
        f"record {number}: {why}{after}",
        capped.raw,
        record_number=number,
        raw_size=capped.size,
        raw_sha256=capped.sha256,
    )


_BOUNDARY = re.compile(rb"\r?\n\r?\n(?=WARC/1\.[01]\r?\n)")


def _oversized(buf: _Buffer, path: str, number: int, size: int, max_bytes: int) -> Reject:
    """Skip a record over the limit, keeping its first bytes. Should another record start
    inside its claimed length, the length lied: the skip stops there and reading goes on."""
    capped = Capped()
    left = size
    while left > 0:
        filled = buf.fill(min(left, CHUNK) + 16)
        boundary = _BOUNDARY.search(buf.data, 1 if capped.size == 0 else 0, min(left, CHUNK) + 16)
        if boundary is not None and boundary.start() < left:
            capped.add(buf.take(boundary.start()))
            buf.take(boundary.end() - boundary.start())
            return Reject(
                path,
                "corrupt_warc_record",
                f"record {number}: its Content-Length ({size:,} bytes) runs into the next "
                "record; the reader went on from there",
                capped.raw,
                record_number=number,
                raw_size=capped.size,
                raw_sha256=capped.sha256,
            )
        if not filled:
            capped.add(buf.take(len(buf.data)))
            break
        part = buf.take(min(left, len(buf.data) - 16, CHUNK) if len(buf.data) > 16 else left)
        capped.add(part)
        left -= len(part)
    buf.fill(4)
    if buf.data.startswith(b"\r\n\r\n"):
        buf.take(4)
    return Reject(
        path,
        "too_large",
        f"record {number}: {size:,} bytes is more than the {max_bytes:,}-byte limit "
        "(--max-document-size); the first bytes are kept",
        capped.raw,
        record_number=number,
        raw_size=capped.size,
        raw_sha256=capped.sha256,
    )


@dataclass(frozen=True, slots=True)
class WarcPage:
    """An HTML response of a WARC archive: the page's bytes, its URL and fetch date."""

    html: bytes
    url: str | None
    fetched: dt.date | None
    number: int


def read_record(chunk: WarcChunk, path: str, max_bytes: int = 5_000_000) -> WarcPage | Reject | str:
    """An HTML page from a response record; else the warning code to count it under, or a
    reject when fastwarc cannot read it or its page (decompressed) is over ``max_bytes``."""
    if chunk.record_type != "response":
        return WARC_OTHER_RECORDS
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    try:
        records = ArchiveIterator(
            io.BytesIO(chunk.raw + b"\r\n\r\n"),
            record_types=WarcRecordType.response,
            parse_http=True,
            auto_decode="all",
        )
        record = next(iter(records), None)
        if record is None:
            raise OSError("not a response record fastwarc can read")
        if not record.is_http or record.http_headers is None:
            return WARC_NOT_HTML
        if record.http_headers.status_code != 200:
            return WARC_NOT_200
        content_type = (record.http_content_type or "").lower()
        if content_type and "html" not in content_type:
            return WARC_NOT_HTML
        # Decompressed (Content-Encoding), a small record may hold a huge page: read no more
        # than the limit allows.
        html = record.reader.read(max_bytes + 1)
        if len(html) > max_bytes:
            return Reject(
                path,
                "too_large",
                f"record {chunk.number}: its page is more than the {max_bytes:,}-byte limit "
                "once decompressed (--max-document-size); the record's first bytes are kept",
                chunk.raw[:RAW_CAP],
                record_number=chunk.number,
                raw_size=len(chunk.raw),
                raw_sha256=hashlib.sha256(chunk.raw).hexdigest(),
            )
        url = record.headers.get("WARC-Target-URI")
        fetched, _ = parse_date(record.record_date.date() if record.record_date else None)
    except (OSError, ValueError) as exc:
        return Reject(
            path,
            "corrupt_warc_record",
            f"record {chunk.number}: {exc}",
            chunk.raw,
            record_number=chunk.number,
        )
    return WarcPage(html, url, fetched, chunk.number)
