"""Read replicas (issue 15): real embedded servers on 127.0.0.1, streaming replication.

One primary (loaded with the seeds, kept running) and a replica made from it serve the whole
module; a second replica, made with --from, is promoted at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from dbapp.cli import app
from dbapp.embedded import EmbeddedServer
from dbapp.replica import REPLICATOR, replica_status
from tests.conftest import SEEDS

runner = CliRunner()
NO_URL = {"DATABASE_URL": None, "DBAPP_PGDATA": None}
EXIT_READ_ONLY = 7
REPORTS = [
    ["overview"],
    ["top-entities", "--limit", "50"],
    ["timeline", "--period", "month"],
    ["co-mentions"],
    ["source-coverage"],
    ["kwic", "--entity", "Azerbaijan"],
]


def cli(pgdata: Path, *args: str) -> Result:
    return runner.invoke(app, ["--pgdata", str(pgdata), *args], env=NO_URL)


def plain(pgdata: Path, *args: str) -> Result:
    """A command that does not touch the configured database (replica management)."""
    return runner.invoke(app, list(args), env=NO_URL | {"DBAPP_PGDATA": str(pgdata)})


def counts(server: EmbeddedServer) -> tuple[int, int]:
    with psycopg.connect(server.url("dbapp").replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM mentions)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_for(predicate, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def article(path: Path, title: str, text: str, day: str) -> Path:
    import json

    path.write_text(
        json.dumps({"title": title, "text": text, "published": day, "source": "Trend"}) + "\n"
    )
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("replicas")
    primary, replica = root / "primary", root / "replica"
    try:
        assert cli(primary, "load", str(SEEDS), "--no-progress").exit_code == 0
        assert cli(primary, "db", "start").exit_code == 0  # kept running: replicas stream
        made = plain(primary, "db", "replica", "create", str(replica))
        assert made.exit_code == 0, made.output
        started = plain(primary, "db", "replica", "start", str(replica))
        assert started.exit_code == 0, started.output
        yield primary, replica
    finally:
        for directory in root.iterdir():
            if (directory / "PG_VERSION").exists():
                EmbeddedServer(directory).stop()


def test_replica_has_the_primarys_data_and_reports(pair: tuple[Path, Path]) -> None:
    primary, replica = pair
    assert counts(EmbeddedServer(replica)) == counts(EmbeddedServer(primary))
    assert counts(EmbeddedServer(replica))[1] > 0
    for args in REPORTS:
        ours = cli(primary, "report", *args, "--format", "csv")
        theirs = cli(replica, "report", *args, "--format", "csv")
        assert ours.exit_code == 0, ours.output
        assert theirs.exit_code == 0, theirs.output
        assert theirs.stdout == ours.stdout, args
        assert len(theirs.stdout.splitlines()) > 1, args  # a header and rows, not nothing
    found = cli(replica, "search", "Karabakh", "--format", "csv")
    assert found.exit_code == 0, found.output
    assert found.stdout == cli(primary, "search", "Karabakh", "--format", "csv").stdout
    shown = cli(replica, "show", "1", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == cli(primary, "show", "1", "--format", "json").stdout
    checked = cli(replica, "report", "check")  # a read at one snapshot: fine on a replica
    assert checked.exit_code == 0, checked.output
    assert "every summary table matches" in checked.stderr
    listed = cli(replica, "loads")
    assert listed.exit_code == 0, listed.output
    assert "completed" in listed.stdout


def test_load_on_the_primary_shows_on_the_replica(pair: tuple[Path, Path], tmp_path: Path) -> None:
    primary, replica = pair
    before = counts(EmbeddedServer(replica))
    new = article(tmp_path / "new.jsonl", "Talks", "Baku and Tbilisi held talks.", "2024-05-01")
    assert cli(primary, "load", str(new), "--no-progress").exit_code == 0
    assert wait_for(lambda: counts(EmbeddedServer(replica))[0] == before[0] + 1)
    assert counts(EmbeddedServer(replica)) == counts(EmbeddedServer(primary))
    assert wait_for(lambda: replica_status(replica).lag_bytes == 0)
    status = replica_status(replica)
    assert status.streaming == "streaming"
    assert status.lag_seconds is not None and status.lag_seconds < 10
    shown = plain(primary, "db", "replica", "status", str(replica))
    assert shown.exit_code == 0, shown.output
    assert "streaming" in shown.stdout and "lag" in shown.stdout


def test_writes_on_a_replica_are_refused_in_one_line(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    _, replica = pair
    before = counts(EmbeddedServer(replica))
    new = article(tmp_path / "w.jsonl", "W", "Ankara hosted a summit.", "2024-06-01")
    writes = [
        ["load", str(new), "--no-progress"],
        ["entities", "add", "Some Agency", "--kind", "ORG"],
        ["entities", "merge", "Baku", "Azerbaijan"],
        ["documents", "delete", "--source", "Trend", "--yes"],
        ["db", "upgrade"],
        ["report", "check", "--repair"],
    ]
    for args in writes:
        result = cli(replica, *args)
        assert result.exit_code == EXIT_READ_ONLY, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "read-only replica" in lines[0], args
        assert "Traceback" not in result.output
    # Plain SQL through the replica's URL is refused by PostgreSQL itself.
    with (
        psycopg.connect(EmbeddedServer(replica).url("dbapp").replace("+psycopg", "")) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute("DELETE FROM mentions")
    assert counts(EmbeddedServer(replica)) == before


def test_second_replica_from_url_then_promoted_takes_a_load(
    pair: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    primary, replica = pair
    standby = tmp_path_factory.mktemp("failover") / "standby"
    owner = EmbeddedServer(primary)
    # The URL `dbapp db url` prints: no password in it, libpq reads the passfile it names.
    source = cli(primary, "db", "url").stdout.strip()
    assert "passfile=" in source and owner.password() not in source
    made = plain(primary, "db", "replica", "create", str(standby), "--from", source)
    assert made.exit_code == 0, made.output
    assert owner.password() not in made.output  # the URL is shown masked
    # Two replicas, two slots on the primary; the first one still streams.
    with psycopg.connect(owner.url("postgres").replace("+psycopg", "")) as conn:
        slots = conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()
        login = conn.execute(
            "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = %s", (REPLICATOR,)
        ).fetchone()
    assert slots == (2,)
    assert login == (True, False)  # the replication login is no superuser
    assert replica_status(replica).streaming == "streaming"

    promoted = plain(primary, "db", "replica", "promote", str(standby))
    assert promoted.exit_code == 0, promoted.output
    assert replica_status(standby).promoted
    new = article(standby.parent / "after.jsonl", "After", "Baku after failover.", "2024-07-01")
    server = EmbeddedServer(standby)
    try:
        assert plain(primary, "db", "replica", "start", str(standby)).exit_code == 0
        before = counts(server)
        loaded = cli(standby, "load", str(new), "--no-progress")
        assert loaded.exit_code == 0, loaded.output
        assert counts(server)[0] == before[0] + 1
    finally:
        server.stop()
    # The old primary does not see what the new one took.
    assert counts(EmbeddedServer(primary))[0] == before[0]
    again = plain(primary, "db", "replica", "promote", str(standby))
    assert again.exit_code == 2 and "already a primary" in again.stderr


def test_create_refuses_a_used_directory_and_a_non_replica(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    primary, _ = pair
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    refused = plain(primary, "db", "replica", "create", str(used))
    assert refused.exit_code == 2 and "not an empty directory" in refused.stderr
    assert (used / "notes.txt").read_text() == "mine"
    for verb in ("start", "stop", "status", "promote"):
        result = plain(primary, "db", "replica", verb, str(tmp_path))
        assert result.exit_code == 2, (verb, result.output)
        assert "not a replica" in result.stderr


def test_an_interrupted_create_is_cleared_and_an_empty_directory_works(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    primary, _ = pair
    # What a create killed midway leaves: its mark next to the directory, a partial copy.
    target = tmp_path / "again"
    target.mkdir()
    (target / "PG_VERSION").write_text("18\n")
    (target / "base").mkdir()
    (tmp_path / ".again.replica-creating").write_text("12345\n")
    made = plain(primary, "db", "replica", "create", str(target))
    assert made.exit_code == 0, made.output
    assert not (tmp_path / ".again.replica-creating").exists()
    # An existing empty directory (mode 0755) becomes a data directory PostgreSQL accepts.
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    assert plain(primary, "db", "replica", "create", str(empty)).exit_code == 0
    try:
        started = plain(primary, "db", "replica", "start", str(empty))
        assert started.exit_code == 0, started.output
        assert started.stdout.strip().startswith("postgresql://")  # only the URL on stdout
        assert len(started.stdout.strip().splitlines()) == 1
    finally:
        EmbeddedServer(empty).stop()
        EmbeddedServer(target).stop()
    inside = plain(primary, "db", "replica", "create", str(primary / "inner"))
    assert inside.exit_code == 2 and "inside the primary" in inside.stderr
    newline = plain(primary, "db", "replica", "create", str(tmp_path / "a\nb"))
    assert newline.exit_code == 2 and "control character" in newline.stderr
    for bad in ("mysql://root@127.0.0.1/x", "garbage", "postgresql://u@127.0.0.1:abc/x"):
        result = plain(primary, "db", "replica", "create", str(tmp_path / "x"), "--from", bad)
        assert result.exit_code == 2, (bad, result.output)


def test_a_primary_with_replicas_keeps_its_port(tmp_path: Path) -> None:
    import socket

    from dbapp.embedded import REPLICATION_PASSFILE
    from dbapp.errors import EmbeddedServerError

    server = EmbeddedServer(tmp_path / "pgdata")
    port = server.start().port
    assert port is not None
    (server.pgdata / REPLICATION_PASSFILE).write_text("x")  # as if it had a replica
    server.stop()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(EmbeddedServerError, match="replicas follow it"):
            server.start()
    assert not server.status().pinned  # a failed start does not keep it "running"
    assert server.start().port == port  # free again: the same port
    server.stop()
