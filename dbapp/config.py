"""Where the database is: a URL, ``DATABASE_URL``, or the embedded server's data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dbapp.errors import ConfigError


def default_pgdata() -> Path:
    """The per-user data directory (``~/.local/share/dbapp/pgdata`` on Linux): the same
    database whichever directory dbapp runs in."""
    import platformdirs

    return platformdirs.user_data_path("dbapp") / "pgdata"


EMBEDDED_DATABASE = "dbapp"
_POSTGRES_SCHEMES = {"postgres", "postgresql"}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one dbapp invocation."""

    database_url: str | None
    pgdata: Path
    announce: bool = False  # say on stderr when the embedded server creates a new database

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def get_settings(
    database_url: str | None = None, pgdata: str | Path | None = None, announce: bool = False
) -> Settings:
    """Resolve settings: arguments win over ``DATABASE_URL`` / ``DBAPP_PGDATA``, then defaults."""
    url = database_url or os.environ.get("DATABASE_URL") or None
    data = pgdata or os.environ.get("DBAPP_PGDATA") or default_pgdata()
    if "\x00" in str(data):
        raise ConfigError("the data directory contains a NUL character")
    return Settings(
        database_url=normalise_url(url) if url else None,
        pgdata=Path(data).expanduser().absolute(),
        announce=announce,
    )


def normalise_url(url: str) -> str:
    """Turn any PostgreSQL URL (``postgres://``, ``+psycopg2``...) into psycopg 3's dialect."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a bad port or an unclosed [ only shows up here
    except (ArgumentError, ValueError):
        raise ConfigError("not a database URL (expected postgresql://user@host:port/db)") from None
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in _POSTGRES_SCHEMES:
        raise ConfigError(f"dbapp needs PostgreSQL; the URL names {backend!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def mask_password(url: str | URL) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def libpq_url(url: str | URL) -> str:
    """The URL in the plain ``postgresql://`` form psql, libpq and BI tools accept."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
