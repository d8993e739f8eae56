"""The living database: report figures exact after every kind of change, deletes, and the
watched folder. Counts are worked out by hand from tests.test_reports.CORPUS:

    a1 Alpha 2024-01-05: Armenia x2, Azerbaijan, Brussels
    a2 Alpha 2024-01-20: Azerbaijan, UN, Baku
    b1 Beta  2024-02-10: UN, Armenia, Karabakh
    b2 Beta  2024-02-11: (none)
    b3 Beta  undated   : Armenia
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from dbapp import summaries
from dbapp.extract import extractor_for
from dbapp.watch import WatchOptions, watch
from tests.conftest import assert_summaries_exact
from tests.synthetic import write_corpus
from tests.test_load import dbapp, rows, scalar
from tests.test_reliability import dbapp_process, spawn, wait_for_progress
from tests.test_reports import corpus, report_json  # noqa: F401 - the fixture


def top(url: str) -> dict[str, tuple[int, int]]:
    """entity -> (mentions, documents), all-time."""
    return {
        r["entity"]: (r["mentions"], r["documents"])
        for r in report_json(url, "top-entities", "--limit", "50")
    }


def doc_id(engine: Engine, external: str) -> int:
    found = scalar(engine, "SELECT document_id FROM documents WHERE external_id = :e", e=external)
    assert isinstance(found, int)
    return found


def test_every_kind_of_change_keeps_the_reports_exact(corpus: str, engine: Engine) -> None:  # noqa: F811
    assert_summaries_exact(engine)
    assert top(corpus)["Azerbaijan"] == (2, 2)

    # A merge re-points Baku's mention in a2, which already mentions Azerbaijan: 3 mentions,
    # still 2 articles (a distinct count, not a sum).
    assert dbapp(corpus, "entities", "merge", "Baku", "Azerbaijan").exit_code == 0
    assert top(corpus)["Azerbaijan"] == (3, 2)
    assert "Baku" not in top(corpus)
    assert_summaries_exact(engine)

    assert dbapp(corpus, "entities", "alias", "remove", "Brussels").exit_code == 0
    assert "Brussels" not in top(corpus)
    assert_summaries_exact(engine)

    # Ignoring "UN" removes its mentions in a2 and b1.
    assert dbapp(corpus, "entities", "ignore", "UN").exit_code == 0
    assert "United Nations" not in top(corpus)
    pairs = report_json(corpus, "co-mentions", "--limit", "50")
    assert all("United Nations" not in (p["entity_a"], p["entity_b"]) for p in pairs)
    assert_summaries_exact(engine)

    # Deleting a1: Armenia keeps b1 and b3.
    a1 = str(doc_id(engine, "a1"))
    assert dbapp(corpus, "documents", "delete", "--id", a1, "--yes").exit_code == 0
    assert top(corpus)["Armenia"] == (2, 2)
    [overview] = report_json(corpus, "overview")
    assert (overview["documents"], overview["mentions"]) == (4, 5)  # a2: 2, b1: 2, b3: 1
    assert_summaries_exact(engine)

    # Plain SQL is counted too: b3 gets a date, b1 is deleted (its mentions by cascade).
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE documents SET published_on = '2024-03-01' WHERE external_id = 'b3'")
        )
        conn.execute(text("DELETE FROM documents WHERE external_id = 'b1'"))
    timeline = report_json(corpus, "timeline", "--entity", "Armenia", "--period", "day")
    # (the timeline also lists the days with articles but no mention, as zeros)
    assert [(r["period"], r["mentions"]) for r in timeline if r["mentions"]] == [("2024-03-01", 1)]
    assert top(corpus)["Armenia"] == (1, 1)
    assert_summaries_exact(engine)

    # Re-extraction adds and removes mentions in stored documents.
    assert dbapp(corpus, "extract").exit_code == 0
    assert_summaries_exact(engine)


def test_check_finds_drift_and_repair_rewrites(corpus: str, engine: Engine) -> None:  # noqa: F811
    with engine.begin() as conn:
        conn.execute(text("UPDATE summary_entity_pairs SET documents = documents + 5"))
        conn.execute(
            text(
                "DELETE FROM summary_entity_days WHERE entity_id = "
                "(SELECT entity_id FROM entities WHERE canonical_name = 'Karabakh')"
            )
        )
    found = dbapp(corpus, "report", "check")
    assert found.exit_code == 1
    assert "summary_entity_pairs" in found.stdout and "summary_entity_days" in found.stdout
    karabakh = scalar(engine, "SELECT entity_id FROM entities WHERE canonical_name = 'Karabakh'")
    assert f"entity_id={karabakh}" in found.stdout  # the differing key is named
    assert "disagree" in found.stderr
    repaired = dbapp(corpus, "report", "check", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert_summaries_exact(engine)
    assert top(corpus)["Karabakh"] == (1, 1)


def test_deletes_by_criteria_are_recorded_and_reloadable(
    corpus: str,  # noqa: F811
    engine: Engine,
    tmp_path: Path,
) -> None:
    nothing = dbapp(corpus, "documents", "delete", "--yes")
    assert nothing.exit_code == 2 and "--load, --source, --before or --id" in nothing.stderr
    dry = dbapp(corpus, "documents", "delete", "--source", "beta", "--dry-run")
    assert dry.exit_code == 0 and "would delete 3 documents and 4 mentions" in dry.stdout
    unconfirmed = dbapp(corpus, "documents", "delete", "--source", "Beta")
    assert unconfirmed.exit_code == 2 and "add --yes" in unconfirmed.stderr
    assert scalar(engine, "SELECT count(*) FROM documents") == 5  # nothing went

    # Before February: a1 and a2 (the undated b3 stays). Mentions: 4 + 3.
    gone = dbapp(corpus, "documents", "delete", "--before", "2024-02-01", "--yes")
    assert gone.exit_code == 0, gone.output
    assert "deleted 2 documents and 7 mentions" in gone.stdout
    assert sorted(r[0] for r in rows(engine, "SELECT external_id FROM documents")) == [
        "b1",
        "b2",
        "b3",
    ]
    [ledger] = rows(
        engine,
        "SELECT status, criteria, documents_deleted, mentions_deleted, db_user IS NOT NULL, "
        "os_user IS NOT NULL FROM deletions",
    )
    assert ledger == ("completed", {"before": "2024-02-01"}, 2, 7, True, True)
    assert "before 2024-02-01" in dbapp(corpus, "documents", "deletions").stdout
    assert_summaries_exact(engine)

    # Deleted documents load again; the others are duplicates.
    source = tmp_path / "corpus.jsonl"
    again = dbapp(corpus, "load", str(source))
    assert again.exit_code == 0, again.output
    reload_id = scalar(engine, "SELECT max(load_id) FROM loads")
    assert rows(
        engine,
        "SELECT documents_inserted, documents_duplicate FROM loads WHERE load_id = :i",
        i=reload_id,
    ) == [(2, 3)]
    assert top(corpus)["Armenia"] == (4, 3)
    assert_summaries_exact(engine)

    # Undo that load: exactly the two documents it inserted go.
    undone = dbapp(corpus, "loads", "undo", str(reload_id), "--yes")
    assert undone.exit_code == 0 and "deleted 2 documents" in undone.stdout
    assert scalar(engine, "SELECT count(*) FROM documents") == 3
    assert scalar(engine, "SELECT load_id FROM deletions ORDER BY deletion_id DESC LIMIT 1") == (
        reload_id
    )
    assert dbapp(corpus, "loads", "undo", "999", "--yes").exit_code == 2
    assert_summaries_exact(engine)


def test_concurrent_loads_deletes_and_curation_never_deadlock(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    files = list(map(str, write_corpus(tmp_path, documents=2400, files=3, seed=11)))
    assert dbapp(fresh_db, "load", files[0]).exit_code == 0
    loaders = [
        spawn(
            dbapp_process(
                fresh_db, "load", *group, "--no-progress", "--batch-size", "50", "--no-bulk"
            )
        )  # fmt: skip
        for group in ([files[1], files[2]], [files[2], files[1]])
    ]
    assert wait_for_progress(engine, loaders[0])
    # Meanwhile: deletes of the same sources and days the loaders write, and a merge.
    others = [
        subprocess.run(
            dbapp_process(fresh_db, "documents", "delete", "--source", source, "--yes"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        for source in ("Alpha Wire", "Beta News")
    ]
    merge = subprocess.run(
        dbapp_process(fresh_db, "entities", "merge", "Yerevan", "Armenia"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    for proc in loaders:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr  # no deadlock, no failure
    for done in [*others, merge]:
        assert done.returncode == 0, done.stderr
    assert_summaries_exact(engine)
    with engine.connect() as conn:
        assert summaries.stale_reason(conn) is None


# -- the watched folder ------------------------------------------------------------------------


def _lines(n: int, start: int = 0) -> str:
    return "".join(
        json.dumps({"id": f"w{i}", "source": "Wire", "date": "2024-05-01",
                    "text": f"Report {i} from Baku on Azerbaijan and Armenia."}) + "\n"
        for i in range(start, start + n)
    )  # fmt: skip


def test_watch_loads_files_as_they_arrive(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "early.jsonl").write_text(_lines(5))
    stop = threading.Event()
    options = WatchOptions(interval=0.05, settle=0.6)
    done: dict[str, object] = {}

    def run() -> None:
        done["totals"] = watch(
            engine,
            folder,
            lambda: extractor_for(engine, "gazetteer"),
            options,
            stop=stop,
        )

    watcher = threading.Thread(target=run)
    watcher.start()
    try:
        # Written under a temporary name, then renamed into place.
        part = folder / ".renamed.jsonl.part"
        part.write_text(_lines(7, 100))
        part.rename(folder / "renamed.jsonl")
        # Written slowly: never loaded half-written.
        with (folder / "slow.jsonl").open("w") as f:
            for i in range(10):
                f.write(_lines(1, 200 + i))
                f.flush()
                time.sleep(0.15)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if scalar(engine, "SELECT count(*) FROM documents") == 22:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert not watcher.is_alive()
    assert scalar(engine, "SELECT count(*) FROM documents") == 22  # 5 + 7 + 10
    # Each file was loaded once, whole: one watched_files row each, and the slow file's load
    # read all 10 of its lines.
    loaded = dict(rows(engine, "SELECT path, size FROM watched_files"))
    assert sorted(Path(p).name for p in loaded) == ["early.jsonl", "renamed.jsonl", "slow.jsonl"]
    slow_loads = rows(
        engine,
        "SELECT documents_seen FROM loads WHERE arguments->>'paths' LIKE '%slow.jsonl%'",
    )
    assert slow_loads == [(10,)]
    assert scalar(engine, "SELECT count(*) FROM loads WHERE status <> 'completed'") == 0
    totals = done["totals"]
    assert getattr(totals, "documents") == 22  # noqa: B009
    assert [r["entity"] for r in report_json(fresh_db, "top-entities", "--limit", "3")][0] in (
        "Armenia",
        "Azerbaijan",
        "Baku",
    )
    assert_summaries_exact(engine)


def test_watch_restart_skips_what_it_loaded(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    path = folder / "feed.jsonl"
    path.write_text(_lines(4))
    old = time.time() - 60
    os.utime(path, (old, old))  # untouched for a minute: complete at the first look
    first = dbapp(fresh_db, "watch", str(folder), "--once", "--settle", "0.2")
    assert first.exit_code == 0, first.output
    assert scalar(engine, "SELECT count(*) FROM loads") == 1
    # A restart reads nothing again: no new load at all.
    second = dbapp(fresh_db, "watch", str(folder), "--once", "--settle", "0.2")
    assert second.exit_code == 0 and "0 files" in second.stderr
    assert scalar(engine, "SELECT count(*) FROM loads") == 1
    # A file that changed is loaded again: the new line inserted, the old ones duplicates.
    with path.open("a") as f:
        f.write(_lines(1, 4))
    os.utime(path, (old + 1, old + 1))
    third = dbapp(fresh_db, "watch", str(folder), "--once", "--settle", "0.2")
    assert third.exit_code == 0, third.output
    assert rows(
        engine,
        "SELECT documents_inserted, documents_duplicate FROM loads ORDER BY load_id DESC LIMIT 1",
    ) == [(1, 4)]
    assert_summaries_exact(engine)


def test_watch_stops_cleanly_on_sigterm(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    proc = subprocess.Popen(
        dbapp_process(fresh_db, "watch", str(folder), "--interval", "0.1", "--settle", "0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (folder / "one.jsonl").write_text(_lines(3))
        deadline = time.monotonic() + 60
        while scalar(engine, "SELECT count(*) FROM watched_files") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped (SIGTERM)" in stderr and "Traceback" not in stderr
    assert "3 inserted" in stdout  # the log line of its one load
    assert scalar(engine, "SELECT count(*) FROM loads WHERE status = 'running'") == 0
    assert scalar(engine, "SELECT count(*) FROM documents") == 3


@pytest.mark.parametrize("value", ["nan", "-1"])
def test_watch_refuses_bad_options(fresh_db: str, tmp_path: Path, value: str) -> None:
    result = dbapp(fresh_db, "watch", str(tmp_path), "--interval", value)
    assert result.exit_code == 2
    missing = dbapp(fresh_db, "watch", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "not a directory" in missing.stderr


def test_a_killed_deletion_shows_as_interrupted(corpus: str, engine: Engine) -> None:  # noqa: F811
    # A deletion whose process died (its liveness lock is free) while the ledger said running.
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO deletions (criteria, status, lock_key) VALUES ('{}', 'running', 42)")
        )
    listed = dbapp(corpus, "documents", "deletions")
    assert listed.exit_code == 0 and "interrupted" in listed.stdout
    assert rows(
        engine, "SELECT status, error LIKE '%run the same delete again%' FROM deletions"
    ) == [("interrupted", True)]


def test_watch_once_says_when_input_was_rejected(fresh_db: str, tmp_path: Path) -> None:
    (tmp_path / "good.jsonl").write_text(_lines(2))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    for path in tmp_path.iterdir():
        os.utime(path, (time.time() - 60, time.time() - 60))
    result = dbapp(fresh_db, "watch", str(tmp_path), "--once")
    assert result.exit_code == 5 and "1 records rejected" in result.stderr
    bogus = dbapp(fresh_db, "watch", str(tmp_path), "--extractor", "bogus")
    assert bogus.exit_code == 2 and "unknown extractor" in bogus.stderr


def test_a_reader_that_stops_reading_is_not_an_error(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    files = write_corpus(tmp_path, documents=1500, files=1, seed=5)
    assert dbapp(fresh_db, "load", *map(str, files)).exit_code == 0
    # `| head -1` of far more than a pipe holds: dbapp stops quietly, as `cat` would.
    shell = (
        f"{sys.executable} -m dbapp --database-url '{fresh_db}' "
        "search officials --limit 100000 --format csv | head -1"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith("document_id,"), done.stderr
    assert "error" not in done.stderr and done.returncode == 0, done.stderr


def test_repair_waits_for_a_bulk_load(corpus: str, engine: Engine) -> None:  # noqa: F811
    # A bulk load holds its lock for its life; a repair now would be overtaken by its batches.
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(25698, 0)"))
        refused = dbapp(corpus, "report", "check", "--repair")
        holder.execute(text("SELECT pg_advisory_unlock(25698, 0)"))
        holder.commit()
    assert refused.exit_code == 6 and "bulk load is running" in refused.stderr


def test_plain_sql_moves_truncates_and_concurrent_writers_stay_exact(
    corpus: str,  # noqa: F811
    engine: Engine,
) -> None:
    # A document moved to a later day of the same source moves the entity's last seen.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE documents SET published_on = '2030-01-01' WHERE external_id = 'b1'")
        )
    assert report_json(corpus, "top-entities", "--limit", "50")[0]["last_seen"] == "2030-01-01"
    assert_summaries_exact(engine)

    # Two open transactions add a mention of the same (document, entity): counted once.
    a2 = doc_id(engine, "a2")
    karabakh = scalar(engine, "SELECT entity_id FROM entities WHERE canonical_name = 'Karabakh'")
    insert = text(
        'INSERT INTO mentions (document_id, entity_id, start, "end", surface, extractor, '
        "extractor_version) VALUES (:d, :e, :s, :s + 1, 'A', 'test', '1')"
    )
    first = engine.connect()
    first.execute(insert, {"d": a2, "e": karabakh, "s": 0})
    second_done = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(insert, {"d": a2, "e": karabakh, "s": 2})
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert not second_done.is_set()  # it waits for the first, on the document
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert second_done.is_set()
    assert top(corpus)["Karabakh"] == (3, 2)  # b1 once, a2 twice: two articles
    assert_summaries_exact(engine)

    with engine.begin() as conn:
        conn.execute(text("TRUNCATE mentions"))
    assert top(corpus) == {}
    assert_summaries_exact(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE documents CASCADE"))
    assert report_json(corpus, "overview")[0]["documents"] == 0
    assert_summaries_exact(engine)


def test_watch_survives_odd_names_and_partial_deletes_stay_deleted(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/caf\xff-feed.jsonl"
    with open(odd, "w") as f:
        f.write(_lines(2))
        f.write(json.dumps({"id": "other", "source": "Other", "date": "2024-05-01",
                            "text": "Armenia."}) + "\n")  # fmt: skip
    old = time.time() - 60
    os.utime(odd, (old, old))
    first = dbapp(fresh_db, "watch", str(folder), "--once")
    assert first.exit_code == 0, first.output
    assert scalar(engine, "SELECT count(*) FROM watched_files") == 1
    load_id = scalar(engine, "SELECT max(load_id) FROM loads")
    # A takedown inside a watched load stays deleted...
    taken = dbapp(fresh_db, "documents", "delete", "--load", str(load_id), "--source", "Other",
                  "--yes")  # fmt: skip
    assert taken.exit_code == 0, taken.output
    assert dbapp(fresh_db, "watch", str(folder), "--once").exit_code == 0
    assert scalar(engine, "SELECT count(*) FROM documents") == 2
    # ...while undoing the whole load makes the folder load it again.
    assert dbapp(fresh_db, "loads", "undo", str(load_id), "--yes").exit_code == 0
    assert dbapp(fresh_db, "watch", str(folder), "--once").exit_code == 0
    assert scalar(engine, "SELECT count(*) FROM documents") == 3
    assert_summaries_exact(engine)
