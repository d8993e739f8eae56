"""Rows in PostgreSQL's COPY text format, built where the data is: in the parser processes.

A load ships each document to the database writer as two ready-made strings (its row and its
mentions' rows) instead of hundreds of Python objects: pickling and row formatting were the
loader's busiest single-threaded work.
"""

from __future__ import annotations

import datetime as dt

from dbapp.catalogue import normalise_alias
from dbapp.extract.base import ExtractedMention
from dbapp.parse.records import ParsedDocument, word_count

NULL = "\\N"
DEFAULT_LANGUAGE = "en"
DOCUMENT_COLUMNS = (
    "source_name, external_id, content_sha256, published_on, dateline, dateline_place, "
    "dateline_country, author, title, url, body, language, char_count, word_count, "
    "origin_path, origin_line, original_sha256, original_bytes"
)
TAG_COLUMNS = "content_sha256, vocabulary, tag"
_MENTION_FIELDS = 'entity_id, kind, name, normalised, start, "end", surface, role'
MENTION_COLUMNS = f"content_sha256, {_MENTION_FIELDS}"  # a new document's, by its hash
STORED_MENTION_COLUMNS = f"document_id, {_MENTION_FIELDS}"  # a stored document's


def field(value: str | int | dt.date | None) -> str:
    """One value; backslash, newline, CR and tab escaped (so no row can end early)."""
    if value is None:
        return NULL
    if isinstance(value, str):
        value = value.replace("\\", "\\\\").replace("\n", "\\n")
        return value.replace("\r", "\\r").replace("\t", "\\t")
    return str(value)  # int, or a date as YYYY-MM-DD


def row(*values: str | int | dt.date | None) -> str:
    return "\t".join(map(field, values)) + "\n"


def document_row(d: ParsedDocument) -> str:
    """``d`` as a row of DOCUMENT_COLUMNS."""
    return row(
        d.source_name, d.external_id, d.sha256, d.published_on, d.dateline, d.dateline_place,
        d.dateline_country, d.author, d.title, d.url, d.body, d.language or DEFAULT_LANGUAGE,
        len(d.body), word_count(d.body), d.origin_path, d.origin_line, d.original_sha256,
        d.original_bytes,
    )  # fmt: skip


def tag_rows(key: str, tags: list[tuple[str, str]]) -> str:
    """A document's tags as rows of TAG_COLUMNS (``key`` = its sha256)."""
    return "".join(row(key, vocabulary, tag) for vocabulary, tag in tags)


def mention_rows(key: str | int, mentions: list[ExtractedMention]) -> str:
    """A document's mentions as rows of MENTION_COLUMNS (``key`` = its sha256) or of
    STORED_MENTION_COLUMNS (``key`` = its document_id).

    Written out by hand (a hot loop): kind and role are fixed words, the rest goes through
    :func:`field`.
    """
    lines = []
    for m in mentions:
        # A catalogue entity's name is not needed: only a new one's is (to create it).
        if m.entity_id is None:
            entity, name, normalised = NULL, field(m.name), field(normalise_alias(m.name))
        else:
            entity, name, normalised = str(m.entity_id), NULL, NULL
        lines.append(
            f"{key}\t{entity}\t{m.kind}\t{name}\t{normalised}\t{m.start}\t{m.end}\t"
            f"{field(m.surface)}\t{m.role}\n"
        )
    return "".join(lines)
