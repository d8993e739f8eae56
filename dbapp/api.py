"""dbapp from Python (notebooks, pandas): the CLI's verbs as functions returning plain rows.

import dbapp
import pandas as pd

with dbapp.connect() as db:          # embedded server (started and stopped) or DATABASE_URL
    db.load("seeds/")
    frame = pd.DataFrame(db.report("timeline", entity="Karabakh", period="year"))
    raw = pd.read_sql("SELECT * FROM report_top_entities", db.engine)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from dbapp.config import get_settings
from dbapp.db import Database, open_database
from dbapp.report import ReportError, ReportParams, ReportResult, compare_timeline, run_report
from dbapp.search import search_documents


def _records(result: ReportResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _day(value: str | dt.date | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class LoadSummary:
    """What a load did (the numbers ``dbapp load`` prints)."""

    load_id: int | None
    documents_inserted: int
    documents_duplicate: int
    documents_rejected: int
    mentions_inserted: int


class Dbapp:
    """An open dbapp database. ``engine`` is a SQLAlchemy Engine for ``pandas.read_sql``."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.engine: Engine = database.engine
        self.url = database.url

    def load(self, *paths: str | Path, extractor: str = "gazetteer", **options: Any) -> LoadSummary:
        """Load files or folders, as ``dbapp load`` does (options: those of LoadOptions, e.g.
        ``source="Trend"``, ``fmt="jsonl"``, ``batch_size=500``)."""
        from dbapp import migrate
        from dbapp.extract import extractor_for
        from dbapp.load import LoadOptions, load_documents
        from dbapp.locks import catalogue_in_use

        migrate.ensure_schema(self.engine)
        with catalogue_in_use(self.engine):
            chosen = extractor_for(self.engine, extractor)
            result = load_documents(
                self.engine, [str(p) for p in paths], chosen, LoadOptions(**options)
            )
        c = result.counts
        return LoadSummary(
            result.load_id,
            c.documents_inserted,
            c.documents_duplicate,
            c.documents_rejected,
            c.mentions_inserted,
        )

    def report(
        self,
        name: str,
        *,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        compare: list[str] | None = None,
        entities: list[str] | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """A report's rows as dicts (filters: source, entity, kind, limit, period, context,
        min_documents, query, tag, language, rollup; top-words: query, against, sample,
        bigrams, by); ``compare=[queries]`` or ``entities=[names]`` for timelines."""
        if (compare or entities) and name != "timeline":
            raise ReportError("only timeline compares series (compare= or entities=)")
        with self.engine.connect() as conn:
            if name == "top-words":  # its own module, as in the CLI
                from dbapp.topwords import OPTIONS, top_words

                if "query" not in filters:
                    raise ReportError("top-words needs query= (the articles to characterise)")
                words = {k: filters.pop(k) for k in OPTIONS if k in filters}
                if "by" in words:
                    words["sort"] = words.pop("by")
                if filters:
                    raise ReportError(f"top-words does not take {', '.join(sorted(filters))}")
                return _records(top_words(conn, since=_day(since), until=_day(until), **words))
            params = ReportParams(since=_day(since), until=_day(until), **filters)
            if compare or entities:
                return _records(compare_timeline(conn, params, compare, entities))
            return _records(run_report(conn, name, params))

    def search(
        self,
        query: str,
        *,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        source: str | None = None,
        entity: str | None = None,
        sort: str = "rank",
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """Documents matching ``query`` (web-search syntax), with snippets."""
        with self.engine.connect() as conn:
            result = search_documents(
                conn, query, source, _day(since), _day(until), limit, entity=entity, sort=sort
            )
        return _records(result)

    def show(self, document_id: int) -> dict[str, Any]:
        """One document with its metadata and every mention (offsets into ``body``)."""
        from dbapp.show import show_document

        with self.engine.connect() as conn:
            return show_document(conn, document_id).as_dict()

    def export(
        self,
        what: str,
        path: str | Path | None = None,
        *,
        fmt: str | None = None,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        **filters: Any,
    ) -> int | list[dict[str, Any]]:
        """Write ``documents``, ``mentions`` or ``entities`` to ``path`` (JSONL, CSV or Parquet;
        returns the row count), or, without a path, return them as dicts."""
        from dbapp.export import ExportFilters, export, format_for, rows

        chosen = ExportFilters(since=_day(since), until=_day(until), **filters)
        with self.engine.connect() as conn, conn.begin():
            if path is None:
                columns, batches = rows(conn, what, chosen)
                return [dict(zip(columns, r, strict=True)) for batch in batches for r in batch]
            target = Path(path)
            return export(conn, what, chosen, format_for(target, fmt), target)

    def sql(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of any read-only SQL (bound ``:name`` parameters), as dicts."""
        with self.engine.connect() as conn:
            result = conn.execute(text(query), params)
            return [dict(r._mapping) for r in result]


@contextmanager
def connect(database_url: str | None = None, pgdata: str | Path | None = None) -> Iterator[Dbapp]:
    """Open the dbapp database: ``database_url`` (or ``DATABASE_URL``), else the embedded server
    in ``pgdata`` (or ``DBAPP_PGDATA``, or the per-user default), started for the block and
    stopped after it unless something else still uses it (like the CLI)."""
    with open_database(get_settings(database_url, pgdata)) as database:
        yield Dbapp(database)
