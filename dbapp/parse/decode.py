"""Bytes to text, strictly: invalid UTF-8, NUL bytes and binary data are rejects, never guesses."""

from __future__ import annotations

from dbapp.parse.records import Reject

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
