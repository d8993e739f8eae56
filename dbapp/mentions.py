"""Writing mentions set-based: stage, resolve entities (creating new ones), insert, prune.

Shared by the loader (new documents) and re-extraction (stored documents). Runs inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp import copyrows
from dbapp.extract.base import ExtractedMention
from dbapp.pgcopy import copy_text

STAGING_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS staging_mentions (
    content_sha256 text, document_id bigint, entity_id integer, kind text, name text,
    normalised text, start integer, "end" integer, surface text, role text
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS staging_resolved (
    document_id bigint, entity_id integer, start integer, "end" integer, surface text, role text
) ON COMMIT DELETE ROWS
"""

# Entities the extractor named but the catalogue lacks (byline authors, new places). A name that
# was merged away (entity_redirects) resolves to the entity it was merged into instead.
_NEW_ENTITIES = """
INSERT INTO entities (kind, canonical_name)
SELECT DISTINCT m.kind, m.name FROM staging_mentions m
WHERE m.entity_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM entity_redirects r
                  WHERE r.kind = m.kind AND r.canonical_name = m.name)
ORDER BY 1, 2
ON CONFLICT (kind, canonical_name) DO NOTHING
"""
_NEW_ALIASES = """
INSERT INTO entity_aliases (entity_id, kind, alias, normalised, origin)
SELECT DISTINCT ON (e.kind, m.normalised) e.entity_id, e.kind, m.name, m.normalised, 'extracted'
FROM staging_mentions m JOIN entities e ON e.kind = m.kind AND e.canonical_name = m.name
WHERE m.entity_id IS NULL
ORDER BY e.kind, m.normalised
ON CONFLICT (kind, normalised) DO NOTHING
"""
_RESOLVE = """
INSERT INTO staging_resolved (document_id, entity_id, start, "end", surface, role)
SELECT m.document_id, coalesce(m.entity_id, r.entity_id, e.entity_id), m.start, m."end",
       m.surface, m.role
FROM staging_mentions m
LEFT JOIN entity_redirects r
       ON m.entity_id IS NULL AND r.kind = m.kind AND r.canonical_name = m.name
LEFT JOIN entities e ON m.entity_id IS NULL AND r.entity_id IS NULL
                     AND e.kind = m.kind AND e.canonical_name = m.name
WHERE m.document_id IS NOT NULL
"""
_INSERT = """
INSERT INTO mentions (document_id, entity_id, start, "end", surface, role, extractor,
                      extractor_version)
SELECT document_id, entity_id, start, "end", surface, role, :extractor, :version
FROM staging_resolved
ORDER BY document_id, start, "end", entity_id
ON CONFLICT (document_id, start, "end", entity_id) DO NOTHING
"""
_PRUNE = """
DELETE FROM mentions m
WHERE m.document_id = ANY(:ids) AND m.extractor = :extractor
  AND NOT EXISTS (SELECT 1 FROM staging_resolved s
                  WHERE s.document_id = m.document_id AND s.entity_id = m.entity_id
                    AND s.start = m.start AND s."end" = m."end" AND s.role = m.role)
"""
_RESTAMP = """
UPDATE mentions SET extractor_version = :version
WHERE document_id = ANY(:ids) AND extractor = :extractor AND extractor_version <> :version
"""


# A load's new documents: mentions staged by content hash go straight into `mentions`, each
# with the id its document got (staging_inserted) and its entity resolved, in one statement.
_NEW_DOCUMENTS = (
    "EXISTS (SELECT 1 FROM staging_inserted i WHERE i.content_sha256 = m.content_sha256)"
)
_NEW_ENTITIES_LOADED = _NEW_ENTITIES.replace(
    "WHERE m.entity_id IS NULL", f"WHERE m.entity_id IS NULL AND {_NEW_DOCUMENTS}"
)
_NEW_ALIASES_LOADED = _NEW_ALIASES.replace(
    "WHERE m.entity_id IS NULL", f"WHERE m.entity_id IS NULL AND {_NEW_DOCUMENTS}"
)
# The documents were inserted by this very transaction, so no stored mention can share their
# keys: the staged rows only need to be distinct among themselves (DISTINCT ON, over the sort
# the index wants anyway), which costs far less than ON CONFLICT's check of every row.
_INSERT_LOADED = """
INSERT INTO mentions (document_id, entity_id, start, "end", surface, role, extractor,
                      extractor_version)
SELECT DISTINCT ON (1, 3, 4, 2)
       i.document_id, coalesce(m.entity_id, r.entity_id, e.entity_id), m.start, m."end",
       m.surface, m.role, :extractor, :version
FROM staging_mentions m
JOIN staging_inserted i ON i.content_sha256 = m.content_sha256
LEFT JOIN entity_redirects r
       ON m.entity_id IS NULL AND r.kind = m.kind AND r.canonical_name = m.name
LEFT JOIN entities e ON m.entity_id IS NULL AND r.entity_id IS NULL
                     AND e.kind = m.kind AND e.canonical_name = m.name
ORDER BY 1, 3, 4, 2, m.role, m.surface
"""


def create_staging(conn: Connection) -> None:
    """The session's temporary staging tables (emptied at every commit)."""
    for statement in STAGING_DDL.split(";"):
        conn.execute(text(statement))


def stage(conn: Connection, documents: Iterable[tuple[int, list[ExtractedMention]]]) -> int:
    """COPY stored documents' mentions, as (document_id, mentions), into staging; how many."""
    n = 0
    lines = []
    for document_id, found in documents:
        lines.append(copyrows.mention_rows(document_id, found))
        n += len(found)
    if n:
        copy_text(conn, f"staging_mentions ({copyrows.STORED_MENTION_COLUMNS})", "".join(lines))
    return n


def resolve(conn: Connection) -> None:
    """Create entities for new names and resolve every staged mention to an entity id.

    Staged rows without a document_id (their document was a duplicate) are ignored.
    """
    conn.execute(text("DELETE FROM staging_mentions WHERE document_id IS NULL"))
    conn.execute(text(_NEW_ENTITIES))
    conn.execute(text(_NEW_ALIASES))
    conn.execute(text(_RESOLVE))


def insert_loaded(conn: Connection, extractor: str, version: str) -> int:
    """A load's staged mentions (keyed by content hash) of the documents it inserted
    (``staging_inserted``): new entities created, then every mention inserted; how many."""
    conn.execute(text(_NEW_ENTITIES_LOADED))
    conn.execute(text(_NEW_ALIASES_LOADED))
    params: dict[str, Any] = {"extractor": extractor, "version": version}
    return max(conn.execute(text(_INSERT_LOADED), params).rowcount, 0)


def insert(conn: Connection, extractor: str, version: str) -> int:
    """Insert resolved mentions not already there; returns how many were added."""
    params: dict[str, Any] = {"extractor": extractor, "version": version}
    return max(conn.execute(text(_INSERT), params).rowcount, 0)


def prune(conn: Connection, document_ids: list[int], extractor: str, version: str) -> int:
    """Delete this extractor's mentions of these documents that it no longer finds."""
    params: dict[str, Any] = {"ids": document_ids, "extractor": extractor, "version": version}
    removed = max(conn.execute(text(_PRUNE), params).rowcount, 0)
    conn.execute(text(_RESTAMP), params)
    return removed
