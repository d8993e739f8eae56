"""The ``dbapp`` command line: thin wrappers around importable functions of the same names."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dbapp import __version__
from dbapp.cli._common import handle_errors
from dbapp.cli.db import db_app
from dbapp.cli.documents import documents_app, undo
from dbapp.cli.entities import entities_app, extract
from dbapp.cli.export import export_command
from dbapp.cli.load import load, loads_app
from dbapp.cli.report import ReportCommand, report, search
from dbapp.cli.show import show
from dbapp.cli.watch import watch_folder
from dbapp.config import get_settings

app = typer.Typer(
    rich_markup_mode=None,
    name="dbapp",
    help="A relational document database for news, on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.command()(handle_errors(load))
app.add_typer(loads_app, name="loads")
app.command("watch")(handle_errors(watch_folder))
loads_app.command()(undo)
app.add_typer(documents_app, name="documents")
app.command()(handle_errors(extract))
app.add_typer(entities_app, name="entities")
app.command(cls=ReportCommand)(handle_errors(report))
app.command()(handle_errors(search))
app.command()(handle_errors(show))
app.command("export")(handle_errors(export_command))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dbapp {__version__}")
        raise typer.Exit()


@app.callback()
@handle_errors
def main(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="DATABASE_URL",
            show_envvar=True,
            help="PostgreSQL URL. Without it dbapp runs its embedded server.",
        ),
    ] = None,
    pgdata: Annotated[
        Path | None,
        typer.Option(
            "--pgdata",
            envvar="DBAPP_PGDATA",
            show_envvar=True,
            help="Data directory of the embedded server [default: ~/.local/share/dbapp/pgdata].",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """dbapp loads news articles into PostgreSQL and answers questions about them in SQL.

    Example: dbapp load seeds/ && dbapp report top-entities
    """
    ctx.obj = get_settings(database_url=database_url, pgdata=pgdata, announce=True)
