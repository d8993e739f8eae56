"""Watching a folder: load files as they arrive, one load (one ledger row) per round.

A file is complete, and loaded, when it has a known input extension, its name does not start
with a dot, and its size and modification time have not changed for ``settle`` seconds (two
looks at least that far apart, or a modification time that long ago at the first look).
Writers should write under a hidden or unknown name (``.part``, ``.tmp``, ``.name.jsonl``)
and rename into place; a file copied in slowly is picked up once it stops growing. Files
loaded are recorded in ``watched_files`` with the size and time they had, so a restart skips
them and a file that changes later is loaded again (its stored documents count as duplicates).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from dbapp.errors import InputError
from dbapp.extract.base import Extractor
from dbapp.load import LoadOptions, LoadResult, Progress, _storable, load_documents
from dbapp.locks import catalogue_in_use
from dbapp.parse.inputs import discover

DEFAULT_INTERVAL = 2.0
# How often the record of loaded files is read again (a `loads undo` makes files new again).
REREAD_SECONDS = 30.0
# --once gives up on files that keep changing after this long (a cron job must end).
ONCE_MAX_WAIT = 60.0
DEFAULT_SETTLE = 2.0
# A round loads at most this many files (one load, one ledger row); the rest go in the next
# round, straight after.
MAX_FILES_PER_ROUND = 200

_FINGERPRINT = """
SELECT (SELECT count(*) FROM entity_aliases)::text || ':'
       || (SELECT coalesce(sum(hashtext(normalised || entity_id::text)::bigint), 0)
           FROM entity_aliases)::text || ':'
       || (SELECT count(*) FROM ignored_surfaces)::text || ':'
       || (SELECT coalesce(sum(hashtext(surface)::bigint), 0) FROM ignored_surfaces)::text
"""
_RECORD = """
INSERT INTO watched_files (path, size, mtime_ns, load_id) VALUES (:p, :s, :m, :l)
ON CONFLICT (path) DO UPDATE
    SET size = excluded.size, mtime_ns = excluded.mtime_ns, load_id = excluded.load_id,
        loaded_at = now()
"""


@dataclass
class WatchTotals:
    rounds: int = 0
    files: int = 0
    documents: int = 0
    duplicates: int = 0
    rejected: int = 0
    mentions: int = 0
    still_changing: list[str] = field(default_factory=list)  # --once gave up waiting on these


@dataclass
class WatchOptions:
    interval: float = DEFAULT_INTERVAL
    settle: float = DEFAULT_SETTLE
    once: bool = False  # load what is complete now (waiting for it to settle), then return
    load: LoadOptions = field(default_factory=LoadOptions)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time it was first seen like this


class Watcher:
    """The state of one watch: what is loaded, what is settling."""

    def __init__(
        self,
        engine: Engine,
        directory: Path,
        make_extractor: Callable[[], Extractor],
        options: WatchOptions,
    ) -> None:
        if not directory.is_dir():
            raise InputError(f"not a directory: {directory}")
        self.engine = engine
        self.directory = directory.resolve()
        self.make_extractor = make_extractor
        self.options = options
        self.loaded: dict[str, tuple[int, int]] = {}
        self.settling: dict[str, _Seen] = {}
        self.extractor: Extractor | None = None
        self.fingerprint = ""
        self.totals = WatchTotals()
        self._known()

    def _known(self) -> None:
        """What earlier runs loaded from this folder (so a restart reads nothing again)."""
        prefix = _storable(str(self.directory).rstrip("/") + "/")
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT path, size, mtime_ns FROM watched_files "
                    "WHERE left(path, length(:p)) = :p"
                ),
                {"p": prefix},
            )
            self.loaded = {r.path: (r.size, r.mtime_ns) for r in rows}
        self.known_at = time.monotonic()

    def ready(self) -> tuple[list[tuple[str, int, int]], bool]:
        """Files complete and not loaded as they are now; and whether any are still settling."""
        now = time.monotonic()
        if now - self.known_at >= REREAD_SECONDS:
            self._known()
        present: set[str] = set()
        complete = []
        for item in discover([str(self.directory)], self.options.load.fmt, []):
            try:
                st = os.stat(item.path)
            except OSError:
                continue  # gone between the listing and the look
            if not os.access(item.path, os.R_OK):
                continue  # unreadable: looked at again when that changes
            key = _storable(item.path)
            present.add(key)
            state = (st.st_size, st.st_mtime_ns)
            if self.loaded.get(key) == state:
                continue
            seen = self.settling.get(item.path)
            if seen is None and time.time() - st.st_mtime >= self.options.settle:
                complete.append((item.path, st.st_size, st.st_mtime_ns))  # untouched a while
                continue
            if seen is None or (seen.size, seen.mtime_ns) != state:
                self.settling[item.path] = _Seen(st.st_size, st.st_mtime_ns, now)
                continue
            if now - seen.since >= self.options.settle:
                complete.append((item.path, st.st_size, st.st_mtime_ns))
        # Forget what left the folder: memory follows the folder, not the hours watched.
        for path in [p for p in self.settling if _storable(p) not in present]:
            del self.settling[path]
        for path in [p for p in self.loaded if p not in present]:
            del self.loaded[path]
        complete.sort()
        return complete[:MAX_FILES_PER_ROUND], bool(self.settling) or len(complete) > len(
            complete[:MAX_FILES_PER_ROUND]
        )

    def _current_extractor(self) -> Extractor:
        """The extractor, built again only when the catalogue changed (curation)."""
        with self.engine.connect() as conn:
            fingerprint = str(conn.scalar(text(_FINGERPRINT)))
        if self.extractor is None or fingerprint != self.fingerprint:
            self.extractor = self.make_extractor()
            self.fingerprint = fingerprint
        return self.extractor

    def load(
        self, files: list[tuple[str, int, int]], progress: Progress | None = None
    ) -> LoadResult:
        """One round: the files in one load, then recorded as loaded."""
        options = replace(self.options.load, bulk=False)
        with catalogue_in_use(self.engine):
            extractor = self._current_extractor()
            result = load_documents(
                self.engine, [f[0] for f in files], extractor, options, progress
            )
        # Recorded only if it is still the file that was read (not gone, replaced or made
        # unreadable meanwhile); anything else is looked at again next round.
        done = []
        for path, size, mtime_ns in files:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_size, st.st_mtime_ns) == (size, mtime_ns) and os.access(path, os.R_OK):
                done.append((_storable(path), size, mtime_ns))
            self.settling.pop(path, None)
        with self.engine.begin() as conn:
            for path, size, mtime_ns in done:
                conn.execute(
                    text(_RECORD), {"p": path, "s": size, "m": mtime_ns, "l": result.load_id}
                )
        for path, size, mtime_ns in done:
            self.loaded[path] = (size, mtime_ns)
        t = self.totals
        t.rounds += 1
        t.files += len(files)
        t.documents += result.counts.documents_inserted
        t.duplicates += result.counts.documents_duplicate
        t.rejected += result.counts.documents_rejected
        t.mentions += result.counts.mentions_inserted
        return result


def watch(
    engine: Engine,
    directory: Path,
    make_extractor: Callable[[], Extractor],
    options: WatchOptions | None = None,
    on_load: Callable[[LoadResult, list[str]], None] | None = None,
    progress: Progress | None = None,
    on_idle: Callable[[WatchTotals], None] | None = None,
    stop: threading.Event | None = None,
) -> WatchTotals:
    """Load files arriving in ``directory`` until ``stop`` is set (or, with ``once``, until
    nothing is left to load). Each round is one load: its batches commit whole or not at all."""
    options = options or WatchOptions()
    stop = stop or threading.Event()
    watcher = Watcher(engine, directory, make_extractor, options)
    started = time.monotonic()
    while not stop.is_set():
        if not directory.is_dir():
            raise InputError(f"the watched folder is gone: {directory}")
        files, waiting = watcher.ready()
        if files:
            present = [f for f in files if os.path.exists(f[0])]
            if not present:
                continue
            try:
                result = watcher.load(present, progress)
            except InputError:
                continue  # a file went between the look and the load: look again
            if on_load is not None:
                on_load(result, [f[0] for f in present])
            continue  # more may be ready already
        if options.once and (
            not waiting or time.monotonic() - started > max(ONCE_MAX_WAIT, 10 * options.settle)
        ):
            break
        if on_idle is not None:
            on_idle(watcher.totals)
        stop.wait(options.interval if not waiting else min(options.interval, options.settle))
    watcher.totals.still_changing = sorted(watcher.settling) if options.once else []
    return watcher.totals
