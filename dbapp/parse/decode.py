"""Bytes to text: UTF-8, else the charset the input declares, else cp1252 (with a warning);
NUL bytes, binary data and bytes no such reading accepts are rejects."""

from __future__ import annotations

import codecs
import re

from dbapp.errors import InputError
from dbapp.parse.records import Reject

ENCODING_FALLBACK = "encoding_fallback"  # warning: the text was not UTF-8, read as ... instead
FALLBACK = "cp1252"  # what undeclared non-UTF-8 news text almost always is (Latin-1's superset)
# <meta charset="...">, <meta http-equiv="Content-Type" content="text/html; charset=...">,
# <?xml version="1.0" encoding="..."?>
_DECLARED = re.compile(
    rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{2,40})""", re.IGNORECASE
)

# Control characters other than tab/newline/CR/form feed; a text with many is binary.
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13))
BINARY_CONTROL_RATIO = 0.05


def line_of(raw: bytes, offset: int) -> int:
    """1-based line number of a byte offset."""
    return raw.count(b"\n", 0, offset) + 1


def decode_text(
    raw: bytes, path: str, first_line: int = 1, record: int | None = None
) -> str | Reject:
    """Decode UTF-8 (a BOM is fine); reject binary data, NULs and invalid bytes with their line."""
    sample = raw[:8192]
    # _CONTROL includes NUL; one stray NUL in a text is reported as such, not as binary.
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if sample and (controls / len(sample) > BINARY_CONTROL_RATIO or sample.count(0) > 1):
        return Reject(
            path,
            "binary",
            "binary data, not text",
            raw,
            line_number=first_line,
            record_number=record,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + line_of(raw, exc.start) - 1
        bad = raw[exc.start : exc.start + 4].hex(" ")
        return Reject(
            path,
            "invalid_utf8",
            f"invalid UTF-8 at byte {exc.start} (line {line}): {bad}",
            raw,
            line_number=line,
            record_number=record,
        )
    if "\x00" in text:
        line = first_line + line_of(raw, raw.index(b"\x00")) - 1
        return Reject(
            path,
            "nul_character",
            f"NUL character at line {line} (PostgreSQL text cannot hold it)",
            raw,
            line_number=line,
            record_number=record,
        )
    return text


def _text_codec(name: str) -> str | None:
    """The canonical name of a codec that turns bytes into text (not base64, zlib, rot13...)."""
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # bytes.decode refuses "'base64' is not a text encoding" (but only given some bytes)
    return codec.name if getattr(codec, "_is_text_encoding", True) else None


def check_encoding(name: str) -> str:
    """The codec's canonical name; InputError for an unknown one or one that is not text."""
    found = _text_codec(name.strip())
    if found is None:
        raise InputError(
            f"--encoding: {name!r} is not a text encoding Python knows (e.g. utf-8, cp1252, "
            "latin-1)"
        )
    return found


def declared_charset(head: bytes) -> str | None:
    """The charset an HTML or XML document declares in its first bytes, if Python knows it."""
    m = _DECLARED.search(head[:4096])
    if m is None:
        return None
    name = _text_codec(m.group(1).decode("ascii", "replace"))
    # A declaration read as ASCII cannot be true of UTF-16 or UTF-32 text (those have a BOM).
    if name is None or name.startswith(("utf-16", "utf-32")):
        return None
    return name


def decode_input(
    raw: bytes,
    path: str,
    first_line: int = 1,
    record: int | None = None,
    encoding: str | None = None,
    declared: str | None = None,
) -> tuple[str, str | None] | Reject:
    """``(text, warning)``: ``raw`` read as ``encoding`` when the user gave one; else as UTF-8,
    falling back to the ``declared`` charset or cp1252 with a warning that says so. Binary
    data, NULs and bytes no reading accepts are rejects, with their line."""
    if encoding is None or codecs.lookup(encoding).name == "utf-8":
        text = decode_text(raw, path, first_line, record)
        if not isinstance(text, Reject) or text.code != "invalid_utf8":
            return text if isinstance(text, Reject) else (text, None)
        utf8_problem = text
        for candidate in dict.fromkeys(c for c in (declared, FALLBACK) if c and c != "utf-8"):
            try:
                decoded = raw.decode(candidate)
            except (UnicodeDecodeError, LookupError):
                continue
            why = utf8_problem.message.split(":")[0]
            return decoded, f"{why}: read as {candidate}" + (
                " (as declared)" if candidate == declared else ""
            )
        return utf8_problem
    try:
        decoded = raw.decode(encoding)
        if "\x00" in decoded:
            return Reject(
                path,
                "nul_character",
                "NUL character (PostgreSQL text cannot hold it)",
                raw,
                line_number=first_line,
                record_number=record,
            )
        return decoded, None
    except UnicodeDecodeError as exc:
        line = first_line + line_of(raw, exc.start) - 1
        bad = raw[exc.start : exc.start + 4].hex(" ")
        return Reject(
            path,
            "invalid_encoding",
            f"not valid {encoding} at byte {exc.start} (line {line}): {bad}",
            raw,
            line_number=line,
            record_number=record,
        )
