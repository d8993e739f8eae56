"""The summary tables behind the report views: checked, rebuilt, deferred for bulk loads.

Triggers (migration 0008) keep them exact in the transaction of every change. This module
checks them against a recomputation from scratch, rebuilds them, and lets a bulk first load
defer them to its end (like its indexes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import Busy
from dbapp.ledger import LOCK_NAMESPACE

# The settings name the triggers read: 'on' on a connection makes them skip (see bulk loads).
DEFER_SETTING = "dbapp.defer_summaries"
BULK_LOCK = 0  # (LOCK_NAMESPACE, 0), held by a bulk load (see dbapp.bulk)
EXAMPLES = 10

# Recomputed from documents and mentions, independently of the triggers' arithmetic.
_EXPECTED_DAYS = """
CREATE TEMPORARY TABLE expected_entity_days ON COMMIT DROP AS
SELECT m.entity_id, d.source_id, d.published_on AS day, count(*)::integer AS mentions,
       count(DISTINCT m.document_id)::integer AS documents
FROM mentions m JOIN documents d USING (document_id)
WHERE m.role <> 'byline'
GROUP BY 1, 2, 3
"""
# table -> (key columns, expected rows in the table's column order)
_EXPECTED: dict[str, tuple[tuple[str, ...], str]] = {
    "summary_source_days": (
        ("source_id", "day"),
        "SELECT source_id, published_on, count(*)::integer, coalesce(sum(word_count), 0)::bigint "
        "FROM documents GROUP BY 1, 2",
    ),
    "summary_entity_days": (
        ("entity_id", "source_id", "day"),
        "SELECT entity_id, source_id, day, mentions, documents FROM expected_entity_days",
    ),
    "summary_entity_months": (
        ("entity_id", "source_id", "month"),
        "SELECT entity_id, source_id, date_trunc('month', day)::date, sum(mentions)::bigint, "
        "sum(documents)::bigint FROM expected_entity_days GROUP BY 1, 2, 3",
    ),
    "summary_entity_years": (
        ("entity_id", "source_id", "year"),
        "SELECT entity_id, source_id, date_trunc('year', day)::date, sum(documents)::bigint "
        "FROM expected_entity_days GROUP BY 1, 2, 3",
    ),
    "summary_entity_sources": (
        ("entity_id", "source_id"),
        "SELECT entity_id, source_id, sum(mentions)::bigint, sum(documents)::bigint, min(day), "
        "max(day) FROM expected_entity_days GROUP BY 1, 2",
    ),
    "summary_source_entity_counts": (
        ("source_id", "grain", "period"),
        "SELECT source_id, 'month', date_trunc('month', day)::date, "
        "count(DISTINCT entity_id)::integer FROM expected_entity_days GROUP BY 1, 3 "
        "UNION ALL SELECT source_id, 'year', date_trunc('year', day)::date, "
        "count(DISTINCT entity_id)::integer FROM expected_entity_days GROUP BY 1, 3",
    ),
    "summary_entities": (
        ("entity_id",),
        "SELECT entity_id, sum(mentions)::bigint, sum(documents)::bigint "
        "FROM expected_entity_days GROUP BY 1",
    ),
    "summary_entity_pairs": (
        ("entity_a_id", "entity_b_id"),
        "WITH de AS (SELECT DISTINCT document_id, entity_id FROM mentions "
        "WHERE role <> 'byline') SELECT a.entity_id, b.entity_id, count(*)::integer FROM de a "
        "JOIN de b ON b.document_id = a.document_id AND a.entity_id < b.entity_id GROUP BY 1, 2",
    ),
}
TABLES = tuple(_EXPECTED)


@dataclass
class TableCheck:
    """One summary table against its recomputation."""

    table: str
    rows: int
    differing: int  # keys whose stored row is wrong, missing or extra
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CheckResult:
    tables: list[TableCheck]
    stale: str | None  # why the summaries are marked stale, if they are

    @property
    def ok(self) -> bool:
        return self.stale is None and not any(t.differing for t in self.tables)


def stale_reason(conn: Connection) -> str | None:
    """Why the summaries are marked stale (a bulk load defers them), or None."""
    row = conn.execute(text("SELECT stale, reason FROM summary_state")).first()
    return (row.reason or "marked stale") if row is not None and row.stale else None


def mark_stale(conn: Connection, reason: str) -> None:
    conn.execute(
        text("UPDATE summary_state SET stale = true, reason = :r, marked_at = now()"), {"r": reason}
    )


def defer(conn: Connection) -> None:
    """This connection's changes skip the summary triggers until it closes (bulk loads)."""
    conn.execute(text(f"SELECT set_config('{DEFER_SETTING}', 'on', false)"))


def rebuild(conn: Connection) -> None:
    """Recompute every summary table (writers wait; readers keep reading the old rows)."""
    conn.execute(text("SELECT summary_rebuild()"))


# The rebuild's two halves (migration 0012): a bulk load runs them at once, each in a
# transaction of its own, then marks the summaries fresh.
REBUILD_PARTS = ("summary_rebuild_counts", "summary_rebuild_pairs")


def rebuild_part(conn: Connection, part: str) -> None:
    """One half of :func:`rebuild`; the summaries stay marked stale."""
    if part not in REBUILD_PARTS:
        raise ValueError(part)
    conn.execute(text(f"SELECT {part}()"))


def mark_fresh(conn: Connection) -> None:
    """Both halves have committed: the summaries are exact again."""
    conn.execute(text("UPDATE summary_state SET stale = false, reason = NULL, marked_at = now()"))


def bulk_load_running(conn: Connection) -> bool:
    """Whether a bulk load holds its lock; if not, this transaction holds it (so none starts)."""
    return not conn.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": BULK_LOCK}
    )


def repair(conn: Connection) -> None:
    """:func:`rebuild`, unless a bulk load runs: it defers the summaries and rebuilds them at
    its end, and a rebuild now would be overtaken by its later batches."""
    if bulk_load_running(conn):
        raise Busy(
            "a bulk load is running: it rebuilds the summaries at its end (or the next load "
            "does, if it dies); repair after it"
        )
    rebuild(conn)


def check(conn: Connection) -> CheckResult:
    """Compare every summary table with a recomputation from documents and mentions.

    Run it in a REPEATABLE READ transaction (see :func:`check_snapshot`): the stored summaries
    and the data they summarise are then read at the same instant, even while loads commit.
    """
    from dbapp.locks import on_replica

    # A hot standby cannot hold temporary tables: there, each comparison recomputes the
    # per-day figures itself (slower, same answer).
    inline = on_replica(conn)
    if not inline:
        conn.execute(text(_EXPECTED_DAYS))
    days = "(" + _EXPECTED_DAYS.split(" AS\n", 1)[1] + ") expected_entity_days"
    results = []
    for table, (keys, expected) in _EXPECTED.items():
        if inline:
            expected = expected.replace("FROM expected_entity_days", f"FROM {days}")
        diff = f"""
            WITH e AS ({expected}),
            d AS ((SELECT * FROM {table} EXCEPT ALL SELECT * FROM e)
                  UNION ALL (SELECT * FROM e EXCEPT ALL SELECT * FROM {table}))
            SELECT DISTINCT {", ".join(keys)} FROM d ORDER BY {", ".join(keys)}
        """
        differing = [dict(r._mapping) for r in conn.execute(text(diff))]
        rows = conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0
        results.append(TableCheck(table, rows, len(differing), differing[:EXAMPLES]))
    if not inline:
        conn.execute(text("DROP TABLE IF EXISTS expected_entity_days"))
    return CheckResult(results, stale_reason(conn))


def check_snapshot(conn: Connection) -> CheckResult:
    """:func:`check` in a transaction of its own, at one snapshot; nothing is kept."""
    conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        with conn.begin() as transaction:
            result = check(conn)
            transaction.rollback()
    finally:
        conn.execution_options(isolation_level="READ COMMITTED")
    return result
