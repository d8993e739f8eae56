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

import contextlib
import ctypes
import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from dbapp.config import libpq_url, mask_password, normalise_url
from dbapp.embedded import (
    HOST,
    REPLICATION_PASSFILE,
    EmbeddedServer,
    _bin_path,
    own_like_parent,
    pgpass_fields,
    write_pgpass,
)
from dbapp.errors import Busy, ConfigError, DbappError, EmbeddedServerError

REPLICATOR = "dbapp_replicator"
MARKER = "dbapp-replica.json"  # in the replica's data directory: where it came from
KEEP_WAL = "4GB"  # the most WAL the primary keeps for a replica that stopped reading
BASEBACKUP_TIMEOUT = 6 * 3600


@dataclass(frozen=True)
class Source:
    """Where a replica copies from: libpq keywords (never the password: that goes to
    pg_basebackup in its environment, not on its command line) and the password."""

    params: dict[str, str]
    password: str | None
    label: str  # for messages: the URL with its password masked, or "the embedded server"

    @property
    def user(self) -> str:
        return self.params.get("user") or os.environ.get("PGUSER") or "postgres"

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        params: dict[str, Any] = dict(self.params)
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
    lag_seconds: float | None  # measured: how long the replica took to replay what it lacked
    note: str = ""
    reported_replay_lag: float | None = None  # PostgreSQL's own replay_lag, for comparison


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


def _owner_connect(server: EmbeddedServer) -> psycopg.Connection[Any]:
    """A connection to a running embedded server's maintenance database, as its owner."""
    owner = make_url(server.url("postgres"))
    return _connect(
        {
            "host": HOST,
            "port": owner.port,
            "user": owner.username,
            "password": owner.password,
            "dbname": "postgres",
        }
    )


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
    """A primary given by URL (any form dbapp accepts, ``?passfile=`` included): its login
    must be a superuser or have REPLICATION."""
    libpq = libpq_url(normalise_url(url))  # ConfigError for what is not a PostgreSQL URL
    try:
        params = psycopg.conninfo.conninfo_to_dict(libpq)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"not a usable database URL: {exc}") from None
    if not params.get("host") or str(params["host"]).startswith("/"):
        raise ConfigError("--from needs a TCP host (postgresql://user@host:port/db)")
    password = params.pop("password", None)
    params.pop("dbname", None)
    return Source(
        {k: str(v) for k, v in params.items() if v is not None},
        None if password is None else str(password),
        mask_password(libpq),
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
    with _owner_connect(primary) as conn:
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
    label = f"the embedded server on {primary.pgdata}"
    return Source({"host": HOST, "port": str(status.port), "user": REPLICATOR}, password, label)


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


def check_target(target: Path, primary: Path | None = None) -> Path:
    """The replica's directory, absolute; refused when PostgreSQL could not run there."""
    target = target.expanduser().absolute()
    if any(ord(c) < 32 or ord(c) == 127 for c in str(target)):
        raise ConfigError("the replica's directory name holds a control character (a newline?)")
    if primary is not None and target.is_relative_to(primary):
        raise ConfigError(f"{target} is inside the primary's data directory {primary}")
    return target


def create_replica(target: Path, source: Source) -> ReplicaInfo:
    """Copy the primary into the new data directory ``target`` and make it a hot standby.

    One create per directory at a time (a lock next to it). A create that was killed leaves
    a mark next to the directory, and the next create there clears its partial copy first.
    """
    target = check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f".{target.name}.replica-lock", "a+")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot use {target.parent}: {exc.strerror}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another `dbapp db replica create` is making {target}") from None
        creating = target.parent / f".{target.name}.replica-creating"
        if creating.exists() and target.is_dir() and not (target / MARKER).exists():
            _remove_partial(target, made_dir=False)  # an interrupted create's copy
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise ConfigError(f"{target} exists and is not an empty directory")
        creating.write_text(f"{os.getpid()}\n")
        info = _copy(target, source)
        creating.unlink(missing_ok=True)
        return info


def _copy(target: Path, source: Source) -> ReplicaInfo:
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
        os.chmod(target, 0o700)  # PostgreSQL refuses a data directory others can read
    except OSError as exc:
        raise ConfigError(f"cannot create {target}: {exc.strerror}") from None
    if replica.system_user:
        replica._prepare_for_system_user()
    started = time.perf_counter()
    conninfo = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in source.params.items() if k != "passfile"}, application_name=slot
    )
    env = dict(os.environ)
    if source.password is not None:
        env["PGPASSWORD"] = source.password
    if "passfile" in source.params:
        env["PGPASSFILE"] = source.params["passfile"]
    args = [
        "-D", str(target),
        "-d", conninfo,
        "-R",               # standby.signal and primary_conninfo
        "-X", "stream",     # the WAL written meanwhile comes along
        "-c", "fast",       # do not wait for the next checkpoint
        "-C", "-S", slot,   # a slot: the primary keeps WAL until the replica has it
        "--no-password",
    ]  # fmt: skip
    try:
        _basebackup(replica, args, env)
    except BaseException as exc:  # Ctrl-C included: the copy is stopped and undone
        _remove_partial(target, made_dir)
        _drop_slot(source, slot)
        if isinstance(exc, EmbeddedServerError):
            raise EmbeddedServerError(f"pg_basebackup from {source.label} failed: {exc}") from None
        raise
    seconds = time.perf_counter() - started
    # The primary's log and handle list came along; they are not the replica's.
    for name in ("log", ".handle_pids.json", "postmaster.opts", REPLICATION_PASSFILE):
        (target / name).unlink(missing_ok=True)
    if not (target / "dbapp.pgpass").exists():  # a primary that is not dbapp's embedded one
        write_pgpass(target / "dbapp.pgpass", source.user, source.password or "")
    _write_marker(target, {"primary": source.label, "slot": slot, "created": _now()})
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return ReplicaInfo(target, slot, source.label, seconds, size)


def _basebackup(replica: EmbeddedServer, args: list[str], env: dict[str, str]) -> None:
    """pg_basebackup as the server's OS user; it dies with this process (even by kill -9:
    Linux's parent-death signal), and is stopped on any error or Ctrl-C here."""

    def die_with_parent() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    try:
        proc = subprocess.Popen(
            [str(_bin_path() / "pg_basebackup"), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            user=replica.system_user,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - single-threaded here
        )
    except OSError as exc:
        raise EmbeddedServerError(f"pg_basebackup failed: {exc}") from None
    try:
        output, _ = proc.communicate(timeout=BASEBACKUP_TIMEOUT)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise EmbeddedServerError(f"pg_basebackup exited with {proc.returncode}: {output.strip()}")


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


LAG_WAIT = 10.0  # seconds status waits to measure the lag of a replica that is behind


def replica_status(target: Path, timeout: float = LAG_WAIT) -> ReplicaStatus:
    """The replica's state; its lag in bytes and seconds when it and the primary answer.

    Bytes: the primary's current WAL position minus what the replica has replayed. Seconds:
    measured; when the replica is behind, how long it takes to replay the primary's position
    of the moment of asking (up to ``timeout``); zero when it has caught up.
    """
    marker = read_marker(target)
    server = EmbeddedServer(target.expanduser().absolute())
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
    with _owner_connect(server) as conn:
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
    seconds: float | None = 0.0
    note = "" if streaming == "streaming" else "not streaming from the primary"
    if lag_bytes and streaming == "streaming":
        # Measured, not reported: PostgreSQL's replay_lag overstated it by minutes during bulk
        # index builds (147 s reported while the replica was at most 7.4 s behind). So wait
        # for the replica to replay the primary's position of the moment we asked.
        seconds = _time_to_replay(server, lsn_bytes(primary_lsn), timeout)
        if seconds is None:
            note = f"not caught up with the primary's position of {timeout:g} s ago"
    elif lag_bytes:
        seconds = None
    return ReplicaStatus(
        **base, streaming=streaming, replay_lsn=replay_lsn, primary_lsn=primary_lsn,
        lag_bytes=lag_bytes, lag_seconds=seconds, note=note,
        reported_replay_lag=None if replay_lag is None else float(replay_lag),
    )  # fmt: skip


def _time_to_replay(server: EmbeddedServer, target: int, timeout: float) -> float | None:
    """Seconds until the replica has replayed up to WAL position ``target`` (None: not within
    ``timeout``)."""
    started = time.perf_counter()
    with _owner_connect(server) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
            elapsed = time.perf_counter() - started
            if row and row[0] and lsn_bytes(row[0]) >= target:
                return elapsed
            if elapsed > timeout:
                return None
            time.sleep(0.05)


def promote(target: Path) -> str | None:
    """Turn the replica into a primary (failover): it stops replaying and accepts writes;
    returns the slot the old primary still keeps for it.

    Its link to the old primary (connection settings with the replication password, slot
    name) is removed from its configuration.
    """
    server = replica_server(target)
    if not (server.pgdata / "standby.signal").exists():
        raise ConfigError(f"{server.pgdata} is already a primary (promoted before)")
    with server.running():
        server._run("pg_ctl", ["-D", str(server.pgdata), "-w", "-t", "120", "promote"])
        with _owner_connect(server) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is None or row[0]:
                raise DbappError(f"{server.pgdata} is still in recovery after promote")
            conn.execute("ALTER SYSTEM RESET primary_conninfo")
            conn.execute("ALTER SYSTEM RESET primary_slot_name")
            conn.execute("SELECT pg_reload_conf()")
    marker = read_marker(server.pgdata)
    _write_marker(server.pgdata, marker | {"promoted": _now()})
    slot = marker.get("slot")
    return str(slot) if slot else None
