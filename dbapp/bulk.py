"""Initial bulk loads: build the heaviest secondary indexes once at the end, not row by row.

Only a load into an empty ``documents`` table does this, under an advisory lock so one loader at
a time. If such a load dies, the indexes are missing until the next load (or ``restore``)
rebuilds them; search and reports still work meanwhile, only slower.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.ledger import LOCK_NAMESPACE

BULK_LOCK = 0  # (LOCK_NAMESPACE, 0): "a bulk load owns the deferred indexes"
# The same definitions as the migrations (tests compare the schema after a bulk load).
DEFERRED_INDEXES = {
    "ix_documents_search_vector": (
        "CREATE INDEX IF NOT EXISTS ix_documents_search_vector ON documents "
        "USING gin (search_vector)"
    ),
    "ix_mentions_entity_id_document_id": (
        "CREATE INDEX IF NOT EXISTS ix_mentions_entity_id_document_id ON mentions "
        "(entity_id, document_id)"
    ),
}
BUILD_MEMORY = "512MB"


def missing_indexes(conn: Connection) -> list[str]:
    present = set(
        conn.scalars(text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"))
    )
    return [name for name in DEFERRED_INDEXES if name not in present]


def _build(conn: Connection, names: list[str]) -> None:
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
    for name in names:
        conn.execute(text(DEFERRED_INDEXES[name]))


def restore_indexes(conn: Connection) -> list[str]:
    """Rebuild indexes a dead bulk load left missing (unless a bulk load is running)."""
    missing = missing_indexes(conn)
    if not missing:
        return []
    owned = conn.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": BULK_LOCK}
    )
    if not owned:
        return []
    _build(conn, missing)
    return missing


def begin_bulk(conn: Connection) -> bool:
    """Drop the deferred indexes if ``documents`` is empty and no other bulk load runs.

    Holds a session lock until :func:`end_bulk`; returns whether bulk mode is on.
    """
    got = conn.scalar(
        text("SELECT pg_try_advisory_lock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": BULK_LOCK}
    )
    if not got:
        return False
    if conn.scalar(text("SELECT EXISTS (SELECT 1 FROM documents)")):
        conn.execute(
            text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": BULK_LOCK}
        )
        return False
    for name in DEFERRED_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    return True


def end_bulk(conn: Connection) -> None:
    """Build the deferred indexes and release the bulk lock."""
    _build(conn, missing_indexes(conn))
    conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": BULK_LOCK})
