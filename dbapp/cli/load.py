"""``dbapp load`` and ``dbapp loads``: put articles in, see what past loads did."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.engine import Engine

from dbapp import ledger, migrate
from dbapp.catalogue import shipped_aliases
from dbapp.cli._common import (
    MAX_BATCH,
    MAX_ID,
    MAX_ROWS,
    counted,
    err,
    handle_errors,
    out,
    settings,
    styled,
)
from dbapp.cli._progress import RichBar
from dbapp.db import open_database
from dbapp.discover import AUTO_MIN_DOCUMENTS, AUTO_MIN_SOURCES, accept, discover
from dbapp.errors import InputError
from dbapp.extract import DEFAULT_SPACY_MODEL, EXTRACTORS, extractor_for, make_extractor
from dbapp.load import (
    DEFAULT_BATCH_SIZE,
    LoadOptions,
    LoadResult,
    load_documents,
    summary_rows,
)
from dbapp.locks import catalogue_in_use, lock_for_curation
from dbapp.parse.dates import DATE_ORDERS, parse_date
from dbapp.parse.decode import check_encoding
from dbapp.parse.inputs import FORMATS
from dbapp.parse.tabular import parse_mapping
from dbapp.reextract import extract_documents

EXIT_REJECTS = 5

loads_app = typer.Typer(
    rich_markup_mode=None,
    help="List past loads; show a load's rejects; get a rejected record's bytes back.",
    invoke_without_command=True,
)


def _print_summary(result: LoadResult) -> None:
    title = (
        "dry run (nothing written)" if result.dry_run else f"load {result.load_id}: {result.status}"
    )
    table = Table(title=title, show_header=False, title_justify="left")
    for label, value in summary_rows(result):
        table.add_row(label, value)
    out.print(table)
    if (
        result.counts.documents_inserted == 0
        and result.counts.documents_duplicate
        and not result.counts.documents_rejected
    ):
        out.print("nothing new: every document is already in the database")
    for line in result.notes:
        err.print(f"note: {line}", highlight=False)
    for line in result.duplicates[:5]:
        err.print(f"duplicate: {line}", highlight=False)
    if result.counts.documents_duplicate > 5 and result.duplicates:
        err.print(f"... and {result.counts.documents_duplicate - 5:,} more duplicates")
    for skip in result.skipped[:20]:
        err.print(f"skipped {skip.path}: {skip.reason}", highlight=False)
    if len(result.skipped) > 20:
        err.print(f"... and {len(result.skipped) - 20:,} more skipped entries")
    for code, examples in result.warning_examples.items():
        if code == "skipped_input":
            continue
        for example in examples[:3]:
            err.print(f"warning {code}: {example}", highlight=False)
        more = result.warnings[code] - min(len(examples), 3)
        if more > 0:
            err.print(f"... and {more:,} more {code}: dbapp loads show {result.load_id}")
    for reject in result.rejects:
        err.print(
            styled("rejected", "red", f" {reject.where}: {reject.code}: {reject.message}"),
            highlight=False,
        )
    hidden = result.counts.documents_rejected - len(result.rejects)
    if hidden > 0:
        err.print(f"... and {hidden:,} more rejects: dbapp loads show {result.load_id}")


def _discover_after(
    engine: Engine, load_id: int, extractor: str, spacy_model: str, show: bool
) -> None:
    """`load --discover`: candidates from the load's documents, auto-accepted over the
    thresholds, then the load's documents extracted again so the new names are mentions."""
    found = discover(
        engine, spacy_model, load_id=load_id, progress=RichBar("discovering") if show else None
    )
    with engine.begin() as conn:
        lock_for_curation(conn)
        decision = accept(conn, min_documents=AUTO_MIN_DOCUMENTS, min_sources=AUTO_MIN_SOURCES)
    extracted = None
    if decision.accepted:
        with catalogue_in_use(engine):
            chosen = extractor_for(engine, extractor, spacy_model)
            extracted = extract_documents(engine, chosen, load_id=load_id)
    out.print(
        f"discovery: {found.documents:,} documents, {found.new_candidates:,} new candidates, "
        f"{len(decision.accepted):,} accepted (seen in >= {AUTO_MIN_DOCUMENTS} documents)"
        + (f", {counted(extracted.added, 'mention', 'mentions')} added" if extracted else ""),
        highlight=False,
    )


def load(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Files, directories, globs, or - for standard input.",
            show_default=False,
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Source name for every document (overrides the text's)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help=f"Input format: {', '.join(FORMATS)} [default: from name/content].",
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="JSON/CSV FIELD=COLUMN; fields: text date source title author url id language "
            "html (a web page to extract the text from).",
        ),
    ] = None,
    date_order: Annotated[
        str | None,
        typer.Option(
            metavar="MDY|DMY",
            help="How to read numeric dates with two readings (9/5/17) in this input "
            "[default: leave them undated, with a warning].",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DD",
            help="The date of documents that carry none (no field, dateline or URL date).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The inputs' text encoding (e.g. cp1252, latin-1) [default: UTF-8, else the "
            "declared charset or cp1252, with a warning].",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH, help="Documents per transaction.")
    ] = DEFAULT_BATCH_SIZE,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Parser processes; 0 decides from input size.")
    ] = 0,
    writers: Annotated[
        int, typer.Option(min=0, max=16, help="Database connections writing batches; 0 decides.")
    ] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Parse and report; write nothing.")
    ] = False,
    max_document_size: Annotated[
        float,
        typer.Option(min=0.001, max=1000, help="Largest document accepted, in MB (at most 1000)."),
    ] = 5.0,
    extractor: Annotated[
        str, typer.Option(help=f"Entity extractor: {', '.join(EXTRACTORS)}.")
    ] = "gazetteer",
    spacy_model: Annotated[
        str, typer.Option(help="spaCy pipeline (package name or path) for --extractor spacy.")
    ] = DEFAULT_SPACY_MODEL,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar [default: on a terminal]."),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            hidden=True,
            help="No effect: the report views are exact at every commit.",
        ),
    ] = True,
    discover_names: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Afterwards run NER over the new documents, accept names seen in at least "
            f"{AUTO_MIN_DOCUMENTS} documents, and link them (needs dbapp[ner]).",
        ),
    ] = False,
    bulk: Annotated[
        bool | None,
        typer.Option(
            "--bulk/--no-bulk",
            help="Into an empty database: build the search and mention indexes once at the end "
            "[default: when the input is 16 MB or more].",
        ),
    ] = None,
) -> None:
    """Load articles: parse, deduplicate, extract entities and write them in batches.

    Exit status: 0 all loaded, 5 some input rejected (the rest loaded), other non-zero on errors.

    Example: dbapp load seeds/ ../corpus/*.jsonl.gz --source Reuters
    """
    if not math.isfinite(max_document_size):
        raise InputError("--max-document-size must be a number of MB between 0.001 and 1000")
    try:
        mapped = parse_mapping(mapping or [])
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if date_order is not None and date_order.upper() not in DATE_ORDERS:
        raise InputError(f"--date-order must be one of {', '.join(DATE_ORDERS)}")
    default_date = None
    if date is not None:
        default_date, problem = parse_date(date)
        if default_date is None:
            raise InputError(f"--date {date!r} is not a day (YYYY-MM-DD, not in the future)")
    if encoding is not None:
        encoding = check_encoding(encoding)
    options = LoadOptions(
        date_order=date_order.upper() if date_order else None,
        default_date=default_date,
        encoding=encoding,
        source=source,
        fmt=fmt,
        mapping=mapped,
        batch_size=batch_size,
        workers=workers,
        writers=writers,
        dry_run=dry_run,
        max_document_bytes=int(max_document_size * 1_000_000),
        bulk=bulk,
    )
    show = sys.stderr.isatty() if progress is None else progress
    with open_database(settings(ctx), writes=not dry_run) as db:
        bar = RichBar("loading") if show else None
        if dry_run:
            ready = set(migrate.current(db.engine)) == set(migrate.heads())
            chosen = (
                extractor_for(db.engine, extractor, spacy_model, seed=False)
                if ready
                else make_extractor(extractor, shipped_aliases(), spacy_model=spacy_model)
            )
            result = load_documents(db.engine, paths, chosen, options, bar)
        else:
            migrate.ensure_schema(db.engine)
            # Curation waits for the load (and the load for curation): see dbapp.locks.
            with catalogue_in_use(db.engine):
                chosen = extractor_for(db.engine, extractor, spacy_model)
                result = load_documents(db.engine, paths, chosen, options, bar)
            if discover_names and result.load_id and result.counts.documents_inserted:
                _discover_after(db.engine, result.load_id, extractor, spacy_model, show)
    _print_summary(result)
    if result.counts.documents_rejected:
        raise typer.Exit(code=EXIT_REJECTS)


@loads_app.callback()
@handle_errors
def loads(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="How many recent loads.")] = 20,
) -> None:
    """List recent loads with their counts and status.

    Example: dbapp loads --limit 5
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_database(settings(ctx)) as db, db.engine.begin() as conn:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        rows = ledger.list_loads(conn, limit)
    table = Table(
        "load",
        "started",
        "status",
        "files",
        "read",
        "inserted",
        "duplicate",
        "rejected",
        "mentions",
    )
    for r in rows:
        table.add_row(
            str(r.load_id),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.status,
            f"{r.files_seen:,}",
            f"{r.documents_seen:,}",
            f"{r.documents_inserted:,}",
            f"{r.documents_duplicate:,}",
            f"{r.documents_rejected:,}",
            f"{r.mentions_inserted:,}",
        )
    out.print(table)


@loads_app.command()
@handle_errors
def show(
    ctx: typer.Context,
    load_id: Annotated[
        int, typer.Argument(min=1, max=MAX_ID, help="The load's number (see `dbapp loads`).")
    ],
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_ROWS, help="How many rejects to list.")
    ] = 100,
) -> None:
    """Show one load: arguments, counts, warnings and its rejects.

    Example: dbapp loads show 3
    """
    with open_database(settings(ctx)) as db, db.engine.begin() as conn:
        row = ledger.get_load(conn, load_id)
        rejects = ledger.load_rejects(conn, load_id, limit)
    table = Table(show_header=False, title=f"load {load_id}", title_justify="left")
    for key, value in row._mapping.items():
        if key != "lock_key":  # internal: the liveness lock's random key
            table.add_row(key, str(value))
    out.print(table)
    if rejects:
        rt = Table(title="rejects", title_justify="left")
        rt.add_column("reject")
        rt.add_column("where", no_wrap=True)
        for name in ("code", "message", "raw bytes"):
            rt.add_column(name)
        for r in rejects:
            where = (
                r.path
                + (f":{r.line_number}" if r.line_number else "")
                + (f" #{r.record_number}" if r.record_number and not r.line_number else "")
            )
            rt.add_row(
                str(r.load_reject_id),
                where,
                r.error_code,
                r.message,
                f"{r.raw_length or 0:,}"
                + (
                    f" of {r.raw_size:,} (sha256 {r.raw_sha256[:12]}…)"
                    if r.raw_size and r.raw_size > (r.raw_length or 0)
                    else ""
                ),
            )
        out.print(rt)
        out.print("get a record's exact bytes back with: dbapp loads raw REJECT > file")


@loads_app.command()
@handle_errors
def raw(
    ctx: typer.Context,
    reject_id: Annotated[
        int, typer.Argument(min=1, max=MAX_ID, help="The reject's number (see `dbapp loads show`).")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to a file, not stdout.")
    ] = None,
) -> None:
    """Write a rejected record's exact bytes (to fix it and load it again).

    Example: dbapp loads raw 12 -o fixed.jsonl
    """
    with open_database(settings(ctx)) as db, db.engine.begin() as conn:
        data = ledger.reject_raw(conn, reject_id)
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
