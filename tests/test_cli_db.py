"""`dbapp db ...` on a real server: migrate, inspect, check, URL; clear errors when it is down."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from dbapp import migrate
from dbapp.cli import app

runner = CliRunner()


def invoke(url: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database-url", url, *args])


def test_upgrade_current_check_downgrade(blank_db: str) -> None:
    result = invoke(blank_db, "db", "current")
    assert result.exit_code == 0 and "base" in result.output
    result = invoke(blank_db, "db", "upgrade")
    assert result.exit_code == 0, result.output
    engine = create_engine(blank_db)
    try:
        assert {"documents", "mentions", "entities"} <= set(inspect(engine).get_table_names())
        result = invoke(blank_db, "db", "current")
        assert f"{migrate.heads()[0]} (head)" in result.output
        result = invoke(blank_db, "db", "check")
        assert result.exit_code == 0 and "no drift" in result.output
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_stray ON documents (title)"))
        result = invoke(blank_db, "db", "check")
        assert result.exit_code == 1 and "ix_stray" in result.output
        result = invoke(blank_db, "db", "downgrade", "base")  # no terminal, no --yes: refused
        assert result.exit_code == 2 and "--yes" in result.output
        assert "documents" in inspect(engine).get_table_names()
        result = invoke(blank_db, "db", "downgrade", "base", "--yes")
        assert result.exit_code == 0
        assert "documents" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_history_lists_revisions() -> None:
    result = runner.invoke(app, ["db", "history"])
    assert result.exit_code == 0
    for rev, _, _ in migrate.history():
        assert rev in result.output


def test_url_masks_password_unless_asked() -> None:
    url = "postgresql://reader:s3cret@db.example:5432/news"
    result = invoke(url, "db", "url")
    assert result.exit_code == 0
    assert result.stdout.strip() == "postgresql://reader:***@db.example:5432/news"
    assert "s3cret" not in result.output
    result = invoke(url, "db", "url", "--show-password")
    assert result.stdout.strip() == url


def test_unreachable_server_is_one_clear_line_and_exit_3() -> None:
    result = invoke("postgresql://nobody:pw@127.0.0.1:1/x", "db", "current")
    assert result.exit_code == 3
    assert "cannot connect to postgresql+psycopg://nobody:***@127.0.0.1:1/x" in result.stderr
    assert "Traceback" not in result.output and "pw@" not in result.output


def test_embedded_commands_refuse_when_database_url_is_set() -> None:
    result = invoke("postgresql://u@h/db", "db", "status")
    assert result.exit_code == 2
    assert "DATABASE_URL is set" in result.stderr


def test_bad_url_is_a_config_error() -> None:
    result = invoke("mysql://u@h/db", "db", "current")
    assert result.exit_code == 2 and "needs PostgreSQL" in result.stderr
