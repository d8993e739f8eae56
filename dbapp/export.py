"""Export documents, mentions or entities as JSON Lines, CSV or Parquet, streaming.

Rows come from a server-side cursor in batches and are written as they come, so memory stays
bounded whatever the size of the archive. Parquet needs the optional ``dbapp[parquet]`` extra
(pyarrow), written a row group per batch.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import BadArgument, DbappError, check_query, check_text
from dbapp.models import ENTITY_KINDS
from dbapp.report import SCOPE as _SCOPE
from dbapp.report import resolve_source, tag_and_language

WHATS = ("documents", "mentions", "entities")
FORMATS = ("jsonl", "csv", "parquet")
BATCH = 2000

QUERIES = {
    "documents": _SCOPE
    + """
SELECT d.document_id, d.published_on, s.name AS source, d.title, d.author, d.dateline, d.url,
       d.external_id, d.language, d.char_count, d.word_count, d.content_sha256, d.load_id,
       d.body
FROM scope JOIN documents d USING (document_id) JOIN sources s ON s.source_id = d.source_id
ORDER BY d.document_id
""",
    "mentions": _SCOPE
    + """
SELECT m.document_id, m.mention_id, d.published_on, s.name AS source, m.start, m."end",
       m.surface, m.role, e.entity_id, e.canonical_name AS entity, e.kind, e.external_id
FROM scope
JOIN mentions m USING (document_id)
JOIN documents d ON d.document_id = m.document_id
JOIN sources s ON s.source_id = d.source_id
JOIN entities e ON e.entity_id = m.entity_id
WHERE (CAST(:entity_id AS integer) IS NULL OR m.entity_id = CAST(:entity_id AS integer))
  AND (CAST(:kind AS text) IS NULL OR e.kind = :kind)
ORDER BY m.document_id, m.start, m."end", m.entity_id
""",
    # With no filter: the whole catalogue (entities never mentioned included); with filters,
    # the entities mentioned in the documents in scope.
    "entities": _SCOPE
    + """,
counts AS (
    SELECT m.entity_id, count(*) AS mentions, count(DISTINCT m.document_id) AS documents
    FROM scope JOIN mentions m USING (document_id)
    GROUP BY m.entity_id
)
SELECT e.entity_id, e.kind, e.canonical_name AS name, e.external_id, e.description,
       ARRAY(SELECT a.alias FROM entity_aliases a
             WHERE a.entity_id = e.entity_id AND a.alias <> e.canonical_name
             ORDER BY a.alias) AS aliases,
       coalesce(c.mentions, 0) AS mentions, coalesce(c.documents, 0) AS documents
FROM entities e LEFT JOIN counts c USING (entity_id)
WHERE (CAST(:kind AS text) IS NULL OR e.kind = :kind)
  AND (c.entity_id IS NOT NULL OR :unfiltered)
ORDER BY e.entity_id
""",
}


@dataclass(frozen=True)
class ExportFilters:
    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = None
    entity: str | None = None
    kind: str | None = None
    query: str | None = None
    tag: str | None = None  # the source's own tag: TAG or VOCABULARY:TAG
    language: str | None = None


def format_for(path: Path | None, fmt: str | None) -> str:
    """The format asked for, or the one the file name says (JSON Lines by default)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise BadArgument(f"--format must be one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".") if path else ""
    return {"csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix, "jsonl")


def _params(conn: Connection, f: ExportFilters) -> dict[str, Any]:
    from dbapp.entities import find_entity

    for name in ("source", "entity", "kind", "tag", "language"):
        check_text(getattr(f, name), f"--{name}")
    check_query(f.query)
    if f.query is not None and not f.query.strip():
        raise BadArgument("--query needs some words")
    if f.kind is not None and f.kind.upper() not in ENTITY_KINDS:
        raise BadArgument(f"unknown kind {f.kind!r} (one of: {', '.join(ENTITY_KINDS)})")
    if f.since and f.until and f.since > f.until:
        raise BadArgument("--since is after --until")
    unfiltered = all(
        v is None for v in (f.since, f.until, f.source, f.entity, f.query, f.tag, f.language)
    )
    return {
        "since": f.since,
        "until": f.until,
        "source": resolve_source(conn, f.source),
        "entity_id": find_entity(conn, f.entity).entity_id if f.entity else None,
        "kind": f.kind.upper() if f.kind else None,
        "query": f.query,
        **dict(zip(("tag", "language"), tag_and_language(f.tag, f.language), strict=True)),
        "unfiltered": unfiltered,
    }


def rows(
    conn: Connection, what: str, filters: ExportFilters
) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
    """The columns and the row batches of an export (a server-side cursor: call inside a
    transaction, and consume before it ends)."""
    if what not in WHATS:
        raise BadArgument(f"export what? one of {', '.join(WHATS)}")
    params = _params(conn, filters)
    sql = text(QUERIES[what])
    used = {k: v for k, v in params.items() if f":{k}" in QUERIES[what]}
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(sql, used)
    columns = list(result.keys())

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        for part in result.partitions(BATCH):
            yield [tuple(r) for r in part]

    return columns, batches()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def write_jsonl(columns: list[str], batches: Iterator[list[tuple[Any, ...]]], out: IO[str]) -> int:
    n = 0
    for batch in batches:
        for row in batch:
            record = {c: _plain(v) for c, v in zip(columns, row, strict=True)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += len(batch)
    return n


def write_csv(columns: list[str], batches: Iterator[list[tuple[Any, ...]]], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    n = 0
    for batch in batches:
        writer.writerows(
            [["|".join(v) if isinstance(v, list) else _plain(v) for v in row] for row in batch]
        )
        n += len(batch)
    return n


def write_parquet(columns: list[str], batches: Iterator[list[tuple[Any, ...]]], path: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DbappError(
            "Parquet needs pyarrow: pip install 'dbapp[parquet]' (or export --format jsonl/csv)"
        ) from None
    writer = None
    n = 0
    tmp = path.with_name(path.name + ".part")
    try:
        for batch in batches:
            table = pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in batch])
            if writer is None:
                # A column empty in the first batch has no type yet: text (the columns that
                # can be null throughout are text: title, author, url...).
                schema = pa.schema(
                    [
                        f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                        for f in table.schema
                    ]
                )
                writer = pq.ParquetWriter(str(tmp), schema)
            table = table.cast(writer.schema)
            writer.write_table(table)
            n += len(batch)
        if writer is None:  # nothing matched: still a valid (empty) file with the columns
            empty = pa.Table.from_pydict({c: pa.array([], pa.string()) for c in columns})
            pq.write_table(empty, str(tmp))
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return n


def export(
    conn: Connection,
    what: str,
    filters: ExportFilters,
    fmt: str,
    path: Path | None,
    stdout: IO[str] | None = None,
) -> int:
    """Write the export to ``path`` (or ``stdout`` for JSON Lines and CSV); rows written."""
    columns, batches = rows(conn, what, filters)
    if fmt == "parquet":
        if path is None:
            raise BadArgument("Parquet is binary: give --output FILE.parquet")
        return write_parquet(columns, batches, path)
    writer: Callable[[list[str], Iterator[list[tuple[Any, ...]]], IO[str]], int] = (
        write_csv if fmt == "csv" else write_jsonl
    )
    if path is None:
        assert stdout is not None
        return writer(columns, batches, stdout)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        n = writer(columns, batches, f)
    tmp.replace(path)  # a killed export leaves a .part file, never a truncated FILE
    return n


__all__ = ["FORMATS", "WHATS", "ExportFilters", "export", "format_for", "rows"]
