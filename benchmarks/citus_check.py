"""Check the live schema against SCALING.md's Citus distribution plan and Citus's documented rules.

    python -m benchmarks.citus_check                  # the embedded database (or DATABASE_URL's)
    python -m benchmarks.citus_check --url URL --json

Citus is not installable here, so this reads PostgreSQL's catalogues instead: every table must
have a place in the plan (distributed on a column, reference, or local to the coordinator), and

- every primary key, unique constraint and unique index of a distributed table includes its
  distribution column;
- a foreign key between distributed tables joins their distribution columns and stays within
  one co-location group;
- no foreign key points from a reference or local table to a distributed table, nor from a
  reference table to a local one;
- no materialized view reads a distributed table;
- triggers on distributed tables are listed: Citus does not run them (its docs: "Citus does not
  yet support creating triggers on distributed tables"), so each needs the plan's replacement.

Exit 0 when the schema conforms except for the deviations the plan already accepts (each with
what replaces it on Citus); exit 1 with what a migration must change otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

# -- the plan (SCALING.md "A Citus distribution plan") -------------------------------------------
# Distributed tables: name -> (distribution column, co-location group).
DISTRIBUTED: dict[str, tuple[str, str]] = {
    "documents": ("document_id", "documents"),
    "mentions": ("document_id", "documents"),
    "candidate_sightings": ("document_id", "documents"),
    "document_tags": ("document_id", "documents"),
    "summary_entity_days": ("entity_id", "entities"),
    "summary_entity_months": ("entity_id", "entities"),
    "summary_entity_years": ("entity_id", "entities"),
    "summary_entity_sources": ("entity_id", "entities"),
    "summary_entities": ("entity_id", "entities"),
    "summary_entity_pairs": ("entity_a_id", "entities"),
}
# Small, read everywhere, joined to everything: copied to every node.
REFERENCE = {
    "sources",
    "entities",
    "entity_aliases",
    "entity_redirects",
    "ignored_surfaces",
    "catalogue_imports",
    "entity_candidates",
    "entity_relations",
    "loads",
    "deletions",
    "watched_files",
    "summary_state",
    "summary_source_days",
    "summary_source_entity_counts",
    "alembic_version",
}
# On the coordinator only: written and read there alone.
LOCAL = {"load_rejects"}

# Deviations the plan accepts on one machine, each with what replaces it on Citus. A finding
# whose key is listed here is reported as "planned", not as a failure.
PLANNED = {
    ("unique", "documents", "uq_documents_content_sha256"): (
        "deduplication moves to a `document_digests (content_sha256 PRIMARY KEY, document_id)` "
        "table distributed on content_sha256: the loader claims a digest there (INSERT ... ON "
        "CONFLICT DO NOTHING RETURNING) before it inserts the document. On one machine it would "
        "be a second index of 64-byte keys and a second write per document for nothing, so it "
        "is not made here."
    ),
}
TRIGGER_PLAN = (
    "Citus does not run triggers on distributed tables: the summaries are kept by a rollup job "
    "instead (Citus's documented incremental roll-up: every minute, INSERT ... SELECT ... ON "
    "CONFLICT DO UPDATE of the documents and mentions added since a watermark, run through the "
    "coordinator), and reports read summaries at most one interval old."
)


@dataclass(frozen=True)
class Finding:
    rule: str
    table: str
    name: str
    detail: str
    planned: str = ""  # what replaces it on Citus, when the plan accepts it


def _rows(conn: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()


def check(conn: psycopg.Connection[Any]) -> list[Finding]:
    """Every way the live schema departs from the plan or from Citus's rules."""
    found: list[Finding] = []
    tables = {
        name
        for (name,) in _rows(
            conn,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
        )
    }
    placed = set(DISTRIBUTED) | REFERENCE | LOCAL
    for table in sorted(tables - placed):
        found.append(Finding("placed", table, table, "a table the plan does not place"))
    for table in sorted(placed - tables):
        found.append(Finding("placed", table, table, "the plan places a table that is gone"))

    columns = {
        (t, c): typ
        for t, c, typ in _rows(
            conn,
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped",
        )
    }
    groups: dict[str, set[str]] = {}
    for table, (column, group) in DISTRIBUTED.items():
        if table in tables and (table, column) not in columns:
            found.append(Finding("column", table, column, "the distribution column is missing"))
        elif table in tables:
            groups.setdefault(group, set()).add(columns[(table, column)])
    for group, types in groups.items():
        if len(types) > 1:
            found.append(
                Finding("column", group, group, f"co-located columns differ in type: {types}")
            )

    # Unique indexes (primary keys and unique constraints included) of distributed tables.
    for table, index, cols, is_expr in _rows(
        conn,
        "SELECT t.relname, i.relname, "
        "  array(SELECT a.attname FROM unnest(x.indkey) k JOIN pg_attribute a "
        "        ON a.attrelid = t.oid AND a.attnum = k), "
        "  0 = ANY(x.indkey::int2[]) "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND x.indisunique ORDER BY 1, 2",
    ):
        if table not in DISTRIBUTED:
            continue
        column = DISTRIBUTED[table][0]
        if column not in cols:
            found.append(
                Finding(
                    "unique",
                    table,
                    index,
                    f"unique on ({', '.join(cols)}{', expressions' if is_expr else ''}) "
                    f"without the distribution column {column}",
                )
            )

    # Foreign keys.
    for table, name, cols, ref, ref_cols in _rows(
        conn,
        "SELECT t.relname, c.conname, "
        "  array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
        "        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY o), "
        "  r.relname, "
        "  array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) "
        "        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY o) "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND c.contype = 'f' ORDER BY 1, 2",
    ):
        if table in DISTRIBUTED and ref in DISTRIBUTED:
            (col, group), (ref_col, ref_group) = DISTRIBUTED[table], DISTRIBUTED[ref]
            pairs = set(zip(cols, ref_cols, strict=True))
            if group != ref_group:
                found.append(
                    Finding("foreign key", table, name, f"to {ref}, in another co-location group")
                )
            elif (col, ref_col) not in pairs:
                found.append(
                    Finding(
                        "foreign key",
                        table,
                        name,
                        f"({', '.join(cols)}) -> {ref}({', '.join(ref_cols)}) does not join "
                        f"{col} to {ref_col}",
                    )
                )
        elif ref in DISTRIBUTED:
            kind = "reference" if table in REFERENCE else "local"
            found.append(
                Finding("foreign key", table, name, f"a {kind} table referencing distributed {ref}")
            )
        elif table in REFERENCE and ref in LOCAL:
            found.append(
                Finding("foreign key", table, name, f"a reference table referencing local {ref}")
            )

    # Materialized views over distributed tables.
    for view, source in _rows(
        conn,
        "SELECT DISTINCT v.relname, t.relname FROM pg_class v "
        "JOIN pg_rewrite r ON r.ev_class = v.oid JOIN pg_depend d ON d.objid = r.oid "
        "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = v.relnamespace "
        "WHERE n.nspname = current_schema() AND v.relkind = 'm' ORDER BY 1, 2",
    ):
        if source in DISTRIBUTED:
            found.append(
                Finding("materialized view", view, view, f"reads distributed table {source}")
            )

    # Triggers on distributed tables.
    for table, trigger in _rows(
        conn,
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT t.tgisinternal ORDER BY 1, 2",
    ):
        if table in DISTRIBUTED:
            found.append(
                Finding("trigger", table, trigger, "Citus does not run it", planned=TRIGGER_PLAN)
            )

    return [
        Finding(f.rule, f.table, f.name, f.detail, PLANNED[(f.rule, f.table, f.name)])
        if (f.rule, f.table, f.name) in PLANNED
        else f
        for f in found
    ]


def _url(given: str | None) -> tuple[str, Any]:
    if given or os.environ.get("DATABASE_URL"):
        from dbapp.config import libpq_url, normalise_url

        return libpq_url(normalise_url(given or os.environ["DATABASE_URL"])), None
    from dbapp.config import EMBEDDED_DATABASE, get_settings
    from dbapp.embedded import EmbeddedServer

    server = EmbeddedServer(get_settings().pgdata)
    server.acquire()
    return server.url(EMBEDDED_DATABASE).replace("+psycopg", ""), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL [default: DATABASE_URL, else the embedded]")
    parser.add_argument("--json", action="store_true", help="findings as JSON")
    args = parser.parse_args()
    url, server = _url(args.url)
    try:
        with psycopg.connect(url) as conn:
            findings = check(conn)
    finally:
        if server is not None:
            server.release()
    failures = [f for f in findings if not f.planned]
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=1))
    else:
        explained: set[str] = set()
        for f in findings:
            mark = "planned" if f.planned else "CHANGE"
            print(f"{mark:8} {f.rule:18} {f.table}.{f.name}: {f.detail}")
            if f.planned and f.planned not in explained:
                explained.add(f.planned)
                print(f"{'':8} -> on Citus: {f.planned}")
        print(
            f"{len(failures)} change(s) a migration must make; {len(findings) - len(failures)} "
            "deviation(s) the plan replaces on Citus"
        )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
