"""Parse and extract units of input, in this process or in worker processes (no database here)."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from dbapp import copyrows
from dbapp.extract.base import Extractor
from dbapp.parse.inputs import Unit
from dbapp.parse.native import parse_native
from dbapp.parse.records import ParsedDocument, Reject, content_sha256
from dbapp.parse.sgml import parse_sgml_record
from dbapp.parse.tabular import iter_json_records, record_to_document

UNKNOWN_SOURCE = "unknown"
SOURCE_UNKNOWN = "source_unknown"
GROUP_BYTES = 1 << 20  # ship small units to workers in groups of about this many bytes
GROUP_UNITS = 64


@dataclass(frozen=True)
class ParseContext:
    """Everything a worker needs to turn units into documents and mentions."""

    extractor: Extractor
    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)


class Prepared(NamedTuple):
    """A parsed document ready to write: what the loader needs, its rows already formatted."""

    sha256: str
    where: str
    warnings: list[tuple[str, str]]
    mentions: int
    document_row: str  # copyrows.DOCUMENT_COLUMNS
    mention_rows: str  # copyrows.MENTION_COLUMNS, one line per mention


@dataclass
class UnitResult:
    """Documents (with their mentions) and rejects from one unit, in input order."""

    path: str
    documents: list[Prepared]
    rejects: list[Reject]
    nbytes: int


def _documents_of(unit: Unit, ctx: ParseContext) -> Iterator[ParsedDocument | Reject]:
    if unit.fmt == "reject":
        yield unit.payload
    elif unit.fmt == "native":
        yield parse_native(unit.payload, unit.path, ctx.source)
    elif unit.fmt == "jsonl":
        for record in iter_json_records(unit.payload, unit.path, unit.first_line):
            if isinstance(record, Reject):
                yield record
            else:
                yield record_to_document(record, unit.path, ctx.mapping, ctx.source)
    elif unit.fmt == "csv":
        for row in unit.payload:
            yield record_to_document(row, unit.path, ctx.mapping, ctx.source)
    elif unit.fmt == "sgml":
        for rec in unit.payload:
            yield parse_sgml_record(rec, unit.path, ctx.source)
    else:  # pragma: no cover - units come from iter_units
        raise ValueError(f"unknown unit format {unit.fmt!r}")


def process_unit(unit: Unit, ctx: ParseContext) -> UnitResult:
    """Parse one unit and extract mentions from each document."""
    result = UnitResult(unit.path, [], [], unit.nbytes)
    for item in _documents_of(unit, ctx):
        if isinstance(item, Reject):
            result.rejects.append(item)
            continue
        item.sha256 = content_sha256(item.body)
        if not item.source_name:
            item.source_name = UNKNOWN_SOURCE
            item.warnings.append((SOURCE_UNKNOWN, item.where))
        mentions = ctx.extractor.extract(item)
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
            )
        )
    return result


_WORKER_CONTEXT: ParseContext | None = None


def _init_worker(ctx: ParseContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = ctx


def _work(units: list[Unit]) -> list[UnitResult]:
    assert _WORKER_CONTEXT is not None
    return [process_unit(u, _WORKER_CONTEXT) for u in units]


def _groups(units: Iterator[Unit]) -> Iterator[list[Unit]]:
    group: list[Unit] = []
    size = 0
    for unit in units:
        group.append(unit)
        payload = unit.payload
        size += len(payload) if isinstance(payload, bytes | list) else 1
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
    with ProcessPoolExecutor(
        workers, mp_context=mp, initializer=_init_worker, initargs=(ctx,)
    ) as pool:
        pending: deque[Future[list[UnitResult]]] = deque()
        for group in _groups(units):
            pending.append(pool.submit(_work, group))
            if len(pending) >= workers * 3:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
