"""Engines: connect to the configured server, or hold the embedded one for a block."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from dbapp.config import EMBEDDED_DATABASE, Settings, mask_password
from dbapp.embedded import EmbeddedServer
from dbapp.errors import DatabaseUnavailable, ReadOnlyServer


@dataclass(frozen=True)
class Database:
    """An open database: its engine and where it lives."""

    engine: Engine
    url: str
    embedded: bool


def make_engine(url: str) -> Engine:
    """An engine for a psycopg 3 URL, failing early with a clear message if the server is down."""
    # The OS pid in the application name ties a session to its loads row (loads.pid).
    engine = create_engine(
        url, pool_pre_ping=True, connect_args={"application_name": f"dbapp[{os.getpid()}]"}
    )
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot connect to {mask_password(url)}: {reason}") from None
    return engine


def read_only_message(detail: str = "") -> str:
    why = f" ({detail})" if detail else ""
    return (
        f"this server is a read-only replica (hot standby){why}: write to the primary, or make "
        "this one a primary with `dbapp db replica promote DIR`"
    )


def ensure_writable(engine: Engine) -> None:
    """Refuse, in one line, to write to a hot standby (before any work is done)."""
    from dbapp.locks import on_replica

    with engine.connect() as conn:
        if on_replica(conn):
            raise ReadOnlyServer(read_only_message())


@contextmanager
def open_database(settings: Settings, writes: bool = False) -> Iterator[Database]:
    """Yield the configured database; the embedded server runs only as long as the block does.

    ``writes``: the command changes the database, so a read-only replica is refused up front.
    """
    if settings.database_url is not None:
        engine = make_engine(settings.database_url)
        try:
            if writes:
                ensure_writable(engine)
            yield Database(engine, settings.database_url, embedded=False)
        finally:
            engine.dispose()
        return
    server = EmbeddedServer(settings.pgdata)
    with server.running():
        if server.created and settings.announce:
            print(f"created a new database at {server.pgdata}", file=sys.stderr)
        ensure_database(server.url(), EMBEDDED_DATABASE)
        url = server.url(EMBEDDED_DATABASE)
        engine = make_engine(url)
        try:
            if writes:
                ensure_writable(engine)
            yield Database(engine, url, embedded=True)
        finally:
            engine.dispose()


def ensure_database(maintenance_url: str, name: str) -> None:
    """Create database ``name`` on the server if it does not exist yet."""
    engine = make_engine(maintenance_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(name)
                try:
                    conn.execute(text(f"CREATE DATABASE {quoted}"))
                except DBAPIError as exc:
                    # Another process created it between our check and our CREATE.
                    if getattr(exc.orig, "sqlstate", None) not in ("42P04", "23505"):
                        raise
    finally:
        engine.dispose()


def client_url(settings: Settings, show_password: bool = False) -> tuple[str, bool]:
    """The URL psql or a BI tool should use, and whether a server answers there now.

    Passwords are masked unless ``show_password``. The embedded server's URL carries no
    password: it names the password file (``passfile=``), which libpq and psql read.
    """
    if settings.database_url is not None:
        url = make_url(settings.database_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=not show_password), True
    server = EmbeddedServer(settings.pgdata)
    status = server.status()
    return server.client_url(EMBEDDED_DATABASE, status.port), status.running
