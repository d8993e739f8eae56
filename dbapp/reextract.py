"""Re-running extraction over stored documents, idempotently (``dbapp extract``)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, Row

from dbapp import mentions
from dbapp.extract.base import Extractor, reads_language
from dbapp.load import Progress
from dbapp.locks import retrying
from dbapp.parse.native import add_authors, apply_structure, author_names
from dbapp.parse.records import ParsedDocument
from dbapp.report import resolve_source

FOREIGN_KEY_VIOLATION = "23503"
DEFAULT_BATCH_SIZE = 500

_SELECT = """
SELECT d.document_id, d.body, d.author, d.dateline, d.dateline_place, d.dateline_country,
       s.name AS source_name, d.language
FROM documents d JOIN sources s USING (source_id)
WHERE d.document_id > :after
  AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
  AND (CAST(:source AS text) IS NULL OR s.name = :source)
  AND (CAST(:load_id AS integer) IS NULL OR d.load_id = :load_id)
ORDER BY d.document_id
LIMIT :n
"""
_COUNT = """
SELECT count(*) FROM documents d JOIN sources s USING (source_id)
WHERE (CAST(:since AS date) IS NULL OR d.published_on >= :since)
  AND (CAST(:source AS text) IS NULL OR s.name = :source)
  AND (CAST(:load_id AS integer) IS NULL OR d.load_id = :load_id)
"""


@dataclass
class ExtractResult:
    """What a re-extraction changed."""

    extractor: str
    version: str
    documents: int = 0
    added: int = 0
    removed: int = 0
    elapsed: float = 0.0


def _documents(rows: list[Row[Any]]) -> list[ParsedDocument]:
    docs = []
    for r in rows:
        doc = ParsedDocument(
            body=r.body,
            origin_path=f"document {r.document_id}",
            author=r.author,
            dateline=r.dateline,
            dateline_place=r.dateline_place,
            dateline_country=r.dateline_country,
            # The source as the loader knew it: an agency's own name in its own story ("told
            # Reuters") is not a mention on re-extraction either.
            source_name=r.source_name,
            language=r.language,
        )
        apply_structure(doc)  # the same spans the loader found: they depend on the body only
        add_authors(doc, author_names(r.author), append=False)  # and on the stored author
        docs.append(doc)
    return docs


def extract_documents(
    engine: Engine,
    extractor: Extractor,
    since: dt.date | None = None,
    source: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    load_id: int | None = None,
) -> ExtractResult:
    """Re-extract stored documents: add what the extractor finds now, remove what it no longer
    finds (its own mentions only). One transaction per batch; safe to interrupt and re-run."""
    progress = progress or Progress()
    result = ExtractResult(extractor.name, extractor.version)
    started = time.perf_counter()
    with engine.connect() as conn:
        source = resolve_source(conn, source)
    params = {"since": since, "source": source, "load_id": load_id}
    with engine.connect() as conn:
        with conn.begin():
            total = conn.scalar(text(_COUNT), params) or 0
            mentions.create_staging(conn)
        progress.start(total, "documents")
        after = 0

        def batch() -> tuple[list[Row[Any]], int, int]:
            """The next batch, read and extracted again on every try."""
            rows = list(conn.execute(text(_SELECT), {**params, "after": after, "n": batch_size}))
            conn.rollback()
            if not rows:
                return rows, 0, 0
            ids = [r.document_id for r in rows]
            # A language the extractor has no names for gets none, as when it was loaded.
            staged = (
                (doc_id, extractor.extract(doc) if reads_language(extractor, doc.language) else [])
                for doc_id, doc in zip(ids, _documents(rows), strict=True)
            )
            with conn.begin():
                mentions.stage(conn, staged)
                mentions.resolve(conn)
                removed = mentions.prune(conn, ids, extractor.name, extractor.version)
                added = mentions.insert(conn, extractor.name, extractor.version)
            return rows, removed, added

        while True:
            # A deadlock with a concurrent writer, or documents deleted under the batch
            # (foreign key), rolls it back whole: it is read again and redone.
            rows, removed, added = retrying(batch, also=(FOREIGN_KEY_VIOLATION,))
            if not rows:
                break
            ids = [r.document_id for r in rows]
            result.removed += removed
            result.added += added
            result.documents += len(rows)
            after = ids[-1]
            progress.advance(0, len(rows), 0)
    progress.stop()
    result.elapsed = time.perf_counter() - started
    return result
