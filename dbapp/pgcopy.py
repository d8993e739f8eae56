"""COPY into PostgreSQL on a SQLAlchemy connection, inside its current transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection


def _cursor(conn: Connection) -> Any:
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw.cursor()


def copy_rows(conn: Connection, into: str, rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` (tuples) into ``into`` (``table`` or ``table (columns)``)."""
    with _cursor(conn) as cur, cur.copy(f"COPY {into} FROM STDIN") as copy:
        for values in rows:
            copy.write_row(values)


def copy_text(conn: Connection, into: str, data: str) -> None:
    """COPY lines already in the text format (see dbapp.copyrows) into ``into``."""
    with _cursor(conn) as cur, cur.copy(f"COPY {into} FROM STDIN") as copy:
        copy.write(data)
