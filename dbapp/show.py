"""One document as stored: its metadata, source, load, full text and every mention in it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import NotFound


@dataclass(frozen=True)
class ShownMention:
    """A mention with its offsets into the body (``body[start:end] == surface``)."""

    start: int
    end: int
    surface: str
    kind: str
    entity_id: int
    entity: str
    external_id: str | None
    role: str


@dataclass(frozen=True)
class ShownDocument:
    """What ``dbapp show`` prints."""

    document_id: int
    metadata: dict[str, Any]
    body: str
    mentions: list[ShownMention]

    def as_dict(self) -> dict[str, Any]:
        meta = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in self.metadata.items()}
        return {
            "document_id": self.document_id,
            **meta,
            "body": self.body,
            "mentions": [m.__dict__ for m in self.mentions],
        }


DOCUMENT = """
SELECT d.document_id, d.title, d.published_on, s.name AS source, d.author, d.dateline,
       d.url, d.external_id, d.language, d.char_count, d.word_count, d.content_sha256,
       d.origin_path, d.origin_line, d.load_id, l.started_at AS loaded_at, d.body
FROM documents d
JOIN sources s ON s.source_id = d.source_id
LEFT JOIN loads l ON l.load_id = d.load_id
WHERE d.document_id = :id
"""
MENTIONS = """
SELECT m.start, m."end", m.surface, e.kind, e.entity_id, e.canonical_name, e.external_id, m.role
FROM mentions m JOIN entities e ON e.entity_id = m.entity_id
WHERE m.document_id = :id
ORDER BY m.start, m."end", e.canonical_name
"""


def show_document(conn: Connection, document_id: int) -> ShownDocument:
    """The document ``document_id`` with its mentions in text order."""
    row = conn.execute(text(DOCUMENT), {"id": document_id}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"no document {document_id} (ids are in search and report output)")
    meta = {k: v for k, v in row.items() if k not in ("document_id", "body")}
    mentions = [ShownMention(*m) for m in conn.execute(text(MENTIONS), {"id": document_id}).all()]
    return ShownDocument(int(row["document_id"]), meta, str(row["body"]), mentions)
