"""``dbapp db replica ...``: read replicas of the database (PostgreSQL streaming replication)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dbapp.cli._common import PortOption, err, handle_errors, out, settings
from dbapp.config import EMBEDDED_DATABASE
from dbapp.embedded import EmbeddedServer
from dbapp.errors import ConfigError
from dbapp.replica import (
    check_target,
    create_replica,
    prepare_embedded_primary,
    promote,
    replica_server,
    replica_status,
    source_from_url,
)

replica_app = typer.Typer(
    rich_markup_mode=None,
    help="Read replicas: hot standbys that stream from the primary and serve reports and BI.",
    no_args_is_help=True,
)

DirArg = Annotated[
    Path, typer.Argument(metavar="DIR", help="The replica's data directory.", show_default=False)
]


@replica_app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    target: Annotated[
        Path, typer.Argument(metavar="DIR", help="A new (or empty) directory for the replica.")
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="URL",
            help="Copy this server (its login needs REPLICATION) [default: DATABASE_URL's "
            "server, else the embedded one].",
        ),
    ] = None,
) -> None:
    """Make a replica: a base backup of the primary, set up to stream from it.

    The embedded primary gets a replication login (SCRAM; its password is kept in the
    primary's data directory) and a replication slot for this replica. Keep the primary
    running (`dbapp db start`) for the replica to follow it.

    Example: dbapp db replica create ~/replica && dbapp db replica start ~/replica
    """
    s = settings(ctx)
    url = source or s.database_url
    if url is not None:
        info = create_replica(target, source_from_url(url))
        pinned = True
    else:
        primary = EmbeddedServer(s.pgdata)
        check_target(target, primary.pgdata)
        if not (primary.pgdata / "PG_VERSION").exists():
            raise ConfigError(f"there is no database at {primary.pgdata} to copy yet")
        with primary.running():
            info = create_replica(target, prepare_embedded_primary(primary))
            pinned = primary.status().pinned
    err.print(
        f"made replica {info.pgdata} from {info.primary}: {info.size / 1e6:,.0f} MB "
        f"in {info.seconds:.1f} s (slot {info.slot})"
    )
    if not pinned:
        err.print("note: the embedded primary is not kept running; `dbapp db start` keeps it up")
    err.print("start it with:")
    out.print(f"dbapp db replica start {info.pgdata}", highlight=False)


@replica_app.command("start")
@handle_errors
def start(
    target: DirArg,
    port: PortOption = None,
) -> None:
    """Start the replica and keep it running until `db replica stop`.

    Example: dbapp db replica start ~/replica
    """
    server = replica_server(target)
    status = server.start(port)
    err.print(
        f"replica running on port {status.port}: read from it with `dbapp --pgdata "
        f"{server.pgdata} report overview`, or connect to:"
    )
    out.print(server.client_url(EMBEDDED_DATABASE, status.port), highlight=False)


@replica_app.command("stop")
@handle_errors
def stop(target: DirArg) -> None:
    """Stop the replica (it waits for dbapp commands reading from it to finish).

    Example: dbapp db replica stop ~/replica
    """
    server = replica_server(target)
    was_running = server.status().running
    status = server.stop()
    if status.running:
        err.print(f"replica stops when {status.handles} running dbapp process(es) finish")
    else:
        err.print("replica stopped" if was_running else "the replica was not running")


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n:,} bytes" if n < 10_000_000 else f"{n / 1e6:,.0f} MB ({n:,} bytes)"


@replica_app.command("status")
@handle_errors
def status(target: DirArg) -> None:
    """Show whether the replica runs, whether it streams, and its lag in bytes and seconds.

    Exits 1 when the replica runs but does not stream from its primary (for monitoring).

    Example: dbapp db replica status ~/replica
    """
    st = replica_status(target)
    table = Table(show_header=False, box=None)
    table.add_row("data directory", str(st.pgdata))
    table.add_row("role", "primary (promoted)" if st.promoted else "replica (hot standby)")
    table.add_row("running", "yes" if st.running else "no")
    table.add_row("port", str(st.port) if st.port else "-")
    table.add_row("copied from", st.primary)
    if not st.promoted:
        table.add_row("replication slot", st.slot or "-")
        table.add_row("receiving WAL", st.streaming or "no")
        table.add_row("replayed up to", st.replay_lsn or "-")
        table.add_row("primary at", st.primary_lsn or "-")
        table.add_row("lag", _fmt_bytes(st.lag_bytes))
        table.add_row(
            "lag (seconds)",
            "-" if st.lag_seconds is None else f"{st.lag_seconds:.1f} s (measured)",
        )
        if st.reported_replay_lag is not None:
            table.add_row("PostgreSQL's replay_lag", f"{st.reported_replay_lag:.1f} s")
    if st.note:
        table.add_row("note", st.note)
    out.print(table)
    if st.running and not st.promoted and st.streaming != "streaming":
        raise typer.Exit(code=1)  # for monitoring: a replica that does not follow its primary


@replica_app.command("promote")
@handle_errors
def promote_command(target: DirArg) -> None:
    """Turn the replica into a primary (failover): it stops following and accepts writes.

    Point writers at it (`dbapp --pgdata DIR load ...` or its URL). The old primary must not
    take writes any more; make new replicas from the new primary.

    Example: dbapp db replica promote ~/replica
    """
    slot = promote(target)
    err.print(f"{Path(target).expanduser().absolute()} is now a primary; it accepts writes")
    if slot:
        err.print(
            f"the old primary still keeps replication slot {slot} (up to 4 GB of WAL); if it "
            f"is still in use, drop it there: SELECT pg_drop_replication_slot('{slot}')"
        )
