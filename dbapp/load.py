"""Loading: parse -> extract -> write, in batches of one transaction each.

Each batch is COPYed into temporary staging tables and moved into the real tables with set-based
``INSERT ... ON CONFLICT``, so a batch's documents and their mentions commit together (or not at
all), re-loading is a no-op and concurrent loaders cannot duplicate a document.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from dbapp import bulk, copyrows, ledger, mentions, migrate, summaries
from dbapp.errors import DatabaseUnavailable, DbappError, InputError, first_line
from dbapp.extract.base import Extractor
from dbapp.ledger import LoadCounts
from dbapp.locks import retrying
from dbapp.parse.inputs import InputFile, Skipped, discover, iter_units
from dbapp.parse.records import Reject
from dbapp.pgcopy import copy_rows, copy_text
from dbapp.pipeline import ParseContext, Prepared, UnitResult, run_units
from dbapp.report import resolve_source

DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_DOCUMENT_BYTES = 5_000_000
EXAMPLES_PER_WARNING = 5
SAMPLE_SIZE = 20
# Below this much input, worker start-up costs more than it saves.
AUTO_WORKERS_BYTES = 8 * 1024 * 1024
# An initial load at least this big builds its heaviest indexes at the end (dbapp.bulk).
AUTO_BULK_BYTES = 16 * 1024 * 1024

STAGING_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS staging_documents (
    source_name text, external_id text, content_sha256 text, published_on date,
    dateline text, dateline_place text, dateline_country text, author text, title text,
    url text, body text, language text, char_count integer, word_count integer,
    origin_path text, origin_line integer, original_sha256 text, original_bytes bigint
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS staging_tags (
    content_sha256 text, vocabulary text, tag text
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS staging_inserted (
    document_id bigint, content_sha256 text
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS staging_rejects (
    load_id integer, path text, line_number integer, record_number integer, error_code text,
    message text, raw bytea, raw_size bigint, raw_sha256 text
) ON COMMIT DELETE ROWS;
"""
REJECT_COLUMNS = (
    "load_id, path, line_number, record_number, error_code, message, raw, raw_size, raw_sha256"
)
# A re-run (or a concurrent load) meets the same bad records again: the first reject row of a
# record keeps it (unique index uq_load_rejects_record, migration 0006).
INSERT_REJECTS = f"""
INSERT INTO load_rejects ({REJECT_COLUMNS})
SELECT {REJECT_COLUMNS} FROM staging_rejects s
ORDER BY md5(path), line_number, record_number, error_code
ON CONFLICT (md5(path), coalesce(line_number, -1), coalesce(record_number, -1), error_code,
             coalesce(raw_sha256, '')) DO NOTHING
"""
REJECT_BATCH_BYTES = 8 * 1024 * 1024
# A batch is also cut at this many bytes of rows: 1,000 documents of 5 MB would not fit.
BATCH_BYTES = 4 * 1024 * 1024
INSERT_SOURCES = """
INSERT INTO sources (name)
SELECT DISTINCT source_name FROM staging_documents ORDER BY 1
ON CONFLICT (name) DO NOTHING
"""
# Sorted inserts: concurrent loaders take row locks in the same order and cannot deadlock.
INSERT_DOCUMENTS = """
WITH inserted AS (
    INSERT INTO documents (
        source_id, external_id, content_sha256, published_on, dateline, dateline_place,
        dateline_country, author, title, url, body, language, char_count, word_count,
        origin_path, origin_line, original_sha256, original_bytes, load_id)
    SELECT s.source_id, d.external_id, d.content_sha256, d.published_on, d.dateline,
           d.dateline_place, d.dateline_country, d.author, d.title, d.url, d.body, d.language,
           d.char_count, d.word_count, d.origin_path, d.origin_line, d.original_sha256,
           d.original_bytes, :load_id
    FROM staging_documents d JOIN sources s ON s.name = d.source_name
    ORDER BY d.content_sha256
    ON CONFLICT (content_sha256) DO NOTHING
    RETURNING document_id, content_sha256
)
INSERT INTO staging_inserted SELECT document_id, content_sha256 FROM inserted
"""
# A new document's tags (a duplicate's are the first copy's).
INSERT_TAGS = """
INSERT INTO document_tags (document_id, vocabulary, tag)
SELECT DISTINCT i.document_id, t.vocabulary, t.tag
FROM staging_tags t JOIN staging_inserted i USING (content_sha256)
ORDER BY 1, 2, 3
ON CONFLICT DO NOTHING
"""
DUPLICATE_EXAMPLES = """
SELECT d.origin_path, d.origin_line, x.document_id, x.origin_path AS first_path
FROM staging_documents d JOIN documents x ON x.content_sha256 = d.content_sha256
WHERE NOT EXISTS (SELECT 1 FROM staging_inserted i WHERE i.content_sha256 = d.content_sha256)
ORDER BY d.origin_path, d.origin_line LIMIT :n
"""


@dataclass
class LoadOptions:
    """How to load: what the CLI's options say."""

    source: str | None = None
    fmt: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int = 0  # 0 = decide from the input size
    dry_run: bool = False
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    bulk: bool | None = None  # defer index builds; None: when loading much into an empty table
    writers: int = 0  # connections writing batches; 0 = decide from the input size
    date_order: str | None = None  # MDY or DMY: how to read 9/5/17
    default_date: dt.date | None = None  # for documents nothing else dates (--date)
    encoding: str | None = None  # the inputs' encoding, instead of detecting it

    def arguments(self, paths: list[str], extractor: Extractor) -> dict[str, Any]:
        return {
            "paths": [_storable(p) for p in paths],
            "source": _storable(self.source) if self.source else None,
            "format": self.fmt,
            "map": self.mapping,
            "batch_size": self.batch_size,
            "workers": self.workers,
            "writers": self.writers,
            "bulk": self.bulk,
            "date_order": self.date_order,
            "date": self.default_date.isoformat() if self.default_date else None,
            "encoding": self.encoding,
            "extractor": f"{extractor.name} {extractor.version}",
        }


@dataclass
class LoadResult:
    """What a load did, for the summary and the exit code."""

    load_id: int | None
    status: str
    counts: LoadCounts
    elapsed: float
    warnings: Counter[str] = field(default_factory=Counter)
    warning_examples: dict[str, list[str]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)  # the first SAMPLE_SIZE
    duplicates: list[str] = field(default_factory=list)  # the first SAMPLE_SIZE, described
    notes: list[str] = field(default_factory=list)  # said on stderr after the summary
    dry_run: bool = False
    bulk: bool = False  # indexes were built at the end
    skipped: list[Skipped] = field(default_factory=list)  # directory entries not read
    repeated_rejects: int = 0  # rejects an earlier load already recorded

    @property
    def documents_per_second(self) -> float:
        return self.counts.documents_seen / self.elapsed if self.elapsed else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.counts.bytes_read / 1e6 / self.elapsed if self.elapsed else 0.0

    def warnings_json(self) -> dict[str, Any]:
        return {
            code: {"count": n, "examples": self.warning_examples.get(code, [])}
            for code, n in sorted(self.warnings.items())
        }


# SQLSTATE classes of data PostgreSQL refuses (a value, a constraint, a size limit): the
# record is at fault, not the database.
_DATA_CLASSES = ("22", "23", "54")


def _refused_data(exc: BaseException) -> bool:
    if isinstance(exc, UnicodeEncodeError | ValueError):
        return True
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or ""
    return state[:2] in _DATA_CLASSES


def _refused(doc: Prepared, exc: BaseException) -> Reject:
    """A document PostgreSQL refused, as a reject (its row as parsed: the input's bytes stayed
    with the parser)."""
    reason = first_line(exc)
    path, _, line = doc.where.rpartition(":")
    return Reject(
        path if line.isdigit() else doc.where,
        "database_refused",
        f"PostgreSQL refused this document: {reason} (raw holds the record as parsed)",
        doc.document_row.encode("utf-8", "backslashreplace"),
        line_number=int(line) if line.isdigit() else None,
    )


def _storable(value: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates (from undecodable file names)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")


class Progress:
    """Callbacks a caller may use to show progress; the default shows nothing."""

    def start(self, total: int | None, unit: str) -> None:
        """``total`` bytes (unit "bytes") or documents (unit "documents"), if known."""

    def advance(self, nbytes: int, documents: int, rejects: int) -> None: ...

    def stop(self) -> None: ...


@dataclass
class BatchWriter:
    """Writes batches of documents, mentions and rejects for one load, a transaction each.

    ``lock`` guards the shared totals: each batch adds its own figures and writes the ledger
    row, then commits, while holding it, so the ledger only ever counts committed batches.
    """

    conn: Connection
    load_id: int
    extractor: Extractor
    lock: threading.Lock = field(default_factory=threading.Lock)
    defer_summaries: bool = False  # a bulk load rebuilds them at its end
    # Source names this writer has made sure exist (as their COPY text): most batches name
    # no new source, and looking for one scans the staged documents.
    sources_known: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        with self.conn.begin():
            if self.defer_summaries:
                summaries.defer(self.conn)
            for statement in STAGING_DDL.split(";"):
                if statement.strip():
                    self.conn.execute(text(statement))
            mentions.create_staging(self.conn)

    def _row(self, r: Reject) -> tuple[Any, ...]:
        size, digest = r.size_and_digest()
        return (
            self.load_id,
            _storable(r.path),
            r.line_number,
            r.record_number,
            r.code,
            _storable(r.message),
            r.raw,
            size,
            digest,
        )

    def write(self, batch: list[Prepared], rejects: list[Reject], result: LoadResult) -> None:
        """Write a batch; if PostgreSQL refuses some record's data, write the batch again one
        document at a time and turn each refused document into a reject, so one bad record
        never costs the rest (or the load)."""
        try:
            # A deadlock with another writer (a delete, curation) rolls the batch back whole.
            retrying(lambda: self._write(batch, rejects, result))
        except (DBAPIError, psycopg.Error, UnicodeEncodeError) as exc:
            if not _refused_data(exc) or (len(batch) <= 1 and not rejects):
                if len(batch) == 1 and _refused_data(exc):
                    self._write([], [_refused(batch[0], exc)], result, refused=1)
                    return
                raise
            if rejects:
                self._write([], rejects, result)
            for doc in batch:
                try:
                    self._write([doc], [], result)
                except (DBAPIError, psycopg.Error, UnicodeEncodeError) as one:
                    if not _refused_data(one):
                        raise
                    self._write([], [_refused(doc, one)], result, refused=1)

    def _write(
        self,
        batch: list[Prepared],
        rejects: list[Reject],
        result: LoadResult,
        refused: int = 0,
    ) -> None:
        """One transaction: the batch's documents, their mentions, rejects and the ledger totals."""
        inserted = added = 0
        duplicates: list[str] = []
        with self.conn.begin() as transaction:
            if batch:
                copy_text(self.conn, f"staging_documents ({copyrows.DOCUMENT_COLUMNS})",
                          "".join(d.document_row for d in batch))  # fmt: skip
                staged = sum(d.mentions for d in batch)
                if staged:
                    copy_text(self.conn, f"staging_mentions ({copyrows.MENTION_COLUMNS})",
                              "".join(d.mention_rows for d in batch))  # fmt: skip
                tags = "".join(d.tag_rows for d in batch)
                if tags:
                    copy_text(self.conn, f"staging_tags ({copyrows.TAG_COLUMNS})", tags)
                names = {d.document_row.split("\t", 1)[0] for d in batch}
                checked = not names <= self.sources_known
                if checked:
                    self.conn.execute(text(INSERT_SOURCES))
                self.conn.execute(text(INSERT_DOCUMENTS), {"load_id": self.load_id})
                inserted = self.conn.scalar(text("SELECT count(*) FROM staging_inserted")) or 0
                if not checked and inserted < len(batch):
                    # Duplicates, or a source deleted meanwhile: its documents must not be lost.
                    self.conn.execute(text(INSERT_SOURCES))
                    self.conn.execute(text(INSERT_DOCUMENTS), {"load_id": self.load_id})
                    inserted = self.conn.scalar(text("SELECT count(*) FROM staging_inserted")) or 0
                if tags and inserted:
                    self.conn.execute(text(INSERT_TAGS))
                if staged and inserted:
                    added = mentions.insert_loaded(
                        self.conn, self.extractor.name, self.extractor.version
                    )
                if len(batch) > inserted:
                    for path, line, doc_id, first in self.conn.execute(
                        text(DUPLICATE_EXAMPLES), {"n": SAMPLE_SIZE}
                    ):
                        where = f"{path}:{line}" if line else path
                        duplicates.append(f"{where} is document {doc_id} (first from {first})")
            repeated = 0
            if rejects:
                copy_rows(self.conn, f"staging_rejects ({REJECT_COLUMNS})", map(self._row, rejects))
                stored = self.conn.execute(text(INSERT_REJECTS)).rowcount
                repeated = len(rejects) - stored
            with self.lock:
                counts = result.counts
                result.repeated_rejects += repeated
                counts.documents_rejected += refused
                if refused:
                    room = SAMPLE_SIZE - len(result.rejects)
                    result.rejects.extend(rejects[: max(room, 0)])
                counts.documents_inserted += inserted
                counts.documents_duplicate += len(batch) - inserted
                counts.mentions_inserted += added
                room = SAMPLE_SIZE - len(result.duplicates)
                result.duplicates.extend(duplicates[: max(room, 0)])
                ledger.record_progress(self.conn, self.load_id, counts, result.warnings_json())
                transaction.commit()
        if batch:
            self.sources_known |= names  # they exist now that this batch has committed


class WriterPool:
    """Hands batches to ``n`` writer threads, each with its own connection and transactions.

    The server does most of a load's work (tsvector, indexes, constraints); two connections let
    it use two cores, and the threads overlap it with reading the parsers' output. Batches from
    one load may commit out of order: each is atomic and idempotent on its own.
    """

    def __init__(
        self, engine: Engine, load_id: int, extractor: Extractor, result: LoadResult, n: int
    ) -> None:
        self.engine, self.load_id, self.extractor, self.result = engine, load_id, extractor, result
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.stopping = False
        self.queue: queue.Queue[tuple[list[Any], list[Reject]] | None] = queue.Queue(maxsize=n)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                try:
                    writer = BatchWriter(
                        conn, self.load_id, self.extractor, self.lock, self.result.bulk
                    )
                    while (item := self.queue.get()) is not None:
                        if not (self.errors or self.stopping):
                            writer.write(item[0], item[1], self.result)
                finally:
                    if self.result.bulk:  # never hand a connection that skips the triggers on
                        conn.invalidate()
        except BaseException as exc:  # noqa: BLE001 - handed to the loading thread
            self.errors.append(exc)
            while self.queue.get() is not None:  # keep the producer from blocking
                pass

    def submit(self, batch: list[Any], rejects: list[Reject]) -> None:
        if self.errors:
            raise self.errors[0]
        if batch or rejects:
            self.queue.put((batch, rejects))

    def close(self, abandon: bool = False) -> None:
        """Wait for the writers (after their current batch if ``abandon``); re-raise a failure."""
        self.stopping = abandon
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.errors and not abandon:
            raise self.errors[0]


def _auto_workers(files: list[InputFile], requested: int) -> int:
    if requested > 0:
        return requested
    total = sum(f.size for f in files)
    if total < AUTO_WORKERS_BYTES or any(f.is_stdin for f in files):
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _note(result: LoadResult, unit: UnitResult, seen: set[str]) -> None:
    """Fold one unit's rejects, warnings and byte count into the totals."""
    counts = result.counts
    if unit.path not in seen:
        seen.add(unit.path)
        counts.files_seen += 1
    counts.bytes_read += unit.nbytes
    counts.documents_seen += len(unit.documents) + len(unit.rejects)
    counts.documents_rejected += len(unit.rejects)
    room = SAMPLE_SIZE - len(result.rejects)
    result.rejects.extend(unit.rejects[: max(room, 0)])
    for code, detail in [w for doc in unit.documents for w in doc.warnings] + unit.warnings:
        result.warnings[code] += 1
        examples = result.warning_examples.setdefault(code, [])
        if len(examples) < EXAMPLES_PER_WARNING:
            examples.append(_storable(detail))


def load_documents(
    engine: Engine,
    paths: list[str],
    extractor: Extractor,
    options: LoadOptions | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Load every document under ``paths``; see the module docstring for the guarantees.

    Owns its transactions (one per batch) on a connection of its own: batches are the unit of
    atomicity, so the caller cannot wrap the whole run in one transaction.
    """
    options = options or LoadOptions()
    progress = progress or Progress()
    skipped: list[Skipped] = []
    files = discover(paths, options.fmt, skipped)
    if not files:
        reasons = Counter(s.reason for s in skipped)
        what = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        raise InputError(
            "nothing to load: no input files found"
            + (f" (skipped: {what})" if what else " (the directories are empty)")
        )
    if options.source is not None:
        options = replace(options, source=_known_source(engine, options.source))
    ctx = ParseContext(
        extractor,
        options.source,
        options.mapping,
        options.date_order,
        options.default_date,
        options.encoding,
        options.max_document_bytes,
    )
    workers = _auto_workers(files, options.workers)
    total = sum(f.size for f in files)
    options = replace(
        options,
        bulk=total >= AUTO_BULK_BYTES if options.bulk is None else options.bulk,
        writers=options.writers if options.writers > 0 else (2 if workers > 1 else 1),
    )
    result = LoadResult(None, "running", LoadCounts(), 0.0, dry_run=options.dry_run)
    result.skipped = skipped
    for skip in skipped:
        result.warnings["skipped_input"] += 1
        examples = result.warning_examples.setdefault("skipped_input", [])
        if len(examples) < EXAMPLES_PER_WARNING:
            examples.append(f"{skip.path}: {skip.reason}")
    started = time.perf_counter()
    units = run_units(iter_units(files, options.max_document_bytes), ctx, workers)
    progress.start(total or None, "bytes")
    try:
        if options.dry_run:
            _dry_run(engine, units, result, progress)
        else:
            _load(engine, paths, units, extractor, options, result, progress)
    finally:
        progress.stop()
        result.elapsed = time.perf_counter() - started
    return result


def _dry_run(
    engine: Engine, units: Iterable[UnitResult], result: LoadResult, progress: Progress
) -> None:
    shas: dict[str, str] = {}
    seen_files: set[str] = set()
    check_db = bool(migrate.current(engine))
    with engine.connect() as conn:
        for unit in units:
            _note(result, unit, seen_files)
            fresh = []
            for doc in unit.documents:
                sha = doc.sha256
                if sha in shas:
                    result.counts.documents_duplicate += 1
                    if len(result.duplicates) < SAMPLE_SIZE:
                        result.duplicates.append(f"{doc.where} repeats {shas[sha]}")
                    continue
                shas[sha] = doc.where
                fresh.append(sha)
            known = set()
            if check_db and fresh:
                known = set(
                    conn.scalars(
                        text("SELECT content_sha256 FROM documents WHERE content_sha256 = ANY(:s)"),
                        {"s": fresh},
                    )
                )
            result.counts.documents_duplicate += len(known)
            result.counts.documents_inserted += len(fresh) - len(known)
            new = set(fresh) - known  # a duplicate's mentions would not be inserted
            for doc in unit.documents:
                if doc.sha256 in new:
                    result.counts.mentions_inserted += doc.mentions
                    new.discard(doc.sha256)
            progress.advance(unit.nbytes, len(unit.documents), len(unit.rejects))
        conn.rollback()
    result.status = "partial" if result.counts.documents_rejected else "completed"


def _load(
    engine: Engine,
    paths: list[str],
    units: Iterable[UnitResult],
    extractor: Extractor,
    options: LoadOptions,
    result: LoadResult,
    progress: Progress,
) -> None:
    with engine.connect() as conn:
        with conn.begin():
            ledger.mark_interrupted_loads(conn)
            bulk.restore(conn)
            load_id = ledger.start_load(conn, options.arguments(paths, extractor))
        result.load_id = load_id
        if options.bulk:
            with conn.begin():
                result.bulk = bulk.begin_bulk(conn)
        pool = WriterPool(engine, load_id, extractor, result, options.writers)
        batch: list[Prepared] = []
        rejects: list[Reject] = []
        batch_shas: set[str] = set()
        submitted = 0
        first_batch = max(1, options.batch_size // 4)
        seen_files: set[str] = set()
        reject_bytes = batch_bytes = 0
        try:
            try:
                for unit in units:
                    with pool.lock:
                        _note(result, unit, seen_files)
                    rejects.extend(unit.rejects)
                    for doc in unit.documents:
                        sha = doc.sha256
                        if sha in batch_shas:  # the same text twice in one batch
                            with pool.lock:
                                result.counts.documents_duplicate += 1
                                if len(result.duplicates) < SAMPLE_SIZE:
                                    result.duplicates.append(
                                        f"{doc.where} repeats a document of this load"
                                    )
                            continue
                        batch_shas.add(sha)
                        batch.append(doc)
                    reject_bytes += sum(len(r.raw or b"") for r in unit.rejects)
                    batch_bytes += sum(
                        len(d.document_row) + len(d.mention_rows) for d in unit.documents
                    )
                    # The first batch of each writer is smaller: the server starts work sooner.
                    size = options.batch_size if submitted >= len(pool.threads) else first_batch
                    if (
                        len(batch) >= size
                        or len(rejects) >= options.batch_size
                        or reject_bytes >= REJECT_BATCH_BYTES
                        or batch_bytes >= BATCH_BYTES
                    ):
                        pool.submit(batch, rejects)
                        submitted += 1
                        batch, rejects, batch_shas = [], [], set()
                        reject_bytes = batch_bytes = 0
                    progress.advance(unit.nbytes, len(unit.documents), len(unit.rejects))
                pool.submit(batch, rejects)
            except BaseException:
                pool.close(abandon=True)
                raise
            pool.close()
            if result.bulk:
                # The summaries do not need the deferred indexes: build all at once, the
                # summaries' two halves on connections of their own.
                with ThreadPoolExecutor(len(summaries.REBUILD_PARTS)) as background:
                    rebuilt = [
                        background.submit(_rebuild_summaries, engine, part)
                        for part in summaries.REBUILD_PARTS
                    ]
                    with conn.begin():
                        bulk.end_bulk(conn)
                    for future in rebuilt:
                        future.result()
                with conn.begin():
                    summaries.mark_fresh(conn)
                    bulk.release(conn)
            result.status = "partial" if result.counts.documents_rejected else "completed"
            with conn.begin():
                ledger.finish_load(conn, load_id, result.status)
            if not result.bulk:
                _heal_after(conn, result)
        except KeyboardInterrupt:
            result.status = "interrupted"
            _finish_quietly(conn, load_id, "interrupted", "interrupted by the user")
            raise
        except (DBAPIError, psycopg.Error) as exc:
            # psycopg errors come unwrapped from the COPYs, which use the driver directly.
            result.status = "failed"
            orig = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = first_line(exc)
            _finish_quietly(conn, load_id, "failed", reason)
            lost = isinstance(orig, psycopg.OperationalError) or (
                isinstance(exc, DBAPIError) and exc.connection_invalidated
            )
            if lost:
                raise DatabaseUnavailable(
                    f"lost the database during load {load_id}: {reason}. "
                    "Everything committed before is kept; run the same load again to finish."
                ) from None
            raise DbappError(f"load {load_id} failed: {reason}") from None
        except Exception as exc:
            # Anything else (a dead parser process, an unreadable input...) ends the load as
            # failed, not interrupted: the user must act, and the next run picks it up.
            result.status = "failed"
            reason = _storable(str(exc))[:1000] or type(exc).__name__
            _finish_quietly(conn, load_id, "failed", reason)
            raise


def _known_source(engine: Engine, name: str) -> str:
    """``--source trend`` files under the existing ``Trend``, not a second source."""
    try:
        with engine.connect() as conn:
            return resolve_source(conn, name, must_exist=False) or name
    except DBAPIError:  # no schema yet (a dry run on a fresh database)
        return name


def _heal_after(conn: Connection, result: LoadResult) -> None:
    """A bulk load killed in its end phase leaves indexes, keys or summaries to rebuild, but
    its statements run on in the server (holding the bulk lock) until they end and roll back:
    a load started meanwhile could not heal them at its start. Try again at its end; if they
    are still running, say so (the next load, or `dbapp db upgrade`, heals them)."""
    with conn.begin():
        bulk.restore(conn)
    with conn.begin():
        pending = bulk.missing(conn) or summaries.stale_reason(conn)
    if pending:
        result.notes.append(
            "a bulk load is running, or an earlier one's end phase (index builds, summary "
            "rebuild) still runs on the server after it was killed: until the next load (or "
            "`dbapp report check --repair`) completes it, reports may be slow or say the "
            "summaries are stale"
        )


def _rebuild_summaries(engine: Engine, part: str) -> None:
    with engine.begin() as conn:
        summaries.rebuild_part(conn, part)


def _finish_quietly(conn: Connection, load_id: int, status: str, error: str) -> None:
    """Best effort: if the database is gone, the next load marks this one interrupted."""
    try:
        if conn.in_transaction():
            conn.rollback()
        with conn.begin():
            ledger.finish_load(conn, load_id, status, error)
    except Exception:  # noqa: BLE001 - we are already reporting the original failure
        pass


def summary_rows(result: LoadResult) -> list[tuple[str, str]]:
    """The summary table as (label, value) rows."""
    c = result.counts
    verb = "would be " if result.dry_run else ""
    rows = [
        ("files", f"{c.files_seen:,}"),
        ("records read", f"{c.documents_seen:,}"),
        (f"documents {verb}inserted", f"{c.documents_inserted:,}"),
        ("duplicates (already loaded or repeated)", f"{c.documents_duplicate:,}"),
        ("rejected", f"{c.documents_rejected:,}"),
        (f"mentions {verb}inserted", f"{c.mentions_inserted:,}"),
    ]
    for code, n in sorted(result.warnings.items()):
        rows.append((f"warning: {code}", f"{n:,}"))
    rows.append(("time", f"{result.elapsed:.2f} s"))
    rows.append(
        ("speed", f"{result.documents_per_second:,.0f} docs/s, {result.mb_per_second:.2f} MB/s")
    )
    return rows
