"""``dbapp db ...``: migrations and the embedded server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.engine import URL, make_url

from dbapp import bulk, migrate
from dbapp.backup import backup, check_backup_file, restore
from dbapp.cli._common import PortOption, err, handle_errors, out, settings, styled
from dbapp.cli.replica import replica_app
from dbapp.db import client_url, open_database
from dbapp.embedded import EmbeddedServer, ServerStatus
from dbapp.errors import ConfigError
from dbapp.roles import grant_reader, large_objects_forbidden

db_app = typer.Typer(
    rich_markup_mode=None,
    help="Migrate the schema; start and stop the embedded server.",
    no_args_is_help=True,
)
db_app.add_typer(replica_app, name="replica")


@db_app.command()
@handle_errors
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the schema up to REVISION (default: the newest).

    Example: dbapp db upgrade
    """
    with open_database(settings(ctx), writes=True) as db:
        migrate.upgrade(db.engine, revision)
        if set(migrate.current(db.engine)) == set(migrate.heads()):
            with db.engine.begin() as conn:
                rebuilt = bulk.restore(conn)  # what a dead bulk load left missing
            if rebuilt:
                err.print(f"rebuilt {len(rebuilt)} indexes and keys a bulk load left missing")
        err.print(f"schema at {', '.join(migrate.current(db.engine)) or 'base'}")


@db_app.command()
@handle_errors
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate the schema down to REVISION. Data in dropped tables is lost.

    Asks for confirmation (on a terminal) unless --yes; without a terminal --yes is required.

    Example: dbapp db downgrade 0004 --yes
    """
    if not yes:
        what = "EVERY dbapp table and all its data" if revision == "base" else "newer schema"
        if not sys.stdin.isatty():
            raise ConfigError(f"downgrading to {revision} drops {what}: add --yes to confirm")
        if not typer.confirm(f"downgrade to {revision}, dropping {what}?", default=False):
            raise typer.Exit(code=1)
    with open_database(settings(ctx), writes=True) as db:
        migrate.downgrade(db.engine, revision)
        err.print(f"schema at {', '.join(migrate.current(db.engine)) or 'base'}")


@db_app.command()
@handle_errors
def current(ctx: typer.Context) -> None:
    """Print the revision the database is at, and whether that is the newest.

    Example: dbapp db current
    """
    with open_database(settings(ctx)) as db:
        have = migrate.current(db.engine)
    heads = set(migrate.heads())
    if not have:
        out.print("base (no dbapp schema yet: run `dbapp db upgrade`)")
    for rev in have:
        out.print(f"{rev} (head)" if rev in heads else f"{rev} (behind: run `dbapp db upgrade`)")


@db_app.command()
@handle_errors
def history() -> None:
    """List every migration, newest first.

    Example: dbapp db history
    """
    heads = set(migrate.heads())
    for rev, down, message in migrate.history():
        mark = " (head)" if rev in heads else ""
        out.print(f"{down or '<base>'} -> {rev}{mark}, {message}", highlight=False)


@db_app.command()
@handle_errors
def check(ctx: typer.Context) -> None:
    """Fail (exit 1) when the models and the migrated schema differ.

    Example: dbapp db check
    """
    with open_database(settings(ctx)) as db:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        diff = migrate.check(db.engine)
    if diff:
        err.print(styled("schema drift:", "red", f" {diff}"), highlight=False)
        raise typer.Exit(code=1)
    out.print("no drift: the models match the migrated schema")


@db_app.command()
@handle_errors
def url(
    ctx: typer.Context,
    show_password: Annotated[
        bool, typer.Option("--show-password", help="Print the password instead of ***.")
    ] = False,
) -> None:
    """Print the connection URL for psql or a BI tool.

    Example: psql "$(dbapp db url)"
    """
    value, reachable = client_url(settings(ctx), show_password)
    out.print(value, highlight=False, soft_wrap=True)
    if not reachable:
        err.print("note: the embedded server is not running; `dbapp db start` keeps it up")


@db_app.command("grant-reader")
@handle_errors
def grant_reader_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name to create or update.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password (servers with trust auth).")
    ] = False,
) -> None:
    """Create a read-only login for BI tools and psql: SELECT on tables and views, nothing else.

    The password is asked for (or read from stdin) and sent to the server only as a SCRAM
    verifier; it is never printed or logged.

    Example: dbapp db grant-reader metabase
    """
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the password on: use --password-stdin")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if password == "":
        raise ConfigError("empty password; use --no-password for a login without one")
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        with db.engine.begin() as conn:
            created = grant_reader(conn, name, password)
            lo_closed = large_objects_forbidden(conn)
        # The reader types its own password (psql asks); the owner's passfile is not its.
        owner = make_url(client_url(settings(ctx))[0])
        url = URL.create(
            "postgresql", username=name, host=owner.host, port=owner.port, database=owner.database
        )
    if not lo_closed:
        err.print(
            "warning: logins here may still create large objects (lo_from_bytea); an "
            "administrator can stop that: REVOKE EXECUTE ON FUNCTION lo_from_bytea(oid, bytea), "
            "lo_create(oid), lo_creat(integer), lo_put(oid, bigint, bytea) FROM PUBLIC"
        )
    err.print(f"{'created' if created else 'updated'} read-only login {name}; connect with:")
    out.print(url.render_as_string(), highlight=False)


@db_app.command("backup")
@handle_errors
def backup_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The backup file to write (custom format).")],
) -> None:
    """Back the database up with pg_dump (custom format); safe while loads run.

    Example: dbapp db backup news.dump
    """
    with open_database(settings(ctx)) as db:
        result = backup(db.engine, file)
    err.print(
        f"wrote {result.path} ({result.size / 1e6:,.1f} MB, {result.documents:,} documents); "
        f"restore with: dbapp db restore {result.path}"
    )


@db_app.command("restore")
@handle_errors
def restore_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A file written by `dbapp db backup`.")],
) -> None:
    """Restore a backup into an empty database (a new --pgdata or DATABASE_URL database).

    Example: dbapp --pgdata ~/restored db restore news.dump
    """
    check_backup_file(file)  # before a new data directory is made for nothing
    with open_database(settings(ctx), writes=True) as db:
        documents = restore(db.engine, file)
    err.print(f"restored {documents:,} documents from {file}")


def _embedded(ctx: typer.Context) -> EmbeddedServer:
    s = settings(ctx)
    if not s.embedded:
        raise ConfigError("DATABASE_URL is set: the embedded server is not in use")
    return EmbeddedServer(s.pgdata)


def _print_status(status: ServerStatus) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("data directory", str(status.pgdata))
    table.add_row("initialised", "yes" if status.initialised else "no")
    table.add_row("running", f"yes (pid {status.pid})" if status.running else "no")
    table.add_row("port", str(status.port) if status.port else "-")
    table.add_row("kept running", "yes (db start)" if status.pinned else "no")
    table.add_row("dbapp processes using it", str(status.handles))
    out.print(table)


@db_app.command()
@handle_errors
def start(
    ctx: typer.Context,
    port: PortOption = None,
) -> None:
    """Start the embedded server and keep it running (for psql and BI tools) until `db stop`.

    Example: dbapp db start --port 5544
    """
    server = _embedded(ctx)
    server.start(port)
    with open_database(settings(ctx)) as db:
        migrate.ensure_schema(db.engine)
    value, _ = client_url(settings(ctx))
    err.print("embedded server running; connect with:")
    out.print(value, highlight=False)


@db_app.command()
@handle_errors
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server (it waits for running dbapp commands to finish).

    Example: dbapp db stop
    """
    server = _embedded(ctx)
    was_running = server.status().running
    status = server.stop()
    if status.running:
        err.print(f"server stops when {status.handles} running dbapp process(es) finish")
    elif was_running:
        err.print("embedded server stopped")
    else:
        err.print("the embedded server was not running")


@db_app.command()
@handle_errors
def status(ctx: typer.Context) -> None:
    """Show whether the embedded server is running, where, and who uses it.

    Example: dbapp db status
    """
    _print_status(_embedded(ctx).status())
