"""Parse and extract units of input, in this process or in worker processes (no database here)."""

from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from dbapp import copyrows
from dbapp.copyrows import DEFAULT_LANGUAGE
from dbapp.errors import WorkerDied
from dbapp.extract.base import Extractor, reads_language
from dbapp.parse.dates import settle_date
from dbapp.parse.feed import parse_feed
from dbapp.parse.html import parse_html
from dbapp.parse.inputs import Unit
from dbapp.parse.language import detect_language
from dbapp.parse.native import parse_native
from dbapp.parse.records import ParsedDocument, Reject, content_sha256, site_of
from dbapp.parse.sgml import parse_sgml_record
from dbapp.parse.tabular import iter_array_records, iter_json_records, record_to_document
from dbapp.parse.warc import WarcPage, read_record

UNKNOWN_SOURCE = "unknown"
SOURCE_UNKNOWN = "source_unknown"
GROUP_BYTES = 1 << 20  # ship small units to workers in groups of about this many bytes
GROUP_UNITS = 64
MAX_MENTIONS = 20_000  # per document
WORKER_DIED = (
    "a parser process died (killed, or out of memory); everything committed so far is kept: "
    "run the same load again to finish"
)
MENTIONS_CAPPED = "mentions_capped"
NOT_EXTRACTED = "language_not_extracted"  # warning: a language the extractor has no names for
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ParseContext:
    """Everything a worker needs to turn units into documents and mentions."""

    extractor: Extractor
    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    date_order: str | None = None  # MDY or DMY: how to read 9/5/17 (--date-order)
    default_date: dt.date | None = None  # for documents nothing else dates (--date)
    encoding: str | None = None  # the inputs' encoding (--encoding), instead of detecting it
    max_document_bytes: int = 5_000_000  # --max-document-size, for what a parser decompresses


class Prepared(NamedTuple):
    """A parsed document ready to write: what the loader needs, its rows already formatted."""

    sha256: str
    where: str
    warnings: list[tuple[str, str]]
    mentions: int
    document_row: str  # copyrows.DOCUMENT_COLUMNS
    mention_rows: str  # copyrows.MENTION_COLUMNS, one line per mention
    tag_rows: str = ""  # copyrows.TAG_COLUMNS, one line per tag


@dataclass
class UnitResult:
    """Documents (with their mentions) and rejects from one unit, in input order."""

    path: str
    documents: list[Prepared]
    rejects: list[Reject]
    nbytes: int
    warnings: list[tuple[str, str]] = field(default_factory=list)  # counted, not documents


def _documents_of(
    unit: Unit, ctx: ParseContext
) -> Iterator[ParsedDocument | Reject | tuple[str, str]]:
    """What a unit holds: documents, rejects, and ``(warning, detail)`` for what is counted."""
    if unit.fmt == "reject":
        yield unit.payload
    elif unit.fmt == "native":
        yield parse_native(unit.payload, unit.path, ctx.source, ctx.encoding)
    elif unit.fmt == "jsonl":
        for record in iter_json_records(unit.payload, unit.path, unit.first_line, ctx.encoding):
            if isinstance(record, Reject):
                yield record
            else:
                yield record_to_document(record, unit.path, ctx.mapping, ctx.source, ctx.date_order)
    elif unit.fmt == "json_items":
        for record in iter_array_records(unit.payload, unit.path, ctx.encoding):
            if isinstance(record, Reject):
                yield record
            else:
                yield record_to_document(record, unit.path, ctx.mapping, ctx.source, ctx.date_order)
    elif unit.fmt == "csv":
        for row in unit.payload:
            yield record_to_document(row, unit.path, ctx.mapping, ctx.source, ctx.date_order)
    elif unit.fmt == "sgml":
        for rec in unit.payload:
            yield parse_sgml_record(rec, unit.path, ctx.source, ctx.encoding)
    elif unit.fmt == "html":
        yield parse_html(unit.payload, unit.path, ctx.source, encoding=ctx.encoding)
    elif unit.fmt == "warc":
        for chunk in unit.payload:
            page = read_record(chunk, unit.path, ctx.max_document_bytes)
            if isinstance(page, WarcPage):
                doc = parse_html(page.html, unit.path, ctx.source, page.url, page.fetched,
                                 ctx.encoding, page.number)  # fmt: skip
                # A reject keeps the input's bytes: the WARC record, not the decoded page.
                yield replace(doc, raw=chunk.raw) if isinstance(doc, Reject) else doc
            elif isinstance(page, str):
                yield (page, f"{unit.path}#{chunk.number}")
            else:
                yield page
    elif unit.fmt == "feed":
        yield from parse_feed(unit.payload, unit.path, ctx.source)
    elif unit.fmt == "note":
        yield from unit.payload
    else:  # pragma: no cover - units come from iter_units
        raise ValueError(f"unknown unit format {unit.fmt!r}")


def process_unit(unit: Unit, ctx: ParseContext) -> UnitResult:
    """Parse one unit and extract mentions from each document."""
    result = UnitResult(unit.path, [], [], unit.nbytes)
    for item in _documents_of(unit, ctx):
        if isinstance(item, Reject):
            result.rejects.append(item)
            continue
        if isinstance(item, tuple):
            result.warnings.append(item)
            continue
        item.sha256 = content_sha256(item.dedup_text or item.body)
        settle_date(item, ctx.default_date)
        if not item.source_name and item.url:
            item.source_name = site_of(item.url)  # the least specific source: the domain
        if not item.source_name:
            item.source_name = UNKNOWN_SOURCE
            item.warnings.append((SOURCE_UNKNOWN, item.where))
        if item.language is None:
            item.language = detect_language(item.body) or DEFAULT_LANGUAGE
        if not reads_language(ctx.extractor, item.language):
            # The catalogue's aliases are English: matching them in French would be noise.
            mentions = []
            item.warnings.append((NOT_EXTRACTED, f"{item.where}: {item.language}"))
        else:
            mentions = ctx.extractor.extract(item)
        if len(mentions) > MAX_MENTIONS:
            # Pathological text ("Baku, Baku, ..." a million times): keep memory bounded.
            item.warnings.append(
                (
                    MENTIONS_CAPPED,
                    f"{item.where}: {len(mentions):,} found, first {MAX_MENTIONS:,} kept",
                )
            )
            mentions = mentions[:MAX_MENTIONS]
        for m in mentions:
            # A wrong offset would silently corrupt every report: fail loudly instead.
            if item.body[m.start : m.end] != m.surface:
                raise AssertionError(
                    f"{ctx.extractor.name} produced a bad offset in {item.where}: "
                    f"{m.start}:{m.end} is {item.body[m.start : m.end]!r}, not {m.surface!r}"
                )
        result.documents.append(
            Prepared(
                item.sha256,
                item.where,
                item.warnings,
                len(mentions),
                copyrows.document_row(item),
                copyrows.mention_rows(item.sha256, mentions),
                copyrows.tag_rows(item.sha256, item.tags),
            )
        )
    return result


_WORKER_CONTEXT: ParseContext | None = None


def _die_with_parent(parent: int) -> None:
    """End this worker when the loader dies, even by ``kill -9`` (which no handler sees).

    Linux delivers SIGKILL to us when the parent goes (PR_SET_DEATHSIG); elsewhere, and for a
    parent that died before we got here, a watchdog thread notices the new parent pid.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _init_worker(ctx: ParseContext, parent: int) -> None:
    global _WORKER_CONTEXT
    # Ctrl-C is the loader's to handle: a worker that also got it would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    _WORKER_CONTEXT = ctx


def _work(units: list[Unit]) -> list[UnitResult]:
    assert _WORKER_CONTEXT is not None
    return [process_unit(u, _WORKER_CONTEXT) for u in units]


def _weight(payload: object) -> int:
    """About how many bytes a unit ships to a worker (groups stay near GROUP_BYTES)."""
    if isinstance(payload, bytes):
        return len(payload)
    if isinstance(payload, Reject):
        return len(payload.raw or b"")
    if isinstance(payload, list):
        return sum(len(getattr(item, "raw", b"")) for item in payload) or len(payload)
    return 1


def _groups(units: Iterator[Unit], first: int = 0) -> Iterator[list[Unit]]:
    """Units in groups of about GROUP_BYTES; the ``first`` groups are single units, so that
    every worker returns its first documents (and the database starts) soon."""
    group: list[Unit] = []
    size = 0
    for unit in units:
        if first > 0:
            first -= 1
            yield [unit]
            continue
        group.append(unit)
        size += _weight(unit.payload)
        if size >= GROUP_BYTES or len(group) >= GROUP_UNITS:
            yield group
            group, size = [], 0
    if group:
        yield group


def run_units(units: Iterator[Unit], ctx: ParseContext, workers: int = 1) -> Iterator[UnitResult]:
    """Process units in order; with ``workers > 1`` in worker processes, a bounded queue ahead."""
    if workers <= 1:
        for unit in units:
            yield process_unit(unit, ctx)
        return
    # spawn, not fork: a forked child would share (and could close) the parent's DB socket.
    mp = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, mp_context=mp, initializer=_init_worker, initargs=(ctx, os.getpid())
    )
    finished = False
    try:
        pending: deque[Future[list[UnitResult]]] = deque()
        for group in _groups(units, first=workers):
            pending.append(submit_quietly(pool, _work, group))
            if len(pending) >= workers * 2:
                yield from _result(pending.popleft())
        while pending:
            yield from _result(pending.popleft())
        finished = True
    finally:
        # On an error or Ctrl-C, drop the queued work instead of finishing it first.
        pool.shutdown(wait=True, cancel_futures=not finished)


def submit_quietly(pool: ProcessPoolExecutor, fn: Any, *args: Any) -> Future[Any]:
    """``pool.submit``, but a worker process started here never sees a Ctrl-C while it
    still imports (no traceback)."""
    # Ignored while a worker may be started (an ignored signal survives exec, so the new
    # worker never sees a Ctrl-C while it imports). A Ctrl-C in that short window is lost;
    # blocking it instead (to deliver it afterwards) could interrupt the pool at a point
    # where its shutdown then hung.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        return pool.submit(fn, *args)
    except BrokenProcessPool:
        raise WorkerDied(WORKER_DIED) from None
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _result(future: Future[list[UnitResult]]) -> list[UnitResult]:
    try:
        return future.result()
    except BrokenProcessPool:
        raise WorkerDied(WORKER_DIED) from None
