"""Initial bulk loads: build secondary indexes and check mention foreign keys once, at the end.

PostgreSQL's advice for populating a database: maintaining indexes and checking foreign keys
row by row costs far more than building and validating them in one pass afterwards. Only a load
into an empty ``documents`` table does this, under an advisory lock so one loader at a time. If
such a load dies, the next load (or ``dbapp db upgrade``/``restore``) puts them back; search and
reports work meanwhile, only slower. The summary tables behind the report views are deferred the
same way: marked stale, rebuilt at the end.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp import summaries
from dbapp.ledger import LOCK_NAMESPACE
from dbapp.locks import within_lock_wait

BULK_LOCK = summaries.BULK_LOCK  # (LOCK_NAMESPACE, 0): "a bulk load owns the deferred indexes"
_LOCK = {"ns": LOCK_NAMESPACE, "k": BULK_LOCK}
# The same definitions as the migrations; tests check the schema has no drift after a bulk load.
DEFERRED_INDEXES = {
    "ix_documents_search_vector": "documents USING gin (search_vector)",
    "ix_documents_external_id": "documents (external_id)",
    "ix_documents_published_on": "documents (published_on)",
    "ix_documents_load_id": "documents (load_id)",
    "ix_documents_source_id_published_on": "documents (source_id, published_on)",
    "ix_mentions_entity_id_document_id": "mentions (entity_id, document_id)",
}
DEFERRED_FOREIGN_KEYS = {
    "fk_mentions_document_id_documents": (
        "mentions",
        "FOREIGN KEY (document_id) REFERENCES documents (document_id) ON DELETE CASCADE",
    ),
    "fk_mentions_entity_id_entities": (
        "mentions",
        "FOREIGN KEY (entity_id) REFERENCES entities (entity_id) ON DELETE CASCADE",
    ),
}
BUILD_MEMORY = "512MB"
DROP_WAIT = "5s"


def missing(conn: Connection) -> list[str]:
    """Deferred indexes and foreign keys that are not there now."""
    present = set(
        conn.scalars(text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"))
    ) | set(
        conn.scalars(
            text(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = current_schema() AND c.contype = 'f'"
            )
        )
    )
    return [name for name in (*DEFERRED_INDEXES, *DEFERRED_FOREIGN_KEYS) if name not in present]


def _build(conn: Connection, names: list[str]) -> None:
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
    for name in names:
        if name in DEFERRED_INDEXES:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {DEFERRED_INDEXES[name]}"))
        else:
            table, definition = DEFERRED_FOREIGN_KEYS[name]
            conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))


def restore(conn: Connection) -> list[str]:
    """Put back what a dead bulk load left missing or stale (unless a bulk load is running)."""
    gone = missing(conn)
    stale = summaries.stale_reason(conn)
    if not gone and not stale:
        return []
    if summaries.bulk_load_running(conn):
        return []
    _build(conn, gone)
    if stale:
        summaries.rebuild(conn)
        gone.append("summary tables")
    return gone


def begin_bulk(conn: Connection) -> bool:
    """Drop the deferred indexes and keys if ``documents`` is empty and no bulk load runs.

    Holds a session lock until :func:`release`; returns whether bulk mode is on.
    """
    if not conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :k)"), _LOCK):
        return False
    if conn.scalar(text("SELECT EXISTS (SELECT 1 FROM documents)")):
        conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), _LOCK)
        return False

    def drop() -> None:
        for name, (table, _) in DEFERRED_FOREIGN_KEYS.items():
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"))
        for name in DEFERRED_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))

    # Dropping needs exclusive locks; a reader's open transaction must not stall the load
    # forever: after a short wait it loads without bulk mode instead.
    if not within_lock_wait(conn, DROP_WAIT, drop):
        conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), _LOCK)
        return False
    # Its writers skip the summary triggers; the summaries are rebuilt at the end (or by the
    # next load, if this one dies).
    summaries.mark_stale(conn, "a bulk load builds them at its end")
    return True


def end_bulk(conn: Connection) -> None:
    """Build the deferred indexes, validate the keys, gather statistics (the lock stays held
    until :func:`release`, after the summaries are rebuilt)."""
    _build(conn, missing(conn))
    # Autovacuum would get to it later; the first queries after a big load need plans now.
    conn.execute(text("ANALYZE documents, mentions"))


def release(conn: Connection) -> None:
    """Bulk mode is over: another load may heal or start one."""
    conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), _LOCK)
