"""Crashes, database restarts and concurrency, with real processes on real PostgreSQL.

Each test compares against a clean single load of the same corpus: documents by content hash,
mentions by (document hash, span, entity name, role), and the entities they point at.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dbapp import bulk, migrate, summaries
from dbapp.embedded import EmbeddedServer
from dbapp.report import ReportParams, run_report
from dbapp.search import search_documents
from tests.conftest import assert_summaries_exact, create_database, drop_database
from tests.synthetic import write_corpus

pytestmark = pytest.mark.slow

Snapshot = dict[str, frozenset[tuple[int, int, str, str, str]]]


def snapshot(engine: Engine) -> Snapshot:
    """Every document (by hash) with the exact set of its mentions."""
    found: dict[str, set[tuple[int, int, str, str, str]]] = defaultdict(set)
    with engine.connect() as conn:
        for (sha,) in conn.execute(text("SELECT content_sha256 FROM documents")):
            found[sha] = set()
        for sha, start, end, kind, name, role in conn.execute(
            text(
                """SELECT d.content_sha256, m.start, m."end", e.kind, e.canonical_name, m.role
                   FROM mentions m JOIN documents d USING (document_id)
                   JOIN entities e USING (entity_id)"""
            )
        ):
            found[sha].add((start, end, kind, name, role))
    return {sha: frozenset(ms) for sha, ms in found.items()}


def dbapp_process(url: str | None, *args: str, env: dict[str, str] | None = None) -> list[str]:
    base = [sys.executable, "-m", "dbapp"]
    if url:
        base += ["--database-url", url]
    return [*base, *args]


def spawn(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env or dict(os.environ),
    )


def last_load(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT coalesce(max(load_id), 0) FROM loads")) or 0)
    except Exception:  # noqa: BLE001 - no schema yet
        return 0


def wait_for_progress(
    engine: Engine, proc: subprocess.Popen[str], after: int = 0, timeout: float = 60
) -> bool:
    """Wait until the process's load (id > ``after``) has committed a batch; False if the
    process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with engine.connect() as conn:
                seen = conn.scalar(
                    text(
                        "SELECT coalesce(max(documents_seen), 0) FROM loads "
                        "WHERE status = 'running' AND load_id > :after"
                    ),
                    {"after": after},
                )
            if seen:
                return True
        except Exception:  # noqa: BLE001 - the schema may not exist yet on the first run
            pass
        time.sleep(0.05)
    raise AssertionError("the load made no progress")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"), documents=6000, files=4)


@pytest.fixture
def database(server_url: str, template_db: str) -> Iterator[tuple[str, Engine]]:
    name = f"dbapp_test_rel_{uuid.uuid4().hex[:10]}"
    url = create_database(server_url, name, template=template_db)
    engine = create_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def clean(server_url: str, template_db: str, corpus: list[Path]) -> Iterator[tuple[Snapshot, int]]:
    """A clean single load of the corpus: the reference every test compares with."""
    name = f"dbapp_test_clean_{uuid.uuid4().hex[:10]}"
    url = create_database(server_url, name, template=template_db)
    result = subprocess.run(
        dbapp_process(url, "load", *map(str, corpus), "--no-progress"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    reference = snapshot(engine)
    mentions = sum(len(m) for m in reference.values())
    engine.dispose()
    drop_database(server_url, name)
    assert len(reference) == 6000 and mentions > 30_000
    yield reference, mentions


def test_kill_9_at_random_points_then_rerun(
    database: tuple[str, Engine], corpus: list[Path], clean: tuple[Snapshot, int]
) -> None:
    url, engine = database
    reference, _ = clean
    rng = random.Random(20261124)
    cmd = dbapp_process(url, "load", *map(str, corpus), "--no-progress", "--batch-size", "100")
    kills = 0
    for _ in range(5):
        before = last_load(engine)
        proc = spawn(cmd)
        if wait_for_progress(engine, proc, after=before):
            time.sleep(rng.uniform(0.0, 0.6))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
        proc.wait()
        # After every crash: no partial document. Each stored document has exactly the
        # mentions a clean run gives it.
        partial = snapshot(engine)
        assert all(partial[sha] == reference[sha] for sha in partial)
        # ...and every report figure is exact for what was committed, without a refresh.
        assert_summaries_exact(engine)
    assert kills >= 3
    final = subprocess.run(cmd, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert snapshot(engine) == reference
    assert_summaries_exact(engine)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM loads GROUP BY status")).all()
        )
    assert statuses.get("interrupted") == kills
    assert statuses.get("running", 0) == 0


def test_kill_9_during_a_bulk_load_then_rerun(
    database: tuple[str, Engine], corpus: list[Path], clean: tuple[Snapshot, int]
) -> None:
    """Bulk mode drops indexes and foreign keys: a crash must not leave them missing for good."""
    url, engine = database
    reference, _ = clean
    cmd = dbapp_process(url, "load", *map(str, corpus), "--no-progress", "--bulk",
                        "--workers", "2", "--writers", "2")  # fmt: skip
    proc = spawn(cmd)
    assert wait_for_progress(engine, proc), "the load ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with engine.connect() as conn:
        assert bulk.missing(conn)  # it died in bulk mode
        assert summaries.stale_reason(conn)  # its summaries were deferred, and say so
    partial = snapshot(engine)
    assert 0 < len(partial) < len(reference)
    assert all(partial[sha] == reference[sha] for sha in partial)
    final = subprocess.run(cmd, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert snapshot(engine) == reference
    with engine.connect() as conn:
        assert bulk.missing(conn) == []
    assert migrate.check(engine) is None
    assert_summaries_exact(engine)  # healed: rebuilt, no longer stale


@pytest.mark.parametrize(
    "options",
    [[], ["--workers", "2", "--writers", "2", "--bulk"]],
    ids=["one-writer", "two-writers-bulk"],
)
def test_database_restart_in_the_middle_of_a_load(
    tmp_path: Path, corpus: list[Path], clean: tuple[Snapshot, int], options: list[str]
) -> None:
    reference, _ = clean
    server = EmbeddedServer(tmp_path / "pgdata")
    server.start()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DBAPP_PGDATA"] = str(server.pgdata)
    cmd = dbapp_process(
        None, "load", *map(str, corpus), "--no-progress", "--batch-size", "100", *options
    )
    try:
        # Migrate first so progress can be watched from here.
        subprocess.run(dbapp_process(None, "db", "upgrade"), env=env, check=True)
        engine = create_engine(server.url("dbapp"))
        proc = spawn(cmd, env)
        assert wait_for_progress(engine, proc)
        engine.dispose()
        # A crash of the server itself (immediate mode skips the shutdown checkpoint).
        server._run("pg_ctl", ["-D", str(server.pgdata), "-m", "immediate", "stop"])
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 3, stderr
        assert "Traceback" not in stderr
        assert "lost the database" in stderr or "database connection failed" in stderr
        server.start()
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        engine = create_engine(server.url("dbapp"))
        assert snapshot(engine) == reference
        assert migrate.check(engine) is None  # a bulk load's dropped indexes are back
        assert_summaries_exact(engine)
        with engine.connect() as conn:
            first = conn.scalar(text("SELECT status FROM loads ORDER BY load_id LIMIT 1"))
        engine.dispose()
        assert first in ("interrupted", "failed")
    finally:
        server.stop()


def test_concurrent_overlapping_loaders(
    database: tuple[str, Engine], corpus: list[Path], clean: tuple[Snapshot, int]
) -> None:
    url, engine = database
    reference, _ = clean
    f = list(map(str, corpus))
    overlapping = [[f[0], f[1], f[2]], [f[1], f[2], f[3]], [f[2], f[3], f[0]]]
    procs = [
        spawn(dbapp_process(url, "load", *files, "--no-progress", "--batch-size", "50"))
        for files in overlapping
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr  # no deadlock, no error
    assert snapshot(engine) == reference
    with engine.connect() as conn:
        inserted = conn.scalar(text("SELECT sum(documents_inserted) FROM loads"))
        duplicates = conn.scalar(text("SELECT sum(documents_duplicate) FROM loads"))
    assert inserted == 6000  # each document inserted by exactly one loader
    assert duplicates == 3 * 4500 - 6000
    assert_summaries_exact(engine)  # three loaders upserting the same keys, none lost


def test_reports_and_search_answer_while_a_load_runs(
    database: tuple[str, Engine], corpus: list[Path]
) -> None:
    url, engine = database
    first = subprocess.run(
        dbapp_process(url, "load", str(corpus[0]), "--no-progress"), capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    proc = spawn(
        dbapp_process(url, "load", *map(str, corpus[1:]), "--no-progress", "--batch-size", "50")
    )
    latencies = []
    while proc.poll() is None:
        started = time.perf_counter()
        with engine.connect() as conn:
            top = run_report(conn, "top-entities", ReportParams(limit=5))
            hits = search_documents(conn, "Azerbaijan talks", limit=5)
            kwic = run_report(conn, "kwic", ReportParams(entity="Baku", limit=5))
        latencies.append(time.perf_counter() - started)
        assert top.rows and hits.rows and kwic.rows
    assert proc.returncode == 0
    assert len(latencies) >= 3
    assert max(latencies) < 5.0, latencies
