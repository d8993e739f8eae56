"""Read-only logins for BI tools and SQL users (members of the migration's ``dbapp_reader``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import DbappError

READER_ROLE = "dbapp_reader"
SCRAM_ITERATIONS = 4096


def scram_sha256(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, computed here so the password itself never
    reaches the server (or its statement log), as psql's \\password does."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def grant_reader(conn: Connection, name: str, password: str | None) -> bool:
    """Create (or update) login ``name`` as a member of ``dbapp_reader``; True if created."""
    if not conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}):
        raise DbappError(
            f"role {READER_ROLE} does not exist: run `dbapp db upgrade` as a user with "
            "CREATEROLE (or have an administrator create it)"
        )
    if name == READER_ROLE:
        raise DbappError(f"{READER_ROLE} is the group role; choose a login name")
    exists = bool(conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}))
    if exists and conn.scalar(
        text("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = :r"),
        {"r": name},
    ):
        raise DbappError(f"{name} is a privileged role; a reader login must be a plain role")
    ident = sql.Identifier(name)
    auth: sql.Composable
    if password is None:
        auth = sql.SQL("PASSWORD NULL")
    else:
        auth = sql.SQL("PASSWORD {}").format(sql.Literal(scram_sha256(password)))
    verb = "ALTER" if exists else "CREATE"
    statements = [
        sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {}").format(
            ident, auth
        ),
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(READER_ROLE), ident),
    ]
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    return not exists
