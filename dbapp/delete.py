"""Deleting documents (a bad load, a takedown, a retention policy), recorded in ``deletions``.

Documents go in chunks, one transaction each, mentions first: the summary triggers subtract
them while each document's source and date are still there, so every report stays exact at
every commit. An interrupted deletion leaves whole chunks done; running it again finishes it.
A deleted document can be loaded again (nothing remembers its text).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from dbapp import ledger
from dbapp.errors import BadArgument, Busy, first_line
from dbapp.load import Progress
from dbapp.locks import (
    hold_liveness,
    holder_gone,
    liveness_key,
    on_replica,
    release_liveness,
    retrying,
)
from dbapp.report import resolve_source

CHUNK = 5000
MAX_IDS = 100_000


@dataclass(frozen=True)
class Selection:
    """Which documents: every criterion given must hold (AND)."""

    load_id: int | None = None
    source: str | None = None
    before: dt.date | None = None  # published before this day (undated ones are not)
    ids: tuple[int, ...] = ()

    def empty(self) -> bool:
        return self.load_id is None and self.source is None and self.before is None and not self.ids

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "load": self.load_id,
            "source": self.source,
            "before": self.before.isoformat() if self.before else None,
            "ids": list(self.ids) if self.ids else None,
        }
        return {k: v for k, v in found.items() if v is not None}

    def where(self) -> tuple[str, dict[str, Any]]:
        """A WHERE clause over ``documents d`` and its bound values."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.load_id is not None:
            clauses.append("d.load_id = :load_id")
            params["load_id"] = self.load_id
        if self.source is not None:
            clauses.append("d.source_id = (SELECT source_id FROM sources WHERE name = :source)")
            params["source"] = self.source
        if self.before is not None:
            clauses.append("d.published_on < :before")
            params["before"] = self.before
        if self.ids:
            clauses.append("d.document_id = ANY(:ids)")
            params["ids"] = list(self.ids)
        return " AND ".join(clauses), params


@dataclass
class DeleteResult:
    deletion_id: int | None
    documents: int = 0
    mentions: int = 0
    elapsed: float = 0.0
    dry_run: bool = False


def resolve(conn: Connection, selection: Selection) -> Selection:
    """Check the selection: something is asked for, the source and load exist."""
    if selection.empty():
        raise BadArgument("say which documents: --load, --source, --before or --id")
    if len(selection.ids) > MAX_IDS:
        raise BadArgument(f"at most {MAX_IDS:,} --id values at once")
    if selection.load_id is not None:
        ledger.get_load(conn, selection.load_id)  # NotFound if there is none
    source = resolve_source(conn, selection.source)
    return Selection(selection.load_id, source, selection.before, selection.ids)


def count_documents(conn: Connection, selection: Selection) -> int:
    """How many documents the selection holds now."""
    where, params = selection.where()
    return int(conn.scalar(text(f"SELECT count(*) FROM documents d WHERE {where}"), params) or 0)


def count_selected(conn: Connection, selection: Selection) -> tuple[int, int]:
    """How many documents, and mentions of them, the selection holds now."""
    where, params = selection.where()
    row = conn.execute(
        text(
            f"""SELECT count(*) AS documents,
                       coalesce(sum((SELECT count(*) FROM mentions m
                                     WHERE m.document_id = d.document_id)), 0) AS mentions
                FROM documents d WHERE {where}"""
        ),
        params,
    ).one()
    return int(row.documents), int(row.mentions)


def _refuse_running_load(conn: Connection, load_id: int) -> None:
    with conn.begin():
        ledger.mark_interrupted_loads(conn)
        status = ledger.get_load(conn, load_id).status
    if status == "running":
        raise Busy(f"load {load_id} is still running: undo it when it has finished")


def delete_documents(
    engine: Engine,
    selection: Selection,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> DeleteResult:
    """Delete the selected documents and their mentions, a chunk per transaction, and record
    the deletion (who, what, how many) in ``deletions``."""
    progress = progress or Progress()
    started = time.perf_counter()
    with engine.connect() as conn:
        with conn.begin():
            selection = resolve(conn, selection)
            total = count_documents(conn, selection)  # for the progress bar
        if selection.load_id is not None:
            _refuse_running_load(conn, selection.load_id)
        key = liveness_key()
        with conn.begin():
            mark_interrupted(conn)
            deletion_id = conn.scalar(
                text(
                    "INSERT INTO deletions (criteria, load_id, os_user, hostname, lock_key) "
                    "VALUES (CAST(:c AS jsonb), :load, :user, :host, :key) RETURNING deletion_id"
                ),
                {
                    "c": json.dumps(selection.as_json()),
                    "load": selection.load_id,
                    "user": _os_user(),
                    "host": socket.gethostname(),
                    "key": key,
                },
            )
            # Held for the deletion's life: a killed one is told from a running one by it.
            hold_liveness(conn, key)
        result = DeleteResult(deletion_id)
        progress.start(total, "documents")
        try:
            while True:
                # A deadlock with another writer rolls a chunk back whole: run it again.
                documents, mentions = retrying(lambda: _delete_chunk(conn, selection, chunk))
                with conn.begin():
                    result.documents += documents
                    result.mentions += mentions
                    conn.execute(
                        text(
                            "UPDATE deletions SET documents_deleted = :d, mentions_deleted = :m "
                            "WHERE deletion_id = :id"
                        ),
                        {"d": result.documents, "m": result.mentions, "id": deletion_id},
                    )
                progress.advance(0, documents, 0)
                if documents < chunk:
                    break
            if selection == Selection(load_id=selection.load_id) and selection.load_id:
                # A whole load undone: a watched folder loads its files again. (Not after a
                # partial delete, a takedown say: that must stay deleted.)
                with conn.begin():
                    conn.execute(
                        text("DELETE FROM watched_files WHERE load_id = :l"),
                        {"l": selection.load_id},
                    )
            _finish(conn, deletion_id, "completed")
        except KeyboardInterrupt:
            _finish(conn, deletion_id, "interrupted", "interrupted by the user")
            raise
        except (DBAPIError, psycopg.Error) as exc:
            _finish(conn, deletion_id, "failed", first_line(exc))
            raise
        finally:
            progress.stop()
    result.elapsed = time.perf_counter() - started
    return result


def _delete_chunk(conn: Connection, selection: Selection, chunk: int) -> tuple[int, int]:
    """One chunk of the selection, in a transaction of its own."""
    with conn.begin():
        return _delete_chunk_in(conn, selection, chunk)


def _delete_chunk_in(conn: Connection, selection: Selection, chunk: int) -> tuple[int, int]:
    where, params = selection.where()
    ids = list(
        conn.scalars(
            text(
                f"SELECT d.document_id FROM documents d WHERE {where} "
                "ORDER BY d.document_id LIMIT :n FOR UPDATE"
            ),
            {**params, "n": chunk},
        )
    )
    if not ids:
        return 0, 0
    # Summary rows are locked in the order a load takes them (a document's day first, then
    # its entities), so a deletion and a load touching the same keys wait, never deadlock.
    conn.execute(
        text(
            """SELECT 1 FROM summary_source_days s
               WHERE EXISTS (SELECT 1 FROM documents d WHERE d.document_id = ANY(:ids)
                             AND d.source_id = s.source_id
                             AND d.published_on IS NOT DISTINCT FROM s.day)
               ORDER BY s.source_id, s.day FOR UPDATE"""
        ),
        {"ids": ids},
    )
    mentions = conn.execute(
        text("DELETE FROM mentions WHERE document_id = ANY(:ids)"), {"ids": ids}
    ).rowcount
    documents = conn.execute(
        text("DELETE FROM documents WHERE document_id = ANY(:ids)"), {"ids": ids}
    ).rowcount
    return documents, mentions


def _finish(conn: Connection, deletion_id: int, status: str, error: str | None = None) -> None:
    try:
        if conn.in_transaction():
            conn.rollback()
        with conn.begin():
            key = conn.scalar(
                text(
                    "UPDATE deletions SET status = :s, error = :e, finished_at = now() "
                    "WHERE deletion_id = :id RETURNING lock_key"
                ),
                {"s": status, "e": error, "id": deletion_id},
            )
            release_liveness(conn, key)
    except Exception:  # noqa: BLE001 - already reporting the original failure
        pass


def mark_interrupted(conn: Connection) -> None:
    """Deletions still 'running' whose process is gone (their lock is free) are 'interrupted'."""
    if on_replica(conn):
        return  # the primary holds the locks; the replica shows what it was told
    for deletion_id, key in conn.execute(
        text("SELECT deletion_id, lock_key FROM deletions WHERE status = 'running'")
    ).all():
        if key is None or holder_gone(conn, key):
            conn.execute(
                text(
                    "UPDATE deletions SET status = 'interrupted', error = 'the deleting process "
                    "ended without finishing: run the same delete again' "
                    "WHERE deletion_id = :id AND status = 'running'"
                ),
                {"id": deletion_id},
            )


def dry_run(engine: Engine, selection: Selection) -> DeleteResult:
    """What :func:`delete_documents` would delete now."""
    with engine.connect() as conn, conn.begin():
        selection = resolve(conn, selection)
        documents, mentions = count_selected(conn, selection)
    return DeleteResult(None, documents, mentions, dry_run=True)


def list_deletions(conn: Connection, limit: int = 20) -> list[Any]:
    """The newest deletions first (dead 'running' ones marked interrupted)."""
    mark_interrupted(conn)
    return list(
        conn.execute(
            text("SELECT * FROM deletions ORDER BY deletion_id DESC LIMIT :n"), {"n": limit}
        )
    )


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container with no passwd entry)
        return None
