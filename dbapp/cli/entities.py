"""``dbapp entities ...`` (curation) and ``dbapp extract`` (re-extraction)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dbapp import entities as lib
from dbapp import migrate
from dbapp.catalogue import seed_catalogue
from dbapp.catalogue_io import (
    EntitySpec,
    add_entity,
    export_entities,
    import_entities,
    read_specs,
    shared_aliases,
)
from dbapp.cli._common import (
    MAX_BATCH,
    MAX_ID,
    MAX_ROWS,
    counted,
    err,
    handle_errors,
    out,
    printable,
    settings,
    styled,
)
from dbapp.cli._progress import RichBar
from dbapp.cli.report import FORMATS, print_result
from dbapp.db import open_database
from dbapp.discover import accept, discover, examples_text, list_candidates, reject
from dbapp.errors import BadArgument, InputError
from dbapp.extract import DEFAULT_SPACY_MODEL, EXTRACTORS, extractor_for
from dbapp.locks import catalogue_in_use, lock_for_curation
from dbapp.reextract import DEFAULT_BATCH_SIZE, extract_documents
from dbapp.report import ReportResult, resolve_source

SHOWN = 20  # accepted names listed after `accept`

entities_app = typer.Typer(
    rich_markup_mode=None,
    help="Curate the entity catalogue: list, show, add, import, export, aliases, merge, ignore; "
    "discover candidates with NER, then accept or reject them.",
    no_args_is_help=True,
)
alias_app = typer.Typer(
    rich_markup_mode=None, help="Add or remove an entity's aliases.", no_args_is_help=True
)
entities_app.add_typer(alias_app, name="alias")

KindOption = Annotated[
    str | None, typer.Option("--kind", help="PERSON, ORG, GPE, LOC, NORP, EVENT or MISC.")
]
REEXTRACT_HINT = "run `dbapp extract` to apply it to stored documents"


@entities_app.command()
@handle_errors
def seed(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Seed even if already done.")] = False,
) -> None:
    """Put the shipped catalogue (countries, capitals, demonyms, organisations) in the database.

    The first `dbapp load` does this too. Only adds; your curation is kept.

    Example: dbapp entities seed
    """
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine)
        with db.engine.begin() as conn:
            lock_for_curation(conn)
            result = seed_catalogue(conn, force=force)
    if result.skipped:
        out.print("catalogue already seeded (use --force to add anything missing)")
    else:
        out.print(
            f"seeded: {result.entities_added:,} entities, {result.aliases_added:,} aliases, "
            f"{result.sources_updated} sources described"
        )


@entities_app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    kind: KindOption = None,
    search: Annotated[str | None, typer.Option(help="Part of a name or alias.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS)] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List entities, most mentioned first.

    Example: dbapp entities list --kind GPE --limit 10 --format csv
    """
    if fmt not in FORMATS:
        raise BadArgument(f"--format must be one of {', '.join(FORMATS)}")
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        rows = lib.list_entities(conn, kind, search, limit)
    if fmt != "table":
        columns = ["entity_id", "kind", "name", "external_id", "aliases", "mentions", "documents"]
        data = [
            (r.entity_id, r.kind, r.canonical_name, r.external_id, r.aliases, r.mentions,
             r.documents)
            for r in rows
        ]  # fmt: skip
        print_result(ReportResult(columns, data), fmt)
        return
    if not rows:
        err.print("no entities match", highlight=False)
        return
    table = Table("id", "kind", "name", "external id", "aliases", "mentions", "documents")
    for r in rows:
        table.add_row(
            str(r.entity_id),
            r.kind,
            printable(r.canonical_name),  # names stored before control characters were refused
            printable(r.external_id or ""),
            str(r.aliases),
            f"{r.mentions:,}",
            f"{r.documents:,}",
        )
    out.print(table)


@entities_app.command()
@handle_errors
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name, an alias, or #ID.")],
    kind: KindOption = None,
) -> None:
    """Show an entity: aliases, mentions by role, the documents that mention it most.

    Example: dbapp entities show "UN"
    """
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        details = lib.entity_details(conn, lib.find_entity(conn, name, kind))
    e = details["entity"]
    out.print(
        styled(printable(e.canonical_name), "bold", f"  {e.kind}  #{e.entity_id}"),
        highlight=False,
    )
    if e.external_id or e.description:
        about = f"{e.external_id or ''}  {e.description or ''}".strip()
        out.print(Text(printable(about)), highlight=False)
    aliases = Table(
        "alias", "from", "only with (!: not with)", title="aliases", title_justify="left"
    )
    for a in details["aliases"]:
        terms = printable(", ".join(a.context_terms or []))
        aliases.add_row(printable(a.alias), a.origin or "", terms)
    out.print(aliases)
    out.print("mentions: " + (", ".join(f"{role} {n:,}" for role, n in details["roles"]) or "0"))
    if not details["roles"]:
        err.print("`dbapp extract` finds it in the articles already stored", highlight=False)
    docs = Table("document", "published", "title", "mentions", title="top documents")
    for d in details["documents"]:
        # An untitled article shows its opening words, marked as such, not as a title.
        label: str | Text = printable(d.title) if d.title is not None else _opening(d.opening)
        docs.add_row(str(d.document_id), str(d.published_on or ""), label, str(d.mentions))
    if details["documents"]:
        out.print(docs)


def _opening(body: str) -> Text:
    """An untitled article's label: its opening words (lib.OPENING characters), marked so."""
    cut = "…" if len(body) >= lib.OPENING else ""
    return Text(f"(untitled) {printable(' '.join(body.split()))}{cut}".strip(), "dim")


@entities_app.command("add")
@handle_errors
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The canonical name.")],
    kind: Annotated[
        str, typer.Option("--kind", help="PERSON, ORG, GPE, LOC, NORP, EVENT or MISC.")
    ],
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Another name (repeat the option).")
    ] = None,
    external_id: Annotated[
        str | None, typer.Option(help="An identifier elsewhere (Wikidata QID, ISO code).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="One line about it.")] = None,
) -> None:
    """Add an entity of your own (or complete an existing one) with its aliases.

    Example: dbapp entities add "General Agreement on Tariffs and Trade" --kind ORG --alias GATT
    """
    spec = EntitySpec(name, kind, tuple(alias or ()), external_id, description)
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine)
        with db.engine.begin() as conn:
            seed_catalogue(conn)  # so a new name is checked against the shipped ones
            lock_for_curation(conn)
            done = add_entity(conn, spec)
            shared = shared_aliases(conn, done.entity)
    entity, added = done.entity, done.aliases
    if not done.new and not added and not done.changed:
        out.print(f"{entity} already has these names: nothing changed", highlight=False)
    elif not done.new and not added:
        out.print(f"updated {entity}: its external id or description", highlight=False)
    else:
        verb = "added" if done.new else "updated"
        names = "name" if added == 1 else "names"
        out.print(f"{verb} {entity} with {added} new {names}; {REEXTRACT_HINT}", highlight=False)
    for line in shared:
        err.print(f"note: {line}", highlight=False)


@entities_app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or JSON Lines: name, kind, aliases...")],
) -> None:
    """Import entities from CSV or JSON Lines (name, kind, aliases, external_id, description).

    Aliases: a JSON list, or in CSV one field with the aliases separated by ";". Idempotent:
    run it again and nothing changes. Bad rows are listed with their line (exit 5); the good
    ones are imported. A name that is also another kind's alias (an ORG "Chicago" beside the
    city) is said on stderr: where both match, ORG comes first.

    Example: dbapp entities import wikidata-people.jsonl && dbapp extract
    """
    fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine)
        with db.engine.begin() as conn:
            seed_catalogue(conn)
            lock_for_curation(conn)
            result = import_entities(conn, read_specs(data, fmt), str(file))
    out.print(
        f"{result.added:,} entities added, {result.updated:,} completed, "
        f"{result.unchanged:,} unchanged, {result.aliases_added:,} aliases added",
        highlight=False,
    )
    for line in result.shared[:50]:
        err.print(f"note: {line}", highlight=False)
    for error in result.errors[:50]:
        err.print(styled("rejected", "red", f" {error}"), highlight=False)
    if len(result.errors) > 50:
        err.print(f"... and {len(result.errors) - 50:,} more rejected rows")
    if result.errors:
        raise typer.Exit(code=5)
    if result.added or result.updated:
        out.print(REEXTRACT_HINT)


@entities_app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="A .csv or .jsonl file [default: stdout].")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl [default: from -o, else jsonl].")
    ] = None,
    include_extracted: Annotated[
        bool, typer.Option("--include-extracted", help="Also names extraction added (bylines).")
    ] = False,
) -> None:
    """Write the catalogue in the format `entities import` reads.

    Example: dbapp entities export -o catalogue.csv
    """
    chosen = fmt or ("csv" if output and output.suffix.lower() == ".csv" else "jsonl")
    if chosen not in ("csv", "jsonl"):
        raise InputError("--format is csv or jsonl")
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        lines = export_entities(conn, chosen, include_extracted)
        if output is None:
            for line in lines:
                sys.stdout.write(line)
        else:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.writelines(lines)


@entities_app.command("discover")
@handle_errors
def discover_command(
    ctx: typer.Context,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="Published on or after."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only this source's documents.")] = None,
    load_id: Annotated[
        int | None, typer.Option("--load", min=1, max=MAX_ID, help="Only what load ID inserted.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, max=MAX_ROWS, help="A random sample of N documents.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="NER processes.")] = 2,
    spacy_model: Annotated[
        str, typer.Option(help="spaCy pipeline (package or path).")
    ] = DEFAULT_SPACY_MODEL,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar [default: on a terminal]."),
    ] = None,
) -> None:
    """Run NER over stored documents and store the names the catalogue lacks as candidates.

    Candidates are not mentions: review them with `dbapp entities candidates`, then `accept`
    or `reject`. Needs a trained pipeline: pip install 'dbapp[ner]'.

    Example: dbapp entities discover --since 2024-01-01 --sample 5000
    """
    show = sys.stderr.isatty() if progress is None else progress
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine)
        with db.engine.connect() as conn:
            source = resolve_source(conn, source)
        result = discover(
            db.engine,
            spacy_model,
            since=since.date() if since else None,
            source=source,
            load_id=load_id,
            sample=sample,
            workers=workers,
            progress=RichBar("discovering") if show else None,
        )
    out.print(
        f"{result.documents:,} documents read with {result.model} in {result.elapsed:.1f} s "
        f"({result.documents_per_second:,.1f} documents/s): {result.new_candidates:,} new "
        f"candidates, {result.sightings:,} sightings. Next: dbapp entities candidates",
        highlight=False,
    )


@entities_app.command("candidates")
@handle_errors
def candidates(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="new, accepted, rejected or all.")] = "new",
    kind: KindOption = None,
    min_documents: Annotated[
        int, typer.Option(min=1, max=MAX_ID, help="Only candidates seen in this many articles.")
    ] = 1,
    min_sources: Annotated[
        int, typer.Option(min=1, max=MAX_ID, help="Only candidates seen in this many sources.")
    ] = 1,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="Most rows.")] = 50,
) -> None:
    """List the candidates discovery proposed, most documents first.

    Example: dbapp entities candidates --kind PERSON --min-documents 3
    """
    if status not in ("new", "accepted", "rejected", "all"):
        raise InputError("--status is new, accepted, rejected or all")
    with open_database(settings(ctx)) as db, db.engine.connect() as conn:
        migrate.ensure_schema(db.engine, auto_upgrade_blank=False)
        rows = list_candidates(
            conn, None if status == "all" else status, kind, min_documents, min_sources, limit
        )
    table = Table("kind", "name", "status", "documents", "sources", "first", "last", "example")
    for r in rows:
        seen = (str(r.first_seen or ""), str(r.last_seen or ""))
        counts = (f"{r.documents:,}", f"{r.sources:,}")
        table.add_row(r.kind, r.name, r.status, *counts, *seen, examples_text(r.examples))
    out.print(table)
    if not rows:
        err.print("no candidates: run `dbapp entities discover` first")


@entities_app.command("accept")
@handle_errors
def accept_command(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Candidate names.")] = None,
    kind: KindOption = None,
    min_documents: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_ID,
            help="Instead of names: every new candidate seen in this many articles (one-word "
            "names in one more; never a lone surname of a proposed person, nor a source's own "
            "name).",
        ),
    ] = None,
    min_sources: Annotated[
        int, typer.Option(min=1, max=MAX_ID, help="With --min-documents: in this many sources.")
    ] = 1,
) -> None:
    """Turn candidates into catalogue entities (then `dbapp extract` finds them everywhere).

    Example: dbapp entities accept "Nikol Pashinyan" && dbapp entities accept --min-documents 5
    """
    if names and min_documents is not None:
        raise InputError("give candidate names or --min-documents, not both")
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        decision = accept(conn, names, kind, min_documents, min_sources)
    accepted = [f"{e.kind} {e.canonical_name}" for e in decision.accepted]
    shown = ", ".join(accepted[:SHOWN])
    if len(accepted) > SHOWN:
        shown += (
            f" and {len(accepted) - SHOWN:,} more (dbapp entities candidates --status accepted)"
        )
    out.print(
        f"accepted {counted(len(accepted), 'entity', 'entities')}"
        f"{': ' + shown if accepted else ''}; {REEXTRACT_HINT}",
        highlight=False,
    )
    for line in decision.skipped:
        err.print(f"skipped {line}", highlight=False)


@entities_app.command("reject")
@handle_errors
def reject_command(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Candidate names.")],
) -> None:
    """Never propose these candidates again.

    Example: dbapp entities reject "Blah Blah"
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        decision = reject(conn, names)
    out.print(f"rejected {', '.join(decision.rejected)}", highlight=False)


@alias_app.command("add")
@handle_errors
def alias_add(
    ctx: typer.Context,
    alias: Annotated[str, typer.Argument(help="The new name.")],
    entity: Annotated[str, typer.Argument(help="The entity: a name, an alias, or #ID.")],
    kind: KindOption = None,
) -> None:
    """Add ALIAS as a name of ENTITY.

    Example: dbapp entities alias add "Baki" Baku && dbapp extract
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        target = lib.find_entity(conn, entity, kind)
        lib.add_alias(conn, alias, target)
    out.print(f"{alias!r} now names {target}; {REEXTRACT_HINT}", highlight=False)


@alias_app.command("remove")
@handle_errors
def alias_remove(
    ctx: typer.Context,
    alias: Annotated[str, typer.Argument(help="The alias to remove.")],
    kind: KindOption = None,
) -> None:
    """Remove ALIAS and the mentions that used it.

    Example: dbapp entities alias remove "America"
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        entity, removed = lib.remove_alias(conn, alias, kind)
    out.print(f"removed {alias!r} from {entity} and {removed:,} mentions", highlight=False)


@entities_app.command()
@handle_errors
def merge(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The entity to fold away.")],
    target: Annotated[str, typer.Argument(help="The entity that remains.")],
    kind: KindOption = None,
) -> None:
    """Merge SOURCE into TARGET: mentions and aliases move, SOURCE's name redirects.

    Example: dbapp entities merge Caucasus "South Caucasus"
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        result = lib.merge_entities(
            conn, lib.find_entity(conn, source, kind), lib.find_entity(conn, target, kind)
        )
    out.print(
        f"merged {result.source} into {result.target}: {result.mentions_moved:,} mentions "
        f"moved, {result.mentions_dropped:,} duplicates dropped, "
        f"{result.aliases_moved:,} aliases moved",
        highlight=False,
    )


@entities_app.command()
@handle_errors
def ignore(
    ctx: typer.Context,
    surface: Annotated[str, typer.Argument(help="Text that must never be a mention.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the rule).")] = None,
) -> None:
    """Never treat SURFACE as a mention again; its existing mentions are removed.

    Example: dbapp entities ignore "Chad" --note "a first name in our corpus"
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        removed = lib.ignore_surface(conn, surface, note)
    out.print(f"ignoring {surface!r}: {removed:,} mentions removed", highlight=False)


@entities_app.command()
@handle_errors
def unignore(
    ctx: typer.Context,
    surface: Annotated[str, typer.Argument(help="A previously ignored text.")],
) -> None:
    """Let SURFACE match again.

    Example: dbapp entities unignore "Chad" && dbapp extract
    """
    with open_database(settings(ctx), writes=True) as db, db.engine.begin() as conn:
        lock_for_curation(conn)
        lib.unignore_surface(conn, surface)
    out.print(f"{surface!r} may match again; {REEXTRACT_HINT}", highlight=False)


def extract(
    ctx: typer.Context,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="Only documents published on or after this day.",
        ),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only documents of this source.")] = None,
    extractor: Annotated[
        str, typer.Option(help=f"Extractor: {', '.join(EXTRACTORS)}.")
    ] = "gazetteer",
    spacy_model: Annotated[
        str, typer.Option(help="spaCy pipeline for --extractor spacy.")
    ] = DEFAULT_SPACY_MODEL,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH)] = DEFAULT_BATCH_SIZE,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar [default: on a terminal]."),
    ] = None,
) -> None:
    """Re-run entity extraction over stored documents (after catalogue changes).

    Idempotent: a second run changes nothing. Only the chosen extractor's mentions change.

    Example: dbapp extract --since 2023-01-01 --source Trend
    """
    show_bar = sys.stderr.isatty() if progress is None else progress
    with open_database(settings(ctx), writes=True) as db:
        migrate.ensure_schema(db.engine)
        with catalogue_in_use(db.engine):
            chosen = extractor_for(db.engine, extractor, spacy_model)
            result = extract_documents(
                db.engine,
                chosen,
                since=since.date() if since else None,
                source=source,
                batch_size=batch_size,
                progress=RichBar("extracting") if show_bar else None,
            )
    out.print(
        f"{result.extractor} {result.version}: {result.documents:,} documents, "
        f"{counted(result.added, 'mention', 'mentions')} added, {result.removed:,} removed "
        f"({result.elapsed:.1f} s)",
        highlight=False,
    )
    if not result.documents:
        err.print("no documents matched")
