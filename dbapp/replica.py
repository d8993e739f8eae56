"""Read replicas: PostgreSQL's own streaming replication, set up and watched from dbapp.

A replica is an embedded data directory copied from the primary by ``pg_basebackup -R -X
stream``: a hot standby that replays the primary's WAL as it is written and serves every
read-only command (reports, search, BI logins). Run it like any embedded database (``dbapp
--pgdata DIR report ...``) or start it for BI tools with ``dbapp db replica start DIR``.

The primary keeps a physical replication slot per replica, so a replica that falls behind
(or is stopped for a while) catches up instead of breaking; ``max_slot_wal_keep_size`` bounds
what a forgotten replica can cost the primary in disk. The embedded primary gets a replication
login (``dbapp_replicator``, SCRAM, password in a 0600 file in its data directory): no trust.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from dbapp.config import libpq_url, mask_password
from dbapp.embedded import (
    HOST,
    EmbeddedServer,
    _bin_path,
    own_like_parent,
    pgpass_fields,
    write_pgpass,
)
from dbapp.errors import ConfigError, DbappError, EmbeddedServerError

REPLICATOR = "dbapp_replicator"
REPLICATION_PASSFILE = "dbapp-replication.pgpass"  # in the primary's data directory, mode 0600
MARKER = "dbapp-replica.json"  # in the replica's data directory: where it came from
KEEP_WAL = "4GB"  # the most WAL the primary keeps for a replica that stopped reading
BASEBACKUP_TIMEOUT = 6 * 3600


@dataclass(frozen=True)
class Source:
    """Where a replica copies from: libpq keywords for pg_basebackup and for SQL."""

    host: str
    port: int
    user: str
    password: str | None
    label: str  # for messages: the URL with its password masked, or "the embedded server"

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        params: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user}
        if self.password is not None:
            params["password"] = self.password
        return params | {"dbname": dbname, "connect_timeout": 10}


@dataclass(frozen=True)
class ReplicaInfo:
    """A replica just made."""

    pgdata: Path
    slot: str
    primary: str
    seconds: float
    size: int  # bytes copied


@dataclass(frozen=True)
class ReplicaStatus:
    """A replica's state and its lag behind the primary."""

    pgdata: Path
    running: bool
    port: int | None
    promoted: bool  # no longer a replica: `promote` made it a primary
    primary: str
    slot: str | None
    streaming: str | None  # the WAL receiver's status ("streaming"), None when not receiving
    replay_lsn: str | None
    primary_lsn: str | None
    lag_bytes: int | None
    lag_seconds: float | None
    note: str = ""


def slot_name(target: Path) -> str:
    """A replication slot name of the replica's absolute path: the same directory always gets
    the same slot, two directories never share one."""
    digest = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:16]
    return f"dbapp_replica_{digest}"


def lsn_bytes(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _connect(params: dict[str, Any]) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(**params, autocommit=True)
    except psycopg.OperationalError as exc:
        where = f"{params.get('host')}:{params.get('port')}"
        first = (str(exc).strip().splitlines() or ["connection failed"])[0]
        raise EmbeddedServerError(f"cannot connect to {where}: {first}") from None


def _server_major(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()
    assert row is not None
    return int(row[0])


def _run_version() -> int:
    import re
    import subprocess

    out = subprocess.run(
        [str(_bin_path() / "postgres"), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out.split(")")[-1])
    return int(m.group(1)) if m else 0


def source_from_url(url: str) -> Source:
    """A primary given by URL: its own login must be a superuser or have REPLICATION."""
    parsed = make_url(url)
    if not parsed.host:
        raise ConfigError("--from needs a TCP host (postgresql://user@host:port/db)")
    return Source(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username or os.environ.get("PGUSER") or "postgres",
        password=parsed.password if parsed.password is not None else None,
        label=mask_password(libpq_url(url)),
    )


def prepare_embedded_primary(primary: EmbeddedServer) -> Source:
    """Give the (running) embedded primary its replication login and settings; its Source.

    The login's password is made once and kept in the primary's data directory, so every
    replica made from it keeps working when another one is made.
    """
    status = primary.status()
    if not status.running or status.port is None:
        raise EmbeddedServerError(f"the embedded server on {primary.pgdata} is not running")
    own_like_parent(primary.passfile)  # written by dbapp < 0.4 as this OS user only
    passfile = primary.pgdata / REPLICATION_PASSFILE
    try:
        password = pgpass_fields(passfile.read_text().strip())[4]
    except (OSError, IndexError):
        password = secrets.token_hex(24)
    owner = make_url(primary.url("postgres"))
    with _connect(
        {
            "host": HOST,
            "port": status.port,
            "user": owner.username,
            "password": owner.password,
            "dbname": "postgres",
        }
    ) as conn:
        _check_primary_settings(conn)
        from dbapp.roles import scram_sha256

        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATOR,))
        verb = "ALTER" if exists.fetchone() else "CREATE"
        conn.execute(
            sql.SQL("{} ROLE {} WITH LOGIN REPLICATION NOSUPERUSER PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(REPLICATOR), sql.Literal(scram_sha256(password))
            )
        )
        if conn.execute("SHOW max_slot_wal_keep_size").fetchone() == ("-1",):
            conn.execute(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{KEEP_WAL}'")
            conn.execute("SELECT pg_reload_conf()")
    write_pgpass(passfile, REPLICATOR, password)
    return Source(
        HOST, status.port, REPLICATOR, password, f"the embedded server on {primary.pgdata}"
    )


def _check_primary_settings(conn: psycopg.Connection[Any]) -> None:
    level = conn.execute("SHOW wal_level").fetchone()
    senders = conn.execute("SHOW max_wal_senders").fetchone()
    if level and level[0] == "minimal":
        raise ConfigError(
            "the primary runs with wal_level = minimal: set it to replica (ALTER SYSTEM SET "
            "wal_level = replica) and restart the server"
        )
    if senders and int(senders[0]) < 1:
        raise ConfigError("the primary has max_wal_senders = 0: raise it and restart the server")


def create_replica(target: Path, source: Source) -> ReplicaInfo:
    """Copy the primary into the new data directory ``target`` and make it a hot standby."""
    target = target.expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} exists and is not an empty directory")
    slot = slot_name(target)
    with _connect(source.conninfo()) as conn:
        major, ours = _server_major(conn), _run_version()
        if major != ours:
            raise ConfigError(
                f"the primary runs PostgreSQL {major}; a replica needs the same major version "
                f"and dbapp's embedded binaries are {ours}"
            )
        _check_primary_settings(conn)
        # A slot left by an earlier replica at this path (deleted since) would refuse -C.
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s AND NOT active",
            (slot,),
        )
    replica = EmbeddedServer(target)
    made_dir = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create {target}: {exc.strerror}") from None
    if replica.system_user:
        replica._prepare_for_system_user()
    started = time.perf_counter()
    conninfo = " ".join(
        f"{k}={v}" for k, v in source.conninfo().items() if k not in ("password", "dbname")
    )
    try:
        replica._run(
            "pg_basebackup",
            [
                "-D", str(target),
                "-d", f"{conninfo} application_name={slot}",
                "-R",               # standby.signal and primary_conninfo
                "-X", "stream",     # the WAL written meanwhile comes along
                "-c", "fast",       # do not wait for the next checkpoint
                "-C", "-S", slot,   # a slot: the primary keeps WAL until the replica has it
                "--no-password",
            ],
            timeout=BASEBACKUP_TIMEOUT,
            env={"PGPASSWORD": source.password} if source.password is not None else {},
        )  # fmt: skip
    except EmbeddedServerError as exc:
        _remove_partial(target, made_dir)
        _drop_slot(source, slot)
        raise EmbeddedServerError(f"pg_basebackup from {source.label} failed: {exc}") from None
    seconds = time.perf_counter() - started
    # The primary's log and handle list came along; they are not the replica's.
    for name in ("log", ".handle_pids.json", "postmaster.opts"):
        (target / name).unlink(missing_ok=True)
    if not (target / "dbapp.pgpass").exists():  # a primary that is not dbapp's embedded one
        write_pgpass(target / "dbapp.pgpass", source.user, source.password or "")
    _write_marker(target, {"primary": source.label, "slot": slot, "created": _now()})
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return ReplicaInfo(target, slot, source.label, seconds, size)


def _drop_slot(source: Source, slot: str) -> None:
    """Drop the slot a failed copy made, so the primary does not keep WAL for nobody."""
    try:
        with _connect(source.conninfo()) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                (slot,),
            )
    except (DbappError, psycopg.Error):
        pass  # reported with the copy's own error; the next create at this path drops it


def _remove_partial(target: Path, made_dir: bool) -> None:
    """Remove what a failed pg_basebackup left: the directory was empty (or new) before."""
    if made_dir:
        shutil.rmtree(target, ignore_errors=True)
        return
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_marker(target: Path, data: dict[str, Any]) -> None:
    (target / MARKER).write_text(json.dumps(data, indent=1) + "\n")


def read_marker(target: Path) -> dict[str, Any]:
    """What ``create_replica`` recorded; an error for a directory it did not make."""
    target = target.expanduser().absolute()
    try:
        data = json.loads((target / MARKER).read_text())
    except FileNotFoundError:
        if not target.exists():
            raise ConfigError(f"{target} does not exist") from None
        raise ConfigError(f"{target} is not a replica made by `dbapp db replica create`") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {target / MARKER}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{target / MARKER} is damaged")
    return data


def replica_server(target: Path) -> EmbeddedServer:
    """The embedded server of a replica directory (checked to be one)."""
    read_marker(target)
    return EmbeddedServer(target.expanduser().absolute())


def replica_status(target: Path) -> ReplicaStatus:
    """The replica's state; its lag in bytes and seconds when it and the primary answer.

    Bytes: the primary's current WAL position minus what the replica has replayed. Seconds:
    the primary's ``replay_lag`` for this replica's connection (how long ago the WAL it has
    just replayed was written; zero when it has caught up).
    """
    marker = read_marker(target)
    server = replica_server(target)
    status = server.status()
    promoted = not (server.pgdata / "standby.signal").exists()
    base: dict[str, Any] = {
        "pgdata": server.pgdata,
        "running": status.running,
        "port": status.port,
        "promoted": promoted,
        "primary": str(marker.get("primary", "?")),
        "slot": marker.get("slot"),
    }
    if not status.running:
        return ReplicaStatus(
            **base, streaming=None, replay_lsn=None, primary_lsn=None, lag_bytes=None,
            lag_seconds=None, note=f"not running: `dbapp db replica start {server.pgdata}`",
        )  # fmt: skip
    owner = make_url(server.url("postgres"))
    with _connect(
        {
            "host": HOST,
            "port": status.port,
            "user": owner.username,
            "password": owner.password,
            "dbname": "postgres",
        }
    ) as conn:
        row = conn.execute(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
            "current_setting('primary_conninfo'), "
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
        ).fetchone()
        receiver = conn.execute(
            "SELECT status, latest_end_lsn::text FROM pg_stat_wal_receiver"
        ).fetchone()
    assert row is not None
    in_recovery, replay_lsn, conninfo, since_replay = row
    if not in_recovery:
        return ReplicaStatus(
            **base | {"promoted": True}, streaming=None, replay_lsn=None, primary_lsn=None,
            lag_bytes=None, lag_seconds=None, note="promoted: a primary now, not a replica",
        )  # fmt: skip
    streaming = receiver[0] if receiver else None
    try:
        params = psycopg.conninfo.make_conninfo(conninfo, dbname="postgres", connect_timeout=5)
        with psycopg.connect(params, autocommit=True) as primary:
            prow = primary.execute(
                "SELECT pg_current_wal_lsn()::text, "
                "(SELECT extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication "
                " WHERE application_name = %s LIMIT 1)",
                (base["slot"],),
            ).fetchone()
    except psycopg.Error:
        info = psycopg.conninfo.conninfo_to_dict(conninfo)
        where = f"{info.get('host')}:{info.get('port')}"
        latest = receiver[1] if receiver else None
        lag = max(0, lsn_bytes(latest) - lsn_bytes(replay_lsn)) if latest and replay_lsn else None
        why = (
            f"the primary does not answer at {where}, where the replica was made to follow it: "
            "start it on that port (`dbapp db start --port "
            f"{info.get('port')}`); the replica catches up then"
        )
        return ReplicaStatus(
            **base, streaming=streaming, replay_lsn=replay_lsn, primary_lsn=latest,
            lag_bytes=lag, lag_seconds=since_replay if lag else 0.0 if lag == 0 else None,
            note=why + ("; lag as of its last message" if lag is not None else ""),
        )  # fmt: skip
    assert prow is not None
    primary_lsn, replay_lag = prow
    lag_bytes = max(0, lsn_bytes(primary_lsn) - lsn_bytes(replay_lsn)) if replay_lsn else None
    seconds: float | None
    if lag_bytes == 0:
        seconds = 0.0  # caught up (the primary's replay_lag is from the last report only)
    elif replay_lag is not None:
        seconds = float(replay_lag)
    else:
        seconds = float(since_replay) if since_replay is not None else None
    return ReplicaStatus(
        **base, streaming=streaming, replay_lsn=replay_lsn, primary_lsn=primary_lsn,
        lag_bytes=lag_bytes, lag_seconds=seconds,
        note="" if streaming == "streaming" else "not streaming from the primary",
    )  # fmt: skip


def promote(target: Path) -> None:
    """Turn the replica into a primary (failover): it stops replaying and accepts writes.

    Its link to the old primary (connection settings with the replication password, slot
    name) is removed from its configuration.
    """
    server = replica_server(target)
    if not (server.pgdata / "standby.signal").exists():
        raise ConfigError(f"{server.pgdata} is already a primary (promoted before)")
    with server.running():
        server._run("pg_ctl", ["-D", str(server.pgdata), "-w", "-t", "120", "promote"])
        owner = make_url(server.url("postgres"))
        status = server.status()
        with _connect(
            {
                "host": HOST,
                "port": status.port,
                "user": owner.username,
                "password": owner.password,
                "dbname": "postgres",
            }
        ) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is None or row[0]:
                raise DbappError(f"{server.pgdata} is still in recovery after promote")
            conn.execute("ALTER SYSTEM RESET primary_conninfo")
            conn.execute("ALTER SYSTEM RESET primary_slot_name")
            conn.execute("SELECT pg_reload_conf()")
    marker = read_marker(server.pgdata)
    _write_marker(server.pgdata, marker | {"promoted": _now()})
