"""Reading inputs with bounded memory: capped lines and records, and streams that end cleanly.

Every reader takes its input through these helpers, so no input, whatever its size or
compression ratio, makes dbapp hold more than about one document's worth of it at a time.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

RAW_CAP = 1024 * 1024  # the most bytes of an oversized record a reject keeps
CHUNK = 1 << 20
READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile)


class Capped:
    """Collects a record's bytes up to a cap, while counting and hashing all of them."""

    def __init__(self, cap: int = RAW_CAP) -> None:
        self.cap = cap
        self.kept: list[bytes] = []
        self.kept_size = 0
        self.size = 0
        self.newlines = 0
        self.digest = hashlib.sha256()

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.newlines += data.count(b"\n")
        self.digest.update(data)
        room = self.cap - self.kept_size
        if room > 0:
            part = data[:room]
            self.kept.append(part)
            self.kept_size += len(part)

    @property
    def raw(self) -> bytes:
        return b"".join(self.kept)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


class Guarded:
    """A binary stream that turns a read failure (truncated gzip, I/O error) into end of input.

    The failure is kept in ``error``; ``lines`` counts the complete lines delivered, so the
    caller can say where the input broke off and still use everything read before.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.error: BaseException | None = None
        self.delivered = 0
        self.newlines = 0

    def _note(self, data: bytes) -> bytes:
        self.delivered += len(data)
        self.newlines += data.count(b"\n")
        return data

    def _guard(self, method: str, n: int, note: bool = True) -> bytes:
        if self.error is not None:
            return b""
        try:
            data: bytes = getattr(self._stream, method)(n)
        except READ_ERRORS as exc:
            self.error = exc
            return b""
        return self._note(data) if note else data

    def read(self, n: int = -1) -> bytes:
        return self._guard("read", n)

    def readline(self, n: int = -1) -> bytes:
        return self._guard("readline", n)

    def read1(self, n: int = -1) -> bytes:
        """What is ready, up to ``n`` bytes: a gzip member's data comes before a break in the
        next is found (``read`` would lose the whole request to the break)."""
        return self._guard("read1" if hasattr(self._stream, "read1") else "read", n)

    def peek(self, n: int = 1) -> bytes:
        return self._guard("peek", n, note=False)

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line (with its newline), or its first bytes when it is over the limit."""

    data: bytes
    size: int  # the whole line's size
    sha256: str | None = None  # set when ``data`` is only a prefix

    @property
    def oversized(self) -> bool:
        return self.sha256 is not None


def read_line(stream: Any, limit: int) -> Line | None:
    """The next line, holding at most ``limit`` bytes of it in memory (None at the end)."""
    data = stream.readline(limit + 1)
    if not data:
        return None
    if len(data) <= limit or data.endswith(b"\n"):
        return Line(data, len(data))
    capped = Capped()
    capped.add(data)
    while not data.endswith(b"\n"):
        data = stream.readline(CHUNK)
        if not data:
            break
        capped.add(data)
    return Line(capped.raw, capped.size, capped.sha256)


def read_capped(stream: Any, limit: int) -> tuple[bytes, int, str | None]:
    """Everything left in ``stream`` if it is at most ``limit`` bytes: ``(data, size, None)``.

    Otherwise the first RAW_CAP bytes, the true size and the digest (reading on in chunks).
    """
    data = stream.read(limit + 1)
    if len(data) <= limit:
        return data, len(data), None
    capped = Capped()
    capped.add(data)
    del data
    while chunk := stream.read(CHUNK):
        capped.add(chunk)
    return capped.raw, capped.size, capped.sha256


_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def wide_encoding(head: bytes) -> str | None:
    """``utf-16``/``utf-32`` when the input starts with that byte-order mark, else None."""
    for bom, name in _UTF16_32_BOMS:
        if head.startswith(bom):
            return name
    return None


class _Transcoded(io.RawIOBase):
    """UTF-8 bytes of a UTF-16/32 stream (undecodable units become U+FFFD, counted)."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._stream = stream
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._eof:
            chunk = self._stream.read(CHUNK)
            self._eof = not chunk
            self._pending = self._decoder.decode(chunk, final=self._eof).encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()


def transcoded(stream: BinaryIO, encoding: str) -> io.BufferedReader:
    """A buffered UTF-8 view of a UTF-16 or UTF-32 stream."""
    return io.BufferedReader(_Transcoded(stream, encoding), CHUNK)


def iter_chunks(stream: Any, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
