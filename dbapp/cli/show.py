"""``dbapp show DOC_ID``: one document, its text with every mention highlighted."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dbapp.cli._common import MAX_ID, out, printable, settings
from dbapp.db import open_database
from dbapp.errors import BadArgument
from dbapp.show import ShownDocument, show_document

KIND_STYLES = {
    "PERSON": "bold cyan",
    "ORG": "bold magenta",
    "GPE": "bold green",
    "LOC": "bold green",
    "NORP": "bold yellow",
}


def show(
    ctx: typer.Context,
    document_id: Annotated[
        int,
        typer.Argument(
            metavar="DOC_ID", min=1, max=MAX_ID, help="A document id, as search and reports print."
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Show a document: metadata, source, load, full text with its mentions highlighted (on a
    terminal), and every mention with its offsets, kind and canonical entity.

    Example: dbapp show 42
    """
    if fmt not in ("text", "json"):
        raise BadArgument("--format must be text or json")
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        doc = show_document(conn, document_id)
    if fmt == "json":
        sys.stdout.write(json.dumps(doc.as_dict(), ensure_ascii=False, indent=1, default=str))
        sys.stdout.write("\n")
        return
    _print(doc)


def _print(doc: ShownDocument) -> None:
    meta = Table(show_header=False, box=None)
    meta.add_row("document", str(doc.document_id))
    for key, value in doc.metadata.items():
        if value is not None:
            meta.add_row(key.replace("_", " "), printable(str(value)))
    out.print(meta)
    out.print()
    body = Text(printable(doc.body))
    if out.is_terminal:
        for m in doc.mentions:
            body.stylize(KIND_STYLES.get(m.kind, "bold"), m.start, m.end)
    out.print(body, highlight=False)
    out.print()
    table = Table("start", "end", "surface", "kind", "entity", "external_id", "role",
                  title=f"{len(doc.mentions)} mentions", title_justify="left")  # fmt: skip
    for m in doc.mentions:
        table.add_row(str(m.start), str(m.end), Text(printable(m.surface)), m.kind, Text(m.entity),
                      m.external_id or "", m.role)  # fmt: skip
    out.print(table)
