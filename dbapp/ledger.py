"""The ``loads`` ledger: one row per run, its counts and outcome, and the rejects it recorded."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Row

from dbapp import __version__
from dbapp.errors import NotFound
from dbapp.locks import hold_liveness, liveness_key, on_replica
from dbapp.models import Load, LoadReject

# Advisory lock namespace: a running load holds (LOCK_NAMESPACE, load_id) for its lifetime, so
# another process can tell a live run from one that was killed.
LOCK_NAMESPACE = 0x6462


@dataclass
class LoadCounts:
    """Running totals of one load."""

    files_seen: int = 0
    bytes_read: int = 0
    documents_seen: int = 0
    documents_inserted: int = 0
    documents_duplicate: int = 0
    documents_rejected: int = 0
    mentions_inserted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def start_load(conn: Connection, arguments: dict[str, Any]) -> int:
    """Record a new running load and hold its liveness lock on this connection's session.

    The lock key is random and taken before the row is committed, so no other session (a
    reader login included) can see it, let alone take it, first.
    """
    key = liveness_key()
    load_id = conn.execute(
        insert(Load)
        .values(
            arguments=arguments,
            dbapp_version=__version__,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            lock_key=key,
        )
        .returning(Load.load_id)
    ).scalar_one()
    hold_liveness(conn, key)
    return int(load_id)


def _lock_args(load_id: int, key: int | None) -> tuple[str, dict[str, int]]:
    """The liveness lock of a load: its random key, or (namespace, id) for loads before 0006."""
    if key is not None:
        return "(:k)", {"k": key}
    return "(:ns, :id)", {"ns": LOCK_NAMESPACE, "id": load_id}


def mark_interrupted_loads(conn: Connection) -> list[int]:
    """Mark 'running' loads whose process is gone (their lock is free) as 'interrupted'."""
    if on_replica(conn):
        return []  # the primary holds the locks; the replica shows what it was told
    stale = []
    for load_id, key in conn.execute(
        select(Load.load_id, Load.lock_key).where(Load.status == "running")
    ):
        args, params = _lock_args(load_id, key)
        free = conn.scalar(text(f"SELECT pg_try_advisory_xact_lock{args}"), params)
        if free:
            stale.append(load_id)
    if stale:
        conn.execute(
            update(Load)
            .where(Load.load_id.in_(stale), Load.status == "running")
            .values(status="interrupted", error="the loading process ended without finishing")
        )
    return stale


def record_progress(
    conn: Connection, load_id: int, counts: LoadCounts, warnings: dict[str, Any]
) -> None:
    """Write the totals so far; called inside each batch's transaction so they match the data."""
    conn.execute(
        update(Load).where(Load.load_id == load_id).values(warnings=warnings, **counts.as_dict())
    )


def finish_load(conn: Connection, load_id: int, status: str, error: str | None = None) -> None:
    """Close the ledger row and release the liveness lock."""
    key = conn.execute(
        update(Load)
        .where(Load.load_id == load_id)
        .values(status=status, finished_at=func.now(), error=error)
        .returning(Load.lock_key)
    ).scalar_one_or_none()
    args, params = _lock_args(load_id, key)
    conn.execute(text(f"SELECT pg_advisory_unlock{args}"), params)


def list_loads(conn: Connection, limit: int = 20) -> list[Row[Any]]:
    """The most recent loads, newest first (stale running ones shown as interrupted)."""
    mark_interrupted_loads(conn)
    return list(conn.execute(select(Load.__table__).order_by(Load.load_id.desc()).limit(limit)))


def get_load(conn: Connection, load_id: int) -> Row[Any]:
    """One load's ledger row."""
    mark_interrupted_loads(conn)
    row = conn.execute(select(Load.__table__).where(Load.load_id == load_id)).one_or_none()
    if row is None:
        raise NotFound(f"no load {load_id}")
    return row


def load_rejects(conn: Connection, load_id: int, limit: int | None = None) -> list[Row[Any]]:
    """A load's rejects in input order (raw bytes not fetched)."""
    cols = [c for c in LoadReject.__table__.c if c.name != "raw"]
    query = (
        select(*cols, func.length(LoadReject.raw).label("raw_length"))
        .where(LoadReject.load_id == load_id)
        .order_by(LoadReject.load_reject_id)
        .limit(limit)
    )
    return list(conn.execute(query))


def reject_raw(conn: Connection, load_reject_id: int) -> bytes:
    """The exact bytes of one rejected record."""
    raw = conn.execute(
        select(LoadReject.raw).where(LoadReject.load_reject_id == load_reject_id)
    ).one_or_none()
    if raw is None:
        raise NotFound(f"no reject {load_reject_id}")
    return bytes(raw[0] or b"")
