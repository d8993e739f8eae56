"""``dbapp export documents|mentions|entities``: the data, filtered, as JSONL, CSV or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dbapp.cli._common import counted, err, settings
from dbapp.cli.report import DateOption, LanguageOption, TagOption, _date
from dbapp.db import open_database
from dbapp.errors import BadArgument
from dbapp.export import WHATS, ExportFilters, export, format_for


def export_command(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(metavar="WHAT", help="documents, mentions or entities.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write [default: standard output]."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="jsonl, csv or parquet [default: from --output's suffix, else jsonl]."
        ),
    ] = None,
    since: DateOption = None,
    until: DateOption = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    entity: Annotated[
        str | None,
        typer.Option(help="Only documents mentioning it (mentions: only its mentions)."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="mentions, entities: only this kind.")] = None,
    query: Annotated[
        str | None, typer.Option(help="Only the articles matching this search.")
    ] = None,
    tag: TagOption = None,
    language: LanguageOption = None,
) -> None:
    """Export documents, mentions or entities for notebooks and pandas, streaming (bounded
    memory), with the reports' filters.

    entities without filters is the whole catalogue (with aliases); with filters, the
    entities mentioned in the selected documents, with their counts there.

    Example: dbapp export mentions --query '"peace talks"' -o talks.parquet
    """
    if what not in WHATS:
        raise BadArgument(f"export what? one of {', '.join(WHATS)}")
    chosen = format_for(output, fmt)
    if chosen == "parquet" and output is None:
        raise BadArgument("Parquet is binary: give --output FILE.parquet")
    filters = ExportFilters(_date(since), _date(until), source, entity, kind, query, tag, language)
    with open_database(settings(ctx)) as db, db.engine.connect() as conn, conn.begin():
        n = export(conn, what, filters, chosen, output, sys.stdout)
    if output is not None:
        one = {"documents": "document", "mentions": "mention", "entities": "entity"}[what]
        err.print(f"wrote {counted(n, one, what)} to {output} ({chosen})", highlight=False)
    else:
        err.print(f"{n:,} {what}", highlight=False)
