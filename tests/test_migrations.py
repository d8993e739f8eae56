"""Migrations: one head, a stairway over every revision, models equal to the migrated schema."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from dbapp import migrate
from dbapp.models import Base

REVISIONS = list(
    reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))
)


def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_single_head() -> None:
    assert len(migrate.heads()) == 1


@pytest.mark.parametrize("revision", REVISIONS, ids=[r.revision for r in REVISIONS])
def test_stairway(blank_db: str, revision) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(blank_db)
    try:
        if revision.down_revision:
            migrate.upgrade(engine, revision.down_revision)
        before = _tables(engine)
        migrate.upgrade(engine, revision.revision)
        assert migrate.current(engine) == (revision.revision,)
        migrate.downgrade(engine, revision.down_revision or "base")
        assert _tables(engine) == before
        migrate.upgrade(engine, revision.revision)
        assert migrate.current(engine) == (revision.revision,)
    finally:
        engine.dispose()


def test_models_match_migrated_schema(engine) -> None:  # type: ignore[no-untyped-def]
    assert migrate.check(engine) is None


def test_check_detects_drift(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE documents ADD COLUMN stray integer"))
    diff = migrate.check(engine)
    assert diff is not None and "stray" in diff


def test_every_model_table_is_created_by_migrations(engine) -> None:  # type: ignore[no-untyped-def]
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_removes_everything(engine) -> None:  # type: ignore[no-untyped-def]
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrate.current(engine) == ()


def test_ensure_schema_migrates_blank_and_refuses_outdated(blank_db: str) -> None:
    engine = create_engine(blank_db)
    try:
        migrate.ensure_schema(engine)
        assert migrate.current(engine) == migrate.heads()
        if len(REVISIONS) > 1:
            migrate.downgrade(engine, REVISIONS[0].revision)
            with pytest.raises(migrate.MigrationError, match="dbapp db upgrade"):
                migrate.ensure_schema(engine)
    finally:
        engine.dispose()
