"""Fixtures: a real PostgreSQL server (DATABASE_URL, or the embedded one) and throwaway databases.

Every test session migrates a template database with Alembic once; tests that commit get their own
copy of it (CREATE DATABASE ... TEMPLATE), tests that do not run inside a rolled-back transaction.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from dbapp import migrate
from dbapp.config import normalise_url
from dbapp.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SEEDS = REPO / "seeds"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared corpora beside the repository)")
    return path


SESSION_MARK = "DBAPP_TEST_SESSION"


def _leftovers(mark: str, me: int) -> list[psutil.Process]:
    """Processes this test session started that still run: every process whose environment
    carries this session's mark (children inherit it: loaders, workers, resource trackers,
    reapers, embedded servers), other than this pytest itself."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.info["pid"] == me:
            continue
        try:
            if proc.environ().get(SESSION_MARK) == mark:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _cmdline(proc: psutil.Process) -> str:
    """A process's command line; empty for one that has exited (a zombie not yet reaped, such
    as an embedded server's reaper, which nobody waits for)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails the run if any process the tests started outlives them (checked last)."""
    mark = uuid.uuid4().hex
    os.environ[SESSION_MARK] = mark
    yield
    me = os.getpid()
    # This pytest's own multiprocessing resource tracker (in-process loads with workers)
    # ends with it; everything else must be gone.
    own = {p.pid for p in psutil.Process(me).children() if "resource_tracker" in _cmdline(p)}
    deadline = time.monotonic() + 30  # reapers and servers stop within seconds of release
    while (left := [p for p in _leftovers(mark, me) if p.pid not in own]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    if left:
        described = [_cmdline(p)[:200] for p in left if p.is_running()]
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        pytest.fail(f"processes left behind by the tests: {described}")


def _admin(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT")


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    engine = _admin(server_url)
    with engine.connect() as conn:
        tmpl = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{tmpl}'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Maintenance URL of the server under test: DATABASE_URL's server, or an embedded one."""
    if os.environ.get("DATABASE_URL"):
        yield normalise_url(os.environ["DATABASE_URL"])
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded") / "pgdata")
    server.acquire()
    try:
        yield server.url("postgres")
    finally:
        server.release()


def _unique(prefix: str) -> str:
    return f"dbapp_test_{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """Name of a database migrated to head by Alembic, used as the template for fresh ones."""
    name = _unique("tmpl")
    url = create_database(server_url, name)
    engine = create_engine(url)
    migrate.upgrade(engine, "head")
    engine.dispose()
    yield name
    drop_database(server_url, name)


@pytest.fixture
def fresh_db(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a new migrated database of the test's own, dropped afterwards."""
    name = _unique("t")
    url = create_database(server_url, name, template=template_db)
    yield url
    drop_database(server_url, name)


@pytest.fixture
def blank_db(server_url: str) -> Iterator[str]:
    """URL of a new database with no schema at all."""
    name = _unique("blank")
    url = create_database(server_url, name)
    yield url
    drop_database(server_url, name)


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def shared_db(server_url: str, template_db: str) -> Iterator[Engine]:
    """One migrated database for tests that roll back everything they do."""
    name = _unique("shared")
    eng = create_engine(create_database(server_url, name, template=template_db))
    yield eng
    eng.dispose()
    drop_database(server_url, name)


@pytest.fixture
def session(shared_db: Engine) -> Iterator[Session]:
    """A session whose commits become savepoints; the whole test is rolled back."""
    with shared_db.connect() as conn:
        trans = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as sess:
            yield sess
        trans.rollback()


def assert_summaries_exact(engine: Engine) -> None:
    """The summary tables behind the report views equal a recomputation from the data (what
    `dbapp report check` runs); fails with the differing keys."""
    from dbapp import summaries

    with engine.connect() as conn:
        result = summaries.check_snapshot(conn)
    wrong = {t.table: t.examples for t in result.tables if t.differing}
    assert result.ok, f"summaries disagree with the data: {wrong}; stale: {result.stale}"
