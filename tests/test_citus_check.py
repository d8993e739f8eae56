"""The Citus plan check (issue 15) reads the live, migrated schema and finds rule breaks."""

from __future__ import annotations

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchmarks.citus_check import DISTRIBUTED, check
from dbapp import migrate


def _findings(engine: Engine) -> list:  # type: ignore[type-arg]
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        return check(conn)


def test_head_schema_conforms_except_what_the_plan_replaces(engine: Engine) -> None:
    findings = _findings(engine)
    assert [f for f in findings if not f.planned] == []
    planned = {(f.rule, f.table) for f in findings}
    # The two deviations SCALING.md accepts on one machine, each with its Citus replacement.
    assert ("unique", "documents") in planned
    assert ("trigger", "mentions") in planned and ("trigger", "documents") in planned
    assert all(f.table in DISTRIBUTED for f in findings)


def test_check_finds_what_a_migration_must_change(engine: Engine) -> None:
    migrate.downgrade(engine, "0008")  # mentions keyed by mention_id alone
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch_notes (id int PRIMARY KEY, document_id bigint "
                          "REFERENCES documents (document_id))"))  # fmt: skip
        conn.execute(text("CREATE MATERIALIZED VIEW scratch_counts AS "
                          "SELECT count(*) FROM mentions"))  # fmt: skip
        conn.execute(text("ALTER TABLE sources ADD COLUMN first_document_id bigint "
                          "REFERENCES documents (document_id)"))  # fmt: skip
    failures = {(f.rule, f.table, f.name) for f in _findings(engine) if not f.planned}
    assert ("unique", "mentions", "pk_mentions") in failures
    assert ("placed", "scratch_notes", "scratch_notes") in failures
    assert ("materialized view", "scratch_counts", "scratch_counts") in failures
    assert ("foreign key", "sources", "sources_first_document_id_fkey") in failures
