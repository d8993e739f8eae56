"""The embedded server: starts, serves others, is cleaned up after kill -9, stops when unused."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from dbapp.embedded import EmbeddedServer, Handle, _bin_path, usable_memory

HOLD = """
import sys, time
from dbapp.embedded import EmbeddedServer
server = EmbeddedServer(sys.argv[1])
server.acquire()
print(server.url().replace('+psycopg', ''), flush=True)
time.sleep(float(sys.argv[2]))
server.release()
"""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _wait_stopped(server: EmbeddedServer, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not server.status().running:
            return True
        time.sleep(0.2)
    return False


def _hold(pgdata: Path, seconds: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(pgdata), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("postgresql://"), url
    return proc, url


def _query_from_another_process(url: str) -> str:
    code = (
        "import psycopg, sys\n"
        "print(psycopg.connect(sys.argv[1]).execute('select 41+1').fetchone()[0])"
    )
    return subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_owner_killed_with_sigkill_is_cleaned_up(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "pgdata")
    owner, url = _hold(server.pgdata, 600)
    try:
        assert server.status().running
        assert _query_from_another_process(url) == "42"
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert _wait_stopped(server), "the server outlived its only owner"
        assert server.status().handles == 0
    finally:
        if owner.poll() is None:
            owner.kill()
    # And it comes back on the same data directory afterwards.
    with server.running():
        with psycopg.connect(_libpq(server.url())) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    assert not server.status().running


def test_server_stays_up_while_another_process_holds_it(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "pgdata")
    other, url = _hold(server.pgdata, 3)
    server.acquire()
    try:
        assert _libpq(server.url()) == url
        other.wait(timeout=30)
        assert server.status().running, "stopped while this process still held it"
        with psycopg.connect(url) as conn:
            assert conn.execute("select 2").fetchone() == (2,)
    finally:
        server.release()
    assert not server.status().running


def test_library_handle_list_is_pruned_of_dead_pids(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "pgdata")
    with server.running():
        handles = server.pgdata / ".handle_pids.json"
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        handles.write_text(json.dumps([int(dead), os.getpid()]))
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_handle_is_not_fooled_by_pid_reuse() -> None:
    assert Handle.of(os.getpid()).alive()
    assert not Handle(os.getpid(), 12345.0).alive()


def _dbapp(*args: str, pgdata: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DBAPP_PGDATA"] = str(pgdata)
    return subprocess.run(
        [sys.executable, "-m", "dbapp", *args], capture_output=True, text=True, env=env, **kw
    )  # type: ignore[call-overload]


def test_one_shot_command_leaves_no_server_running(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    result = _dbapp("db", "upgrade", pgdata=pgdata)
    assert result.returncode == 0, result.stderr
    assert f"created a new database at {pgdata}" in result.stderr  # said the first time only
    assert not EmbeddedServer(pgdata).status().running
    result = _dbapp("db", "current", pgdata=pgdata)
    assert "(head)" in result.stdout and "created" not in result.stderr


def test_db_start_holds_server_for_psql(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    started = _dbapp("db", "start", pgdata=pgdata)
    try:
        assert started.returncode == 0, started.stderr
        url = _dbapp("db", "url", pgdata=pgdata).stdout.strip()
        # No password in the URL: libpq reads it from the owner-only passfile it names.
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        assert url.endswith(f"/dbapp?passfile={pgdata / 'dbapp.pgpass'}")
        assert (pgdata / "dbapp.pgpass").stat().st_mode & 0o777 == 0o600
        psql = shutil.which("psql") or str(_bin_path() / "psql")
        out = subprocess.run(
            [psql, url, "-Atc", "select count(*) from documents"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "0"
        # Checkpoints spaced for big loads (embedded.MAX_WAL_SIZE).
        wal = subprocess.run(
            [psql, url, "-Atc", "show max_wal_size"], capture_output=True, text=True, check=True
        )
        assert wal.stdout.strip() == "4GB"
        # Its own cache sized to the machine: a quarter of the memory, 128 MB to 8 GB.
        cache = subprocess.run(
            [psql, url, "-Atc", "SELECT setting::bigint * 8192 / 1048576 FROM pg_settings "
             "WHERE name = 'shared_buffers'"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        quarter = usable_memory() // 4 // 2**20
        assert int(cache.stdout) == max(128, min(quarter, 8192))
        status = _dbapp("db", "status", pgdata=pgdata).stdout
        assert "yes (db start)" in status
    finally:
        stopped = _dbapp("db", "stop", pgdata=pgdata)
    assert stopped.returncode == 0, stopped.stderr
    assert "embedded server stopped" in stopped.stderr
    assert not EmbeddedServer(pgdata).status().running
    again = _dbapp("db", "stop", pgdata=pgdata)
    assert again.returncode == 0 and "was not running" in again.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="already a normal user: the other tests cover it")
def test_runs_as_a_normal_user_too() -> None:
    user = pwd.getpwnam("nobody")
    # pytest's tmp_path lives under a root-only directory; the user needs a home it can reach.
    home = Path(tempfile.mkdtemp(prefix="dbapp-nobody-"))
    home.chmod(0o755)
    os.chown(home, user.pw_uid, user.pw_gid)
    try:
        _run_as(user, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_as(user: pwd.struct_passwd, home: Path) -> None:
    code = (
        "import sys; from dbapp.embedded import EmbeddedServer; import psycopg\n"
        "s = EmbeddedServer(sys.argv[1])\n"
        "with s.running():\n"
        "    conn = psycopg.connect(s.url().replace('+psycopg', ''))\n"
        "    print(conn.execute('select current_user').fetchone()[0])\n"
        "    conn.close()\n"
        "print(s.status().running)\n"
    )
    # A venv's interpreter often links into /root; run the system Python of the same version on
    # this venv's packages instead, as that user would.
    python = shutil.which(
        f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin"
    )
    if python is None:
        pytest.skip("no system Python of this version for a non-root user to run")
    paths = sysconfig.get_paths()
    pythonpath = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), paths["purelib"], paths["platlib"]]
    )
    result = subprocess.run(
        [python, "-c", code, str(home / "pgdata")],
        capture_output=True,
        text=True,
        user=user.pw_uid,
        group=user.pw_gid,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": pythonpath},
        cwd=home,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgres", "False"]
    assert (home / "pgdata").stat().st_uid == user.pw_uid


def _connect(port: int, password: str | None) -> None:
    psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", password=password
    ).close()


def test_scram_refuses_a_wrong_password_and_trust_directories_are_migrated(
    tmp_path: Path,
) -> None:
    server = EmbeddedServer(tmp_path / "pgdata")
    with server.running():
        port = server.status().port
        assert port is not None
        _connect(port, server.password())
        for wrong in (None, "", "postgres", server.password() + "x"):
            with pytest.raises(psycopg.OperationalError, match="password"):
                _connect(port, wrong)
    # A data directory of an older dbapp trusted everyone: the next start moves it to SCRAM.
    hba = server.pgdata / "pg_hba.conf"
    text = hba.read_text()
    hba.write_text(text.replace("scram-sha-256", "trust"))
    (server.pgdata / "dbapp.pgpass").unlink()
    with server.running():
        port = server.status().port
        assert port is not None
        assert "trust" not in [
            line.split()[-1] for line in hba.read_text().splitlines() if line.split()
        ]
        _connect(port, server.password())
        with pytest.raises(psycopg.OperationalError, match="password"):
            _connect(port, None)


def test_kill_9_while_the_server_starts_leaves_nothing_running(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    for delay in (0.3, 0.8, 1.5, 2.5):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(pgdata), "600"], stdout=subprocess.PIPE, text=True
        )
        time.sleep(delay)  # somewhere in initdb / pg_ctl start
        proc.kill()
        proc.wait()
        server = EmbeddedServer(pgdata)
        # Not just "not ready": no postmaster at all, even one still starting up.
        deadline = time.monotonic() + 60
        while server._postmaster_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server._postmaster_pid() is None, f"server left running after kill -9 at {delay} s"
    with EmbeddedServer(pgdata).running() as server:  # and the directory is usable after all
        _connect(server.status().port or 0, server.password())


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_cache_is_sized_to_a_containers_memory_limit(tmp_path: Path, version: str) -> None:
    # A limit on an ancestor group (a container's) counts, as the kernel enforces it.
    mounted = tmp_path / "sys"
    if version == "v2":
        groups = "0::/box/app\n"
        limit_dir, name = mounted / "box", "memory.max"
        (mounted / "box" / "app").mkdir(parents=True)
        (mounted / "box" / "app" / name).write_text("max\n")  # no limit of its own
    else:
        groups = "9:cpu:/\n4:memory:/box/app\n"
        limit_dir, name = mounted / "memory" / "box", "memory.limit_in_bytes"
        (limit_dir / "app").mkdir(parents=True)
    (limit_dir / name).write_text(f"{600 * 2**20}\n")
    (tmp_path / "cgroup").write_text(groups)
    assert usable_memory(tmp_path / "cgroup", mounted) == 600 * 2**20
    # No group file, no limit: the machine's memory.
    machine = psutil.virtual_memory().total
    assert usable_memory(tmp_path / "none", tmp_path / "nothing") == machine


def test_a_failed_start_reports_its_own_log_lines(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    assert _dbapp("db", "start", pgdata=pgdata).returncode == 0
    assert _dbapp("db", "stop", pgdata=pgdata).returncode == 0
    # An earlier start's memory error in the log must not be taken for this one's.
    with (pgdata / "log").open("a") as log:
        log.write("FATAL:  could not map anonymous shared memory: Cannot allocate memory\n")
    with (pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write("work_mem = 'lots'\n")
    failed = _dbapp("db", "start", pgdata=pgdata)
    assert failed.returncode != 0
    assert "work_mem" in failed.stderr and "shared memory" not in failed.stderr, failed.stderr
    assert not EmbeddedServer(pgdata).status().running
