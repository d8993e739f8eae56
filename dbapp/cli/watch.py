"""``dbapp watch DIR``: load files as they arrive."""

from __future__ import annotations

import datetime as dt
import math
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from dbapp import migrate
from dbapp.cli._common import EXIT_INTERRUPTED, err, out, settings
from dbapp.db import open_database
from dbapp.errors import InputError
from dbapp.extract import DEFAULT_SPACY_MODEL, EXTRACTORS, check_extractor, extractor_for
from dbapp.extract.base import Extractor
from dbapp.load import LoadOptions, LoadResult, Progress
from dbapp.parse.inputs import FORMATS, check_format
from dbapp.parse.tabular import parse_mapping
from dbapp.watch import DEFAULT_INTERVAL, DEFAULT_SETTLE, WatchOptions, WatchTotals, watch

EXIT_REJECTS = 5
_STOPPED = (
    "a load in flight kept its committed batches (ledger 'interrupted'); start the watch "
    "again to finish its files"
)


class _Terminated(KeyboardInterrupt):
    """SIGTERM: stop like Ctrl-C (the batch in flight rolls back whole), but exit 0."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _status(directory: Path, totals: WatchTotals) -> Text:
    return Text(
        f"watching {directory}: {totals.files:,} files, {totals.documents:,} documents "
        f"loaded, {totals.duplicates:,} duplicates, {totals.rejected:,} rejected "
        f"({totals.rounds:,} loads)"
    )


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _line(result: LoadResult, files: list[str]) -> str:
    c = result.counts
    # repr-style names: a newline or control character in a file name cannot fake a line.
    names = ", ".join(_printable(Path(f).name) for f in files[:3]) + (
        f" and {len(files) - 3} more" if len(files) > 3 else ""
    )
    return (
        f"{dt.datetime.now().isoformat(timespec='seconds')} load {result.load_id} "
        f"{result.status}: {names}: {c.documents_inserted:,} inserted, "
        f"{c.documents_duplicate:,} duplicates, {c.documents_rejected:,} rejected, "
        f"{c.mentions_inserted:,} mentions"
    )


def watch_folder(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="The folder to watch (and its subfolders).", show_default=False
        ),
    ],
    interval: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between looks at the folder.")
    ] = DEFAULT_INTERVAL,
    settle: Annotated[
        float,
        typer.Option(
            min=0.0, max=3600, help="A file is complete when unchanged this many seconds."
        ),
    ] = DEFAULT_SETTLE,
    once: Annotated[
        bool, typer.Option("--once", help="Load what is there (once complete), then exit.")
    ] = False,
    source: Annotated[
        str | None, typer.Option(metavar="NAME", help="Source name for every document.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help=f"Input format: {', '.join(FORMATS)}."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", metavar="FIELD=COLUMN", help="JSON/CSV FIELD=COLUMN, as for load."),
    ] = None,
    extractor: Annotated[
        str, typer.Option(help=f"Entity extractor: {', '.join(EXTRACTORS)}.")
    ] = "gazetteer",
) -> None:
    """Watch a folder and load files as they arrive, one load per round.

    A file is loaded once it has a known extension, its name does not start with a dot, and
    it has not changed for --settle seconds: write under a hidden or temporary name and
    rename into place, or let a copy finish. Loaded files are remembered in the database: a
    restart skips them, and a file that changes is loaded again (stored documents count as
    duplicates). SIGTERM or Ctrl-C stops it; a batch in flight commits or rolls back whole.

    Exit status: 0 when stopped (or, with --once, when done), 5 if some input was rejected,
    130 on Ctrl-C.

    Example: dbapp watch incoming/ --source Trend
    """
    if not (math.isfinite(interval) and math.isfinite(settle)):
        raise InputError("--interval and --settle must be numbers of seconds")
    try:
        mapped = parse_mapping(mapping or [])
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not directory.is_dir():
        raise InputError(f"not a directory: {directory}")
    check_extractor(extractor)  # now, not when the first file comes
    check_format(fmt)
    options = WatchOptions(
        interval=interval,
        settle=settle,
        once=once,
        load=LoadOptions(source=source, fmt=fmt, mapping=mapped),
    )
    live_terminal = sys.stderr.isatty()
    previous = signal.signal(signal.SIGTERM, _on_term)
    totals = WatchTotals()
    try:
        with open_database(settings(ctx), writes=True) as db:
            migrate.ensure_schema(db.engine)

            def make() -> Extractor:
                return extractor_for(db.engine, extractor, DEFAULT_SPACY_MODEL)

            live = Live(_status(directory, totals), console=err, transient=False)
            if live_terminal:
                live.start()
            elif not once:
                err.print(f"watching {directory.resolve()} (every {interval:g} s)")

            def on_load(result: LoadResult, files: list[str]) -> None:
                if live_terminal:
                    live.console.print(_line(result, files), highlight=False)
                else:
                    out.print(_line(result, files), highlight=False)
                    sys.stdout.flush()

            class LiveProgress(Progress):
                """The live line counts a load's documents as they are read."""

                documents = 0

                def start(self, total: int | None, unit: str) -> None:
                    self.documents = 0

                def advance(self, nbytes: int, documents: int, rejects: int) -> None:
                    self.documents += documents
                    live.update(
                        Text(f"{_status(directory, totals)}; loading: {self.documents:,} read")
                    )

            def on_idle(current: WatchTotals) -> None:
                nonlocal totals
                totals = current
                if live_terminal:
                    live.update(_status(directory, current))

            try:
                totals = watch(
                    db.engine,
                    directory,
                    make,
                    options,
                    on_load=on_load,
                    on_idle=on_idle,
                    progress=LiveProgress() if live_terminal else None,
                )
            finally:
                if live_terminal:
                    live.stop()
    except _Terminated:
        err.print(f"stopped (SIGTERM); {_STOPPED}")
        raise typer.Exit(code=0) from None
    except KeyboardInterrupt:
        err.print(f"stopped (Ctrl-C); {_STOPPED}")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    err.print(str(_status(directory, totals)), highlight=False)
    for path in totals.still_changing[:10]:
        err.print(f"still changing, not loaded: {path!r}", highlight=False)
    if totals.rejected:
        err.print(f"{totals.rejected:,} records rejected: see `dbapp loads show ID`")
        raise typer.Exit(code=EXIT_REJECTS)
