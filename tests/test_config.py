"""Configuration: URL forms, password masking, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbapp.config import get_settings, libpq_url, mask_password, normalise_url
from dbapp.errors import ConfigError


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@h:5/db",
        "postgres://u:p@h:5/db",
        "postgresql+psycopg2://u:p@h:5/db",
        "postgresql+psycopg://u:p@h:5/db",
    ],
)
def test_any_postgres_url_becomes_psycopg3(given: str) -> None:
    assert normalise_url(given) == "postgresql+psycopg://u:p@h:5/db"


def test_non_postgres_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        normalise_url("sqlite:///x.db")
    with pytest.raises(ConfigError, match="not a database URL"):
        normalise_url("not a url")


def test_password_is_masked_and_libpq_form_is_plain() -> None:
    assert mask_password("postgresql+psycopg://u:s3cret@h/db") == "postgresql+psycopg://u:***@h/db"
    assert libpq_url("postgresql+psycopg://u@h:1/db") == "postgresql://u@h:1/db"


def test_argument_beats_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@h/db")
    monkeypatch.setenv("DBAPP_PGDATA", str(tmp_path / "env"))
    s = get_settings(database_url="postgresql://arg@h/db")
    assert s.database_url == "postgresql+psycopg://arg@h/db"
    assert s.pgdata == tmp_path / "env"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("DBAPP_PGDATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    s = get_settings()
    # Per user, not per working directory: the same database from any folder.
    assert s.embedded and s.pgdata == tmp_path / "xdg" / "dbapp" / "pgdata"
    monkeypatch.chdir(tmp_path)
    assert get_settings().pgdata == s.pgdata
