"""Injection and secrets: user text is always data; passwords never show unless asked."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from dbapp.report import list_reports
from tests.test_load import dbapp, rows, scalar

HOSTILE = [
    "x'; DROP TABLE documents; --",
    "Trend' OR '1'='1",
    "\\'; SELECT pg_sleep(5); --",
    "Robert'); DELETE FROM mentions;--",
    '"; TRUNCATE loads; --',
    "%' OR 1=1 --",
    "$$; DROP TABLE sources; $$",
    "Baku\u0000",
]


@pytest.fixture
def loaded(fresh_db: str) -> str:
    from tests.conftest import SEEDS

    assert dbapp(fresh_db, "load", str(SEEDS)).exit_code == 0
    return fresh_db


def _intact(engine: Engine) -> None:
    assert scalar(engine, "SELECT count(*) FROM documents") == 2
    assert scalar(engine, "SELECT count(*) FROM mentions") == 53
    assert scalar(engine, "SELECT count(*) FROM loads") >= 1
    assert scalar(engine, "SELECT count(*) FROM sources") >= 1


@pytest.mark.parametrize("hostile", HOSTILE)
def test_report_filters_are_data(loaded: str, engine: Engine, hostile: str) -> None:
    for name, report in list_reports().items():
        by_source = dbapp(loaded, "report", name, "--source", hostile, "--format", "json")
        if "\x00" in hostile:  # refused up front, whichever report
            assert by_source.exit_code == 2 and "NUL character" in by_source.stderr
        elif name == "kwic":
            assert by_source.exit_code == 2 and "needs --entity" in by_source.stderr
        elif "source" in report.options:  # no such source: a clear usage error, not SQL
            assert by_source.exit_code == 2, by_source.output
            assert "no source" in by_source.stderr
        else:
            assert by_source.exit_code == 0 and json.loads(by_source.stdout)
        by_entity = dbapp(loaded, "report", name, "--entity", hostile, "--format", "json")
        if "entity" in report.options:
            assert by_entity.exit_code == 2
            assert "no entity named" in by_entity.stderr or "NUL character" in by_entity.stderr
        elif "\x00" not in hostile:
            assert by_entity.exit_code == 0, by_entity.output
        assert "Traceback" not in by_source.output + by_entity.output
    kind = dbapp(loaded, "report", "top-entities", "--kind", hostile)
    assert kind.exit_code == 2
    assert "unknown kind" in kind.stderr or "NUL character" in kind.stderr
    _intact(engine)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_search_and_curation_strings_are_data(loaded: str, engine: Engine, hostile: str) -> None:
    found = dbapp(loaded, "search", hostile, "--format", "json")
    if "\x00" in hostile:
        assert found.exit_code == 2 and "NUL character" in found.stderr
    else:  # the words are search terms ("Trend' OR '1'='1" finds Trend's articles)
        assert found.exit_code == 0 and isinstance(json.loads(found.stdout), list)
    shown = dbapp(loaded, "entities", "show", hostile)
    assert shown.exit_code == 2
    assert "no entity named" in shown.stderr or "NUL character" in shown.stderr
    listed = dbapp(loaded, "entities", "list", "--search", hostile)
    assert listed.exit_code == (2 if "\x00" in hostile else 0)
    _intact(engine)
    # As an alias it is stored verbatim, and removed again.
    if "\x00" not in hostile:
        added = dbapp(loaded, "entities", "alias", "add", hostile, "Baku")
        assert added.exit_code == 0, added.output
        stored = rows(engine, "SELECT alias FROM entity_aliases WHERE origin = 'user'")
        assert stored == [(hostile,)]
        assert dbapp(loaded, "entities", "alias", "remove", hostile).exit_code == 0
    _intact(engine)


def test_hostile_map_columns_and_source_names(loaded: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(
        json.dumps({"a'; DROP TABLE documents; --": "Injected body.", "date": "2024-01-01"})
    )
    result = dbapp(
        loaded,
        "load",
        str(path),
        "--map",
        "text=a'; DROP TABLE documents; --",
        "--source",
        "Evil'); DROP TABLE sources; --",
    )
    assert result.exit_code == 0, result.output
    assert rows(
        engine,
        "SELECT s.name FROM documents d JOIN sources s USING (source_id) WHERE d.body = :b",
        b="Injected body.",
    ) == [("Evil'); DROP TABLE sources; --",)]


def test_secrets_stay_out_of_output_and_ledger(loaded: str, engine: Engine) -> None:
    # A login whose password is the secret (the embedded server checks passwords).
    user = f"secret_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD 'hunter2-secret'"))
    try:
        _secrets_stay_out(loaded, engine, user)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP ROLE {user}"))


def _secrets_stay_out(loaded: str, engine: Engine, user: str) -> None:
    secret_url = (
        make_url(loaded)
        .set(username=user, password="hunter2-secret")
        .render_as_string(hide_password=False)
    )
    listing = dbapp(secret_url, "loads")
    assert listing.exit_code == 0 and "hunter2" not in listing.output
    assert "hunter2" not in dbapp(secret_url, "db", "url").output
    assert "hunter2" in dbapp(secret_url, "db", "url", "--show-password").stdout
    down = dbapp(
        "postgresql://u:hunter2-secret@127.0.0.1:1/x", "load", "/nonexistent"
    )  # unreachable: the error names the server, not the password
    assert down.exit_code == 3 and "hunter2" not in down.output and "***" in down.stderr
    dbapp(secret_url, "load", str(Path(__file__).parent.parent / "seeds"))
    ledger = rows(engine, "SELECT arguments::text, coalesce(error, '') FROM loads")
    assert all("hunter2" not in a and "hunter2" not in e for a, e in ledger)
