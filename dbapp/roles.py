"""Read-only logins for BI tools and SQL users (members of the migration's ``dbapp_reader``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from dbapp.errors import BadArgument, DbappError

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
        raise BadArgument(f"{READER_ROLE} is the group role; choose a login name")
    exists = bool(conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}))
    if exists and conn.scalar(
        text("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = :r"),
        {"r": name},
    ):
        raise BadArgument(f"{name} is a privileged role; a reader login must be a plain role")
    if exists:
        writes = _write_rights(conn, name)
        if writes:
            raise DbappError(
                f"{name} already exists and can write ({'; '.join(writes)}); a reader login "
                "must only read: choose a new name, or revoke those rights first"
            )
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
    _forbid_large_objects(conn)
    return not exists


_WRITE_RIGHTS = """
SELECT 'owns or may change ' || c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND (pg_get_userbyid(c.relowner) = :r
       OR has_table_privilege(:r, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER'))
UNION ALL
SELECT 'may create objects in schema ' || current_schema()
WHERE has_schema_privilege(:r, current_schema(), 'CREATE')
LIMIT 5
"""
# Creating large objects needs no grant in PostgreSQL: a read-only login could fill the disk.
_LARGE_OBJECT_FUNCTIONS = (
    "lo_from_bytea(oid, bytea)",
    "lo_create(oid)",
    "lo_creat(integer)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_put(oid, bigint, bytea)",
    "lowrite(integer, bytea)",
)


def _write_rights(conn: Connection, name: str) -> list[str]:
    """What role ``name`` may change in dbapp's schema (directly or through its groups)."""
    return [str(r) for r in conn.scalars(text(_WRITE_RIGHTS), {"r": name})]


def _forbid_large_objects(conn: Connection) -> None:
    """Take the large-object writers away from PUBLIC in this database, where we may.

    Needs ownership of the functions (a superuser, such as the embedded server's): elsewhere
    the administrator must do it, and ``grant-reader`` says so.
    """
    with conn.begin_nested() as savepoint:
        try:
            for function in _LARGE_OBJECT_FUNCTIONS:
                conn.execute(text(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC"))
        except DBAPIError:
            savepoint.rollback()


def large_objects_forbidden(conn: Connection) -> bool:
    """True when PUBLIC can no longer create large objects here."""
    return not conn.scalar(
        text("SELECT has_function_privilege('public', 'lo_from_bytea(oid, bytea)', 'EXECUTE')")
    )
