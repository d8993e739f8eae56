"""``dbapp report`` and ``dbapp search``: the questions, in a table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Engine
from typer._click import Context as ClickContext  # Typer vendors its own click
from typer.core import TyperCommand

from dbapp import migrate, summaries
from dbapp.cli._common import MAX_ID, MAX_ROWS, err, out, print_error, printable, settings
from dbapp.db import open_database
from dbapp.plot import plot
from dbapp.report import (
    PERIODS,
    ReportError,
    ReportParams,
    ReportResult,
    compare_timeline,
    list_reports,
    run_report,
)
from dbapp.search import HIGHLIGHT_START, HIGHLIGHT_STOP, search_documents, search_facets
from dbapp.topwords import DEFAULT_SAMPLE, top_words
from dbapp.topwords import OPTIONS as TOP_WORDS_OPTIONS

FORMATS = ("table", "csv", "json")
# Defaults of options only some reports read (top-words says when one was changed).
DEFAULT_PERIOD = "month"
DEFAULT_CONTEXT = 40
DEFAULT_MIN_DOCUMENTS = 1
DEFAULT_LIMIT = 20
DEFAULT_BY = "frequent"
DateOption = Annotated[
    dt.datetime | None,
    typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="A day.", show_default=False),
]
TagOption = Annotated[
    str | None,
    typer.Option(
        metavar="[VOCABULARY:]TAG",
        help="Only articles with this tag of the source's own (Reuters topics, JSON tags, feed "
        "categories), in any case: earn, or topics:earn.",
    ),
]
LanguageOption = Annotated[
    str | None,
    typer.Option(metavar="CODE", help="Only articles in this language (ISO 639-1: en, fr, de)."),
]


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not column.endswith("_id"):
        return f"{value:,}"  # counts get separators; ids stay copyable (dbapp show 1984)
    return printable(str(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def print_result(result: ReportResult, fmt: str, title: str | None = None) -> None:
    """Rows to stdout in the chosen format; notes to stderr."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([[_jsonable(v) for v in row] for row in result.rows])
    elif fmt == "json":
        rows = [dict(zip(result.columns, map(_jsonable, r), strict=True)) for r in result.rows]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    elif not result.rows:
        # No empty table: a header over nothing reads like a failure. Unless a note says why
        # nothing matched, say there is nothing.
        if not any("match" in note for note in result.notes):
            err.print(f"{title + ': ' if title else ''}no rows", highlight=False)
    else:
        table = Table(*result.columns, title=title, title_justify="left")
        for row in result.rows:
            cells: list[str | Text] = []
            for column, value in zip(result.columns, row, strict=True):
                cell = _cell(value, column)
                if out.is_terminal and HIGHLIGHT_START in cell:  # search snippets: bold yellow
                    marked = escape(cell).replace(HIGHLIGHT_START, "[bold yellow]")
                    cells.append(Text.from_markup(marked.replace(HIGHLIGHT_STOP, "[/bold yellow]")))
                else:
                    cells.append(cell)
            table.add_row(*cells)
        out.print(table)
    for note in result.notes:
        err.print(note, highlight=False)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def report(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="A report (see `dbapp report list`), or `list`, or `check`.",
            show_default=False,
        ),
    ],
    since: DateOption = None,
    until: DateOption = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    entity: Annotated[
        list[str] | None,
        typer.Option(help="An entity: name, alias or #ID (timeline: repeat it to compare)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Entity kind, e.g. GPE or ORG (co-mentions: pairs with one of it)."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_ROWS, help="Most rows to show.")
    ] = DEFAULT_LIMIT,
    period: Annotated[str, typer.Option(help=f"One of: {', '.join(PERIODS)}.")] = DEFAULT_PERIOD,
    context: Annotated[
        int, typer.Option(min=0, max=10_000, help="kwic: characters either side.")
    ] = DEFAULT_CONTEXT,
    min_documents: Annotated[
        int, typer.Option(min=1, max=MAX_ID, help="co-mentions: fewest shared articles.")
    ] = DEFAULT_MIN_DOCUMENTS,
    query: Annotated[
        str | None,
        typer.Option(
            help="Only the articles matching this search (web-search syntax, as dbapp search)."
        ),
    ] = None,
    tag: TagOption = None,
    language: LanguageOption = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            metavar="QUERY",
            help="timeline: one series per query (repeat it), in one table and one chart.",
        ),
    ] = None,
    rollup: Annotated[
        str | None,
        typer.Option(
            help="top-entities, timeline: roll entities up to their country (cities, demonyms; "
            "entities with no country are left out) or parent (organisation bodies)."
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(help="top-words: the background query [default: all articles]."),
    ] = None,
    sample: Annotated[
        int, typer.Option(min=1, max=MAX_ROWS, help="top-words: articles sampled per side.")
    ] = DEFAULT_SAMPLE,
    bigrams: Annotated[
        bool, typer.Option("--bigrams", help="top-words: count two-word phrases too.")
    ] = False,
    by: Annotated[
        str, typer.Option(help="top-words: order by frequent or distinctive terms.")
    ] = DEFAULT_BY,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    plot_to: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw it: FILE.html (no extra needs), .png or .svg."),
    ] = None,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="check: rewrite the summary tables from the data."),
    ] = False,
) -> None:
    """Run a SQL report; `list` describes them; `check` verifies the summary tables.

    `dbapp report NAME --help` describes report NAME and the options it reads.

    The report views are exact at every commit. `check` recomputes them from the documents
    and mentions and compares (exit 1, with the differing keys, if they disagree); `check
    --repair` rewrites them.

    Example: dbapp report timeline --entity Karabakh --period month --plot karabakh.html
    """
    if fmt not in FORMATS:
        raise ReportError(f"--format must be one of {', '.join(FORMATS)}")
    if name == "list":
        rows = [
            (r.name, r.description, ", ".join([*r.options, *CLI_ONLY.get(r.name, ())]))
            for r in list_reports().values()
        ]
        rows.append(TOP_WORDS_LISTING)
        print_result(ReportResult(["report", "answers", "options"], list(rows)), fmt)
        return
    with open_database(settings(ctx), writes=name == "check" and repair) as db:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        if name == "refresh":
            err.print(
                "report views are exact at every commit; nothing to refresh "
                "(`dbapp report check` verifies them)"
            )
            return
        if name == "check":
            _check(db.engine, repair, fmt)
            return
        # Options only some reports read, and whether this run changed them.
        given = {
            "limit": limit != DEFAULT_LIMIT, "period": period != DEFAULT_PERIOD,
            "context": context != DEFAULT_CONTEXT,
            "min-documents": min_documents != DEFAULT_MIN_DOCUMENTS,
            "against": against is not None, "sample": sample != DEFAULT_SAMPLE,
            "bigrams": bigrams, "by": by != DEFAULT_BY, "repair": repair,
        }  # fmt: skip
        if name == "top-words":
            _say_unread(name, TOP_WORDS_OPTIONS, given | {
                "kind": kind is not None, "rollup": rollup is not None, "compare": bool(compare),
                "plot": plot_to is not None, "entity (given twice)": len(entity or []) > 1,
            })  # fmt: skip
            with db.engine.connect() as conn:
                words = top_words(
                    conn, query or "", against, _date(since), _date(until), source, sample,
                    bigrams, by, limit, tag, language, entity[0] if entity else None,
                )  # fmt: skip
            print_result(words, fmt, title="top-words" if fmt == "table" else None)
            return
        known = list_reports().get(name)
        if known is not None:  # (an unknown name is refused by run_report)
            _say_unread(name, known.options, given)
        entities = entity or []
        comparing = bool(compare) or len(entities) > 1
        if comparing and name != "timeline":
            raise ReportError("only timeline compares series (--compare, or --entity twice)")
        if compare and len(entities) > 1:
            raise ReportError("compare queries or entities, not both")
        if compare and query is not None:
            raise ReportError("give every query to compare as --compare (without --query)")
        if compare and len(compare) < 2:
            raise ReportError("compare needs two series or more: repeat --compare")
        params = ReportParams(
            since=_date(since),
            until=_date(until),
            source=source,
            entity=entities[0] if len(entities) == 1 else None,
            kind=kind,
            limit=limit,
            period=period,
            context=context,
            min_documents=min_documents,
            query=query,
            rollup=rollup,
            tag=tag,
            language=language,
        )
        with db.engine.connect() as conn:
            if comparing:
                result = compare_timeline(
                    conn, params, compare, entities if len(entities) > 1 else None
                )
            else:
                result = run_report(conn, name, params)
    print_result(result, fmt, title=name if fmt == "table" else None)
    if fmt == "table" and name == "kwic" and result.rows:
        err.print("open a document with: dbapp show DOCUMENT_ID", highlight=False)
    if plot_to is not None:
        if result.columns[:1] == ["series"]:
            title = f"{name}: " + " vs ".join(dict.fromkeys(str(r[0]) for r in result.rows))
        else:
            title = ": ".join([name, *(x for x in (*(entity or []), query) if x)])
        err.print(f"wrote {plot(result, name, plot_to, title)}")


# Options the CLI adds to a report's own (every report also takes --format and --plot).
CLI_ONLY = {"timeline": ("compare",)}
FACET_TITLES = {"sources": "source", "months": "month", "entities": "entity"}
TOP_WORDS_LISTING = (
    "top-words",
    "The most frequent and most distinctive words of the articles matching --query, on a "
    "random sample.",
    ", ".join(TOP_WORDS_OPTIONS),
)


def _say_unread(name: str, reads: Sequence[str], given: dict[str, bool]) -> None:
    """Name on stderr the options given that report ``name`` does not read."""
    unread = [o for o, on in given.items() if on and o.replace("-", "_") not in reads]
    if unread:
        err.print(f"{name} ignores --{', --'.join(unread)}", highlight=False)


def report_help(name: str) -> str | None:
    """What `dbapp report NAME --help` says of report NAME (None: not a report)."""
    if name == TOP_WORDS_LISTING[0]:
        description, options = TOP_WORDS_LISTING[1], list(TOP_WORDS_OPTIONS)
    else:
        found = list_reports().get(name)
        if found is None:
            return None
        description, options = found.description, list(found.options)
    reads = ", ".join(f"--{o.replace('_', '-')}" for o in [*options, *CLI_ONLY.get(name, ())])
    also = "--format" if name == TOP_WORDS_LISTING[0] else "--format, --plot FILE"
    return (
        f"Report {name}: {description}\n\nIt reads {reads}; and {also}. "
        "Every other option below is ignored by this report.\n\n"
        "`dbapp report list` describes every report."
    )


class ReportCommand(TyperCommand):
    """`dbapp report NAME --help` describes report NAME, not only the command."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if not {"-h", "--help"} & set(args):
            return super().parse_args(ctx, args)
        named = self._name(args)
        general = self.help or ""
        specific = report_help(named) if named else None
        if specific is None and named and named not in ("list", "check", "refresh"):
            known = ", ".join([*list_reports(), "top-words"])
            specific = f"{general}\n\nThere is no report {named!r} (reports: {known})."
        if specific is None:
            return super().parse_args(ctx, args)
        self.help = specific
        try:  # --help prints and exits inside
            return super().parse_args(ctx, args)
        finally:
            self.help = general

    def _name(self, args: list[str]) -> str | None:
        """The report named in ``args``: the first word that is not an option or its value."""
        takes_value = {
            name
            for param in self.params
            if not getattr(param, "is_flag", True) and not getattr(param, "count", False)
            for name in param.opts
        }
        words = iter(args)
        for word in words:
            if word == "--":
                return next(words, None)
            if word.startswith("-") and word != "-":
                if word in takes_value:
                    next(words, None)  # its value
                continue
            return word
        return None


def _check(engine: Engine, repair: bool, fmt: str) -> None:
    with engine.connect() as conn:
        if repair:
            with conn.begin():
                summaries.repair(conn)
            err.print("rewrote the summary tables from the documents and mentions")
        result = summaries.check_snapshot(conn)
    rows = [
        (t.table, t.rows, t.differing, "; ".join(_key(e) for e in t.examples))
        for t in result.tables
    ]
    print_result(
        ReportResult(["summary table", "rows", "differing keys", "examples"], list(rows)),
        fmt,
        title="check" if fmt == "table" else None,
    )
    if result.stale:
        print_error(f"the summaries are stale: {result.stale}; run `dbapp report check --repair`")
    if not result.ok:
        if not result.stale:
            print_error("the summary tables disagree with the data: `dbapp report check --repair`")
        raise typer.Exit(code=1)
    err.print("every summary table matches the data")


def _key(example: dict[str, object]) -> str:
    return ",".join(f"{k}={v}" for k, v in example.items())


def search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help='Words; "quoted phrase", -excluded, OR.', show_default=False)
    ],
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    since: DateOption = None,
    until: DateOption = None,
    entity: Annotated[
        str | None, typer.Option(help="Only documents that mention this entity.")
    ] = None,
    tag: TagOption = None,
    language: LanguageOption = None,
    sort: Annotated[str, typer.Option(help="rank (best match first), newest or oldest.")] = "rank",
    facets: Annotated[
        bool,
        typer.Option(
            "--facets", help="Also count the matches by source and month, and their top entities."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="Most results.")] = 10,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Full-text search with highlighted snippets (web-search syntax), and how many match.

    "Ranked" (the default --sort) means: the 1,000 newest matches, best first by ts_rank_cd
    (how often and how close together the words occur, title words weighted above body
    words). The number of matches is exact when search read every article, else estimated
    ("about N"). A query starting with - needs -- first: dbapp search -- -word.

    Example: dbapp search '"so-called elections" -coronavirus' --source Trend --facets
    """
    if fmt not in FORMATS:
        raise ReportError(f"--format must be one of {', '.join(FORMATS)}")
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        result = search_documents(
            conn, query, source, _date(since), _date(until), limit, entity=entity, sort=sort,
            tag=tag, language=language,
        )  # fmt: skip
        found = (
            search_facets(conn, query, source, _date(since), _date(until), entity, tag=tag,
                          language=language)
            if facets
            else {}
        )  # fmt: skip
    if fmt == "json" and found:
        rows = [dict(zip(result.columns, map(_jsonable, r), strict=True)) for r in result.rows]
        data: dict[str, object] = {"results": rows, "total": result.total}
        for name, facet in found.items():
            data[name] = [
                dict(zip(facet.columns, map(_jsonable, r), strict=True)) for r in facet.rows
            ]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        for note in [*result.notes, *(n for f in found.values() for n in f.notes)]:
            err.print(note, highlight=False)
        return
    print_result(result, fmt, title=f"search: {query}" if fmt == "table" else None)
    for name, facet in found.items():
        if fmt == "csv":
            sys.stdout.write("\n")
        print_result(
            facet, fmt, title=f"matches by {FACET_TITLES[name]}" if fmt == "table" else None
        )
    if fmt == "table" and result.rows:
        err.print("open a document with: dbapp show DOCUMENT_ID", highlight=False)
