"""``dbapp documents delete``, ``dbapp documents deletions`` and ``dbapp loads undo``."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer
from rich.table import Table

from dbapp import migrate
from dbapp.cli._common import MAX_ID, MAX_ROWS, err, handle_errors, out, settings
from dbapp.cli._progress import RichBar
from dbapp.db import open_database
from dbapp.delete import (
    DeleteResult,
    Selection,
    delete_documents,
    dry_run,
    list_deletions,
)
from dbapp.errors import ConfigError

documents_app = typer.Typer(
    rich_markup_mode=None,
    help="Delete documents (by load, source, date or id) and list past deletions.",
    no_args_is_help=True,
)

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say how many would go; delete nothing.")
]


def _confirm(what: str, yes: bool) -> None:
    """Ask on a terminal; without one, --yes is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"this deletes {what}: add --yes to confirm")
    if not typer.confirm(f"delete {what}?", default=False):
        err.print("nothing deleted")
        raise typer.Exit(code=1)


def _run(ctx: typer.Context, selection: Selection, dry: bool, yes: bool) -> DeleteResult:
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        planned = dry_run(db.engine, selection)
        what = f"{planned.documents:,} documents and {planned.mentions:,} mentions"
        if dry or not planned.documents:
            out.print(
                f"would delete {what}" if planned.documents else "no document matches",
                highlight=False,
            )
            return planned
        _confirm(what, yes)
        bar = RichBar("deleting") if sys.stderr.isatty() else None
        try:
            result = delete_documents(db.engine, selection, bar)
        except KeyboardInterrupt:
            err.print(
                "deletion interrupted: the chunks already deleted stay deleted (see `dbapp "
                "documents deletions`); run the same command again to finish"
            )
            raise
    out.print(
        f"deletion {result.deletion_id}: deleted {result.documents:,} documents and "
        f"{result.mentions:,} mentions in {result.elapsed:.2f} s",
        highlight=False,
    )
    return result


@documents_app.command()
@handle_errors
def delete(
    ctx: typer.Context,
    load: Annotated[
        int | None, typer.Option("--load", min=1, max=MAX_ID, help="Documents this load stored.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Documents of this source.")] = None,
    before: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="Documents published before this day (undated ones are kept).",
            show_default=False,
        ),
    ] = None,
    ids: Annotated[
        list[int] | None,
        typer.Option(
            "--id", min=1, metavar="ID", help="A document id (repeat the option for more)."
        ),
    ] = None,
    dry: DryRunOption = False,
    yes: YesOption = False,
) -> None:
    """Delete documents and their mentions; the report views stay exact.

    Criteria combine (all must hold). Asks for confirmation unless --yes (required without a
    terminal). Each deletion is recorded: see `dbapp documents deletions`. A deleted document
    can be loaded again.

    Example: dbapp documents delete --source Trend --before 2020-01-01 --dry-run
    """
    selection = Selection(
        load_id=load,
        source=source,
        before=before.date() if before else None,
        ids=tuple(ids or ()),
    )
    _run(ctx, selection, dry, yes)


@documents_app.command()
@handle_errors
def deletions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="How many, newest first.")] = 20,
) -> None:
    """List past deletions: when, who, what, how many.

    Example: dbapp documents deletions --limit 5
    """
    with open_database(settings(ctx)) as db, db.engine.begin() as conn:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        rows = list_deletions(conn, limit)
    table = Table("deletion", "started", "status", "by", "what", "documents", "mentions")
    for r in rows:
        what = ", ".join(
            f"ids {v[:5]}{f' and {len(v) - 5:,} more' if len(v) > 5 else ''}"
            if k == "ids" and isinstance(v, list)
            else f"{k} {str(v)[:80]}"
            for k, v in r.criteria.items()
        )
        table.add_row(
            str(r.deletion_id),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.status,
            f"{r.os_user or '?'} ({r.db_user})",
            what,
            f"{r.documents_deleted:,}",
            f"{r.mentions_deleted:,}",
        )
    out.print(table)


@handle_errors
def undo(
    ctx: typer.Context,
    load_id: Annotated[
        int, typer.Argument(min=1, max=MAX_ID, help="The load's number (see `dbapp loads`).")
    ],
    dry: DryRunOption = False,
    yes: YesOption = False,
) -> None:
    """Delete the documents a load inserted (and their mentions); recorded as a deletion.

    Example: dbapp loads undo 7 --yes
    """
    result = _run(ctx, Selection(load_id=load_id), dry, yes)
    if not result.dry_run and result.documents:
        err.print(f"load {load_id} undone: load its files again to restore them", highlight=False)
