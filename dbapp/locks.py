"""The catalogue lock: loads and extraction read the catalogue, curation changes it.

A load builds its extractor from the catalogue once and writes mentions for minutes or hours;
a merge or alias removal in the middle would leave it writing mentions of entities that no
longer exist or through aliases that were removed. So loads and ``extract`` hold the lock
shared for their whole run, curation takes it exclusively for its transaction: each waits for
the other, never both at once. Waits are bounded (``DBAPP_LOCK_TIMEOUT`` seconds, default 30):
a session that holds the lock forever, e.g. a reader login calling ``pg_advisory_lock``,
gets a clear error naming it instead of a hang.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from dbapp.errors import Busy, ConfigError, DbappError

T = TypeVar("T")

# One bigint key ("dbapp catalogue"); the (int, int) keys of the load ledger are another space.
CATALOGUE_KEY = 0x6462_6361_7461_6C67
DEFAULT_TIMEOUT_S = 30.0
_LOCK_NOT_AVAILABLE = "55P03"
_HOLDERS = """
SELECT a.pid, a.usename, a.application_name, l.mode,
       (SELECT string_agg(load_id::text, ', ') FROM loads
        WHERE status = 'running' AND a.application_name = 'dbapp[' || pid || ']') AS loads
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid::bigint = (:key >> 32) AND l.objid::bigint = (:key & 4294967295)
  AND a.pid <> pg_backend_pid()
"""


MAX_TIMEOUT_S = 86_400.0
MIN_TIMEOUT_S = 0.001  # PostgreSQL counts milliseconds; 0 ms would mean no timeout at all


def timeout_s() -> float:
    """``DBAPP_LOCK_TIMEOUT`` in seconds: more than 0, at most a day."""
    raw = os.environ.get("DBAPP_LOCK_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S):
        raise ConfigError(
            f"DBAPP_LOCK_TIMEOUT={raw!r}: give seconds, from {MIN_TIMEOUT_S:g} to "
            f"{MAX_TIMEOUT_S:g} (0 would mean waiting forever)"
        )
    return value


def holders(conn: Connection) -> list[str]:
    """Who holds the catalogue lock now, described for a message."""
    found = []
    for pid, user, app, mode, loads in conn.execute(text(_HOLDERS), {"key": CATALOGUE_KEY}):
        what = f"load {loads}" if loads else (app or "a session")
        kind = "shared" if mode == "ShareLock" else "exclusive"
        found.append(f"{what} (pid {pid}, user {user}, {kind})")
    return found


def within_lock_wait(conn: Connection, wait: str, statements: Callable[[], object]) -> bool:
    """Run ``statements`` in a savepoint that waits at most ``wait`` (``'5s'``) for any lock;
    False, with the savepoint rolled back, when a lock was not had in time."""
    try:
        with conn.begin_nested():
            conn.execute(text(f"SET LOCAL lock_timeout = '{wait}'"))
            statements()
            conn.execute(text("SET LOCAL lock_timeout = 0"))  # SET LOCAL outlives the savepoint
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    return True


def _acquire(conn: Connection, sql: str, what: str) -> None:
    wait = f"{max(1, round(timeout_s() * 1000))}ms"
    if not within_lock_wait(conn, wait, lambda: conn.execute(text(sql), {"key": CATALOGUE_KEY})):
        who = "; ".join(holders(conn)) or "another session"
        raise Busy(
            f"{what}: the catalogue is in use by {who} and stayed so for "
            f"{timeout_s():g} s (DBAPP_LOCK_TIMEOUT); try again when it is done"
        )


def lock_for_curation(conn: Connection) -> None:
    """Take the catalogue exclusively until ``conn``'s transaction ends (waits for loads)."""
    _acquire(conn, "SELECT pg_advisory_xact_lock(:key)", "cannot change the catalogue now")


@contextmanager
def catalogue_in_use(engine: Engine) -> Iterator[None]:
    """Hold the catalogue shared for a block (a load, an extraction), on a connection of its own."""
    with engine.connect() as conn:
        with conn.begin():
            _acquire(conn, "SELECT pg_advisory_lock_shared(:key)", "cannot start")
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock_shared(:key)"), {"key": CATALOGUE_KEY})
                conn.commit()
            except DBAPIError:
                pass  # the connection is gone, and the session lock with it


# A deadlock or serialization failure rolls back one transaction whole; running it again is
# safe wherever a transaction is a unit of work that is idempotent (a batch, a chunk).
RETRYABLE_STATES = ("40P01", "40001")
RETRIES = 5


def retryable(exc: BaseException, also: tuple[str, ...] = ()) -> bool:
    """Whether ``exc`` (SQLAlchemy's or psycopg's) is worth running the transaction again."""
    orig = getattr(exc, "orig", None) or exc
    return getattr(orig, "sqlstate", None) in (*RETRYABLE_STATES, *also)


def retrying(transaction: Callable[[], T], also: tuple[str, ...] = ()) -> T:
    """``transaction()`` (which runs one whole transaction), again after a deadlock or
    serialization failure (or an error whose SQLSTATE is in ``also``), up to
    :data:`RETRIES` more times."""
    for _ in range(RETRIES):
        try:
            return transaction()
        except (DBAPIError, psycopg.Error) as exc:
            if not retryable(exc, also):
                raise
    return transaction()


# A liveness lock: a long run (a load, a deletion) holds a random advisory key for its life, so
# another session tells a running one from one whose process was killed.


def liveness_key() -> int:
    """A fresh random key (never 0); :func:`hold_liveness` takes it."""
    return secrets.randbits(62) + 1


def hold_liveness(conn: Connection, key: int) -> None:
    """Take ``key`` for this session's life (or until it is unlocked)."""
    if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
        raise DbappError("could not take a fresh liveness lock (is someone guessing keys?)")


def release_liveness(conn: Connection, key: int | None) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def on_replica(conn: Connection) -> bool:
    """A hot standby: the primary's locks are not visible here, and nothing can be written."""
    return bool(conn.scalar(text("SELECT pg_is_in_recovery()")))


def holder_gone(conn: Connection, key: int) -> bool:
    """Whether nobody holds ``key`` any more (its run ended without saying so)."""
    return bool(conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))
