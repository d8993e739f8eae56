"""Load benchmark: dbapp end to end against what PostgreSQL itself can ingest, in one run.

    python -m benchmarks.load --docs 100000            # corpus, limits, dbapp load
    python -m benchmarks.load --docs 1000000 --reports # plus report and search latencies
    python -m benchmarks.load --docs 100000 --sqlite   # plus sqlite-utils for comparison

Uses DATABASE_URL's server, or an embedded one in benchmarks/out/pgdata. Writes results to
benchmarks/out/results-<docs>.json. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy.engine import make_url

from benchmarks import corpus as corpus_mod
from dbapp.config import normalise_url
from dbapp.embedded import EmbeddedServer

OUT = Path(__file__).resolve().parent / "out"


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def server() -> Iterator[str]:
    """Maintenance URL of the benchmark server."""
    if os.environ.get("DATABASE_URL"):
        yield normalise_url(os.environ["DATABASE_URL"])
        return
    embedded = EmbeddedServer(OUT / "pgdata")
    embedded.acquire()
    try:
        yield embedded.url("postgres")
    finally:
        embedded.release()


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def corpus_files(docs: int, seed: int) -> list[Path]:
    folder = OUT / f"corpus-{docs}-{seed}"
    done = folder / ".complete"
    if not done.exists():
        print(f"generating {docs:,} articles in {folder} ...", flush=True)
        corpus_mod.write(folder, docs, "jsonl", seed)
        done.touch()
    return sorted(folder.glob("*.jsonl"))


def bodies(files: list[Path]) -> Iterator[str]:
    for path in files:
        with path.open(encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]


LIMIT_TABLES = {
    "raw COPY": "CREATE UNLOGGED TABLE IF NOT EXISTS x (body text)",
    "COPY + tsvector + GIN": (
        "CREATE TABLE x (body text, search_vector tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english'::regconfig, body)) STORED); "
        "CREATE INDEX ON x USING gin (search_vector)"
    ),
    "COPY + tsvector, GIN after": (
        "CREATE TABLE x (body text, search_vector tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english'::regconfig, body)) STORED)"
    ),
}


def measure_limit(url: str, files: list[Path], kind: str) -> float:
    """Seconds to COPY every body into a table of the given kind (and index it)."""
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("DROP TABLE IF EXISTS x")
        for statement in LIMIT_TABLES[kind].split(";"):
            conn.execute(statement)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY x (body) FROM STDIN") as copy:
            for body in bodies(files):
                copy.write_row((body,))
        if kind.endswith("GIN after"):
            conn.execute("CREATE INDEX ON x USING gin (search_vector)")
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE x")
        conn.commit()
    return elapsed


class PeakRSS(threading.Thread):
    """Samples the resident memory of a process and its children."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.peak_main = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                main = self.proc.memory_info().rss
                kids = sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                break
            self.peak_main = max(self.peak_main, main)
            self.peak = max(self.peak, main + kids)
            time.sleep(0.1)


def dbapp(url: str, *args: str) -> list[str]:
    """The command line; the URL (with its password) goes in the environment: see env()."""
    return [sys.executable, "-m", "dbapp", *args]


def env(url: str) -> dict[str, str]:
    """The environment for dbapp(url, ...): DATABASE_URL, never the command line (ps)."""
    return {k: v for k, v in os.environ.items() if k != "DBAPP_PGDATA"} | {"DATABASE_URL": url}


def run_dbapp_load(url: str, files: list[Path], workers: int, batch: int) -> dict[str, Any]:
    subprocess.run(dbapp(url, "db", "upgrade"), check=True, capture_output=True, env=env(url))
    subprocess.run(dbapp(url, "entities", "seed"), check=True, capture_output=True, env=env(url))
    cmd = dbapp(url, "load", *map(str, files), "--no-progress", "--workers", str(workers),
                "--batch-size", str(batch))  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(url)
    )
    sampler = PeakRSS(proc.pid)
    sampler.start()
    _, stderr = proc.communicate()
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    if proc.returncode not in (0, 5):
        raise SystemExit(f"dbapp load failed ({proc.returncode}): {stderr}")
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT documents_inserted, mentions_inserted, documents_rejected, "
            "extract(epoch FROM finished_at - started_at), documents_seen "
            "FROM loads ORDER BY load_id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return {
        "records_read": row[4],
        "seconds": elapsed,
        "seconds_in_ledger": float(row[3]),
        "documents": row[0],
        "mentions": row[1],
        "rejected": row[2],
        "peak_rss_mb": sampler.peak / 1e6,
        "peak_rss_main_mb": sampler.peak_main / 1e6,
    }


REPORT_CASES: list[tuple[str, dict[str, Any]]] = [
    ("overview", {}),
    ("top-entities", {}),
    ("top-entities", {"since": "2020-01-01", "until": "2020-12-31", "source": "Trend"}),
    ("timeline", {"entity": "Azerbaijan", "period": "month"}),
    ("timeline", {"period": "week"}),
    ("co-mentions", {}),
    ("co-mentions", {"entity": "Karabakh"}),
    ("co-mentions", {"entity": "Karabakh", "since": "2023-01-01"}),
    ("co-mentions", {"since": "2024-12-01"}),
    ("source-coverage", {"period": "month"}),
    ("source-coverage", {"period": "week", "since": "2024-01-01"}),
    ("source-entities", {}),
    ("kwic", {"entity": "Karabakh", "limit": 50}),
    # --query: at 1M articles "Karabakh" matches ~25,000, "crude OR gasoline" ~91,000 and the
    # phrase "oil prices" ~53,000 (of 182,000 with both words).
    *[
        (name, {"query": q, **extra})
        for q in ("Karabakh", "crude OR gasoline", '"oil prices"')
        for name, extra in (
            ("overview", {}),
            ("timeline", {"period": "month"}),
            ("top-entities", {}),
            ("source-coverage", {"period": "month"}),
            ("source-entities", {}),
            ("co-mentions", {}),
            ("co-mentions", {"entity": "Azerbaijan"}),
            ("kwic", {"entity": "Azerbaijan", "limit": 50}),
            ("top-entities", {"rollup": "country"}),
        )
    ],
    # A word in 30% of the articles with a common entity's company.
    ("co-mentions", {"query": "oil", "entity": "Baku"}),
    ("top-entities", {"rollup": "country"}),
    ("timeline", {"rollup": "country", "entity": "Baku", "period": "month"}),
]
# top-words on its default 1,000-article sample: a rare word, common ones, a near-universal
# one ("said"), a phrase, and with bigrams.
TOP_WORDS: list[tuple[str, dict[str, Any]]] = [
    ("Karabakh", {}),
    ("oil", {}),
    ("Azerbaijan", {}),
    ("said", {}),
    ('"oil prices"', {}),
    ("crude OR gasoline", {}),
    ("oil", {"bigrams": True}),
]
SEARCHES = ["Azerbaijan", '"oil prices"', "Karabakh ceasefire -Armenia", "crude OR gasoline"]
# Every search form: each sort, and each filter, on a common word and a common phrase.
SEARCH_FORMS: list[tuple[str, dict[str, Any]]] = [
    *[(q, {"sort": sort}) for q in SEARCHES for sort in ("rank", "newest", "oldest")],
    *[
        (q, extra)
        for q in ("Azerbaijan", '"oil prices"')
        for extra in (
            {"source": "Trend"},
            {"entity": "Baku"},
            {"entity": "OPEC"},
            {"since": "2020-01-01", "until": "2020-12-31"},
            {"facets": True},
        )
    ],
]


SIZES = """
SELECT pg_database_size(current_database()),
       sum(pg_table_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')),
       sum(pg_relation_size(c.oid)) FILTER (WHERE c.relkind = 'i')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
"""


def database_sizes(url: str) -> dict[str, float]:
    """Database, table (with TOAST) and index sizes in MB."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(SIZES).fetchone()
        per_table = conn.execute(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8"
        ).fetchall()
    assert row is not None
    return {
        "database_mb": row[0] / 1e6,
        "tables_mb": float(row[1]) / 1e6,
        "indexes_mb": float(row[2]) / 1e6,
        "largest": {name: {"table_mb": t / 1e6, "indexes_mb": i / 1e6} for name, t, i in per_table},
    }


def time_reports(url: str, repeat: int = 3) -> list[dict[str, Any]]:
    import datetime as dt

    from sqlalchemy import create_engine

    from dbapp.report import ReportParams, run_report
    from dbapp.search import search_documents, search_facets

    engine = create_engine(url)
    results = []
    with engine.connect() as conn:
        for name, options in REPORT_CASES:
            opts = {k: dt.date.fromisoformat(v) if k in ("since", "until") else v
                    for k, v in options.items()}  # fmt: skip
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = run_report(conn, name, ReportParams(**opts)).rows
                times.append(time.perf_counter() - started)
                conn.rollback()  # SET LOCAL work_mem ends with the report's transaction
            label = name + "".join(f" --{k} {v}" for k, v in options.items())
            results.append({"what": label, "seconds": statistics.median(times), "rows": len(rows)})
        from dbapp.topwords import top_words

        for query, options in TOP_WORDS:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = top_words(conn, query, **options).rows
                times.append(time.perf_counter() - started)
                conn.rollback()
            label = f"top-words --query {query}" + "".join(f" --{k}" for k in options)
            results.append({"what": label, "seconds": statistics.median(times), "rows": len(rows)})
        for query, options in SEARCH_FORMS:
            opts = {k: dt.date.fromisoformat(v) if k in ("since", "until") else v
                    for k, v in options.items() if k != "facets"}  # fmt: skip
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                if options.get("facets"):
                    rows = search_facets(conn, query, **opts)["sources"].rows
                else:
                    rows = search_documents(conn, query, limit=10, **opts).rows
                times.append(time.perf_counter() - started)
                conn.rollback()
            label = f"search {query}" + "".join(f" --{k} {v}" for k, v in options.items())
            results.append({"what": label, "seconds": statistics.median(times), "rows": len(rows)})
    engine.dispose()
    return results


def print_reports(reports: list[dict[str, Any]]) -> None:
    for r in reports:
        print(f"  {r['seconds'] * 1000:9.1f} ms  {r['what']}  ({r.get('rows', '-')} rows)")


def run_sqlite(files: list[Path]) -> dict[str, Any]:
    """sqlite-utils insert + enable-fts on the same corpus, in its own virtualenv."""
    venv = OUT / "sqlite-venv"
    exe = venv / "bin" / "sqlite-utils"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "sqlite-utils"], check=True)
    db = OUT / "sqlite-bench.db"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    for path in files:
        subprocess.run([str(exe), "insert", str(db), "documents", str(path), "--nl",
                        "--pk", "id"], check=True)  # fmt: skip
    inserted = time.perf_counter() - started
    subprocess.run([str(exe), "enable-fts", str(db), "documents", "title", "text", "--fts5"],
                   check=True)  # fmt: skip
    total = time.perf_counter() - started
    return {"insert_seconds": inserted, "seconds": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="dbapp load --workers (0: auto)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--reports", action="store_true", help="time reports and search too")
    parser.add_argument("--sqlite", action="store_true", help="compare with sqlite-utils")
    parser.add_argument("--skip-limit", action="store_true")
    parser.add_argument(
        "--reports-only", action="store_true", help="time reports on the last loaded database"
    )
    args = parser.parse_args()

    files = corpus_files(args.docs, args.seed)
    size = sum(p.stat().st_size for p in files)
    mb = size / 1e6
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "docs": args.docs,
        "corpus_mb": mb,
    }
    with server() as admin:
        with psycopg.connect(libpq(admin)) as conn:
            results["postgres"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        if args.reports_only:
            url = make_url(admin).set(database="dbapp_bench").render_as_string(hide_password=False)
            results["reports"] = time_reports(url)
            print_reports(results["reports"])
            (OUT / f"reports-{args.docs}.json").write_text(json.dumps(results, indent=1))
            return
        if not args.skip_limit:
            limit_db = fresh_database(admin, "dbapp_bench_limit")
            results["limits"] = {}
            for kind in LIMIT_TABLES:
                seconds = measure_limit(limit_db, files, kind)
                results["limits"][kind] = seconds
                print(f"{kind:28} {seconds:8.1f} s  {mb / seconds:7.2f} MB/s  "
                      f"{args.docs / seconds:9,.0f} docs/s", flush=True)  # fmt: skip
        url = fresh_database(admin, "dbapp_bench")
        load = run_dbapp_load(url, files, args.workers, args.batch_size)
        results["dbapp"] = load
        s = load["seconds"]
        print(f"{'dbapp load (end to end)':28} {s:8.1f} s  {mb / s:7.2f} MB/s  "
              f"{load['documents'] / s:9,.0f} docs/s  {load['mentions'] / s:9,.0f} mentions/s  "
              f"peak RSS {load['peak_rss_mb']:.0f} MB "
              f"(main {load['peak_rss_main_mb']:.0f})")  # fmt: skip
        if "limits" in results:
            best_gin = min(results["limits"]["COPY + tsvector + GIN"],
                           results["limits"]["COPY + tsvector, GIN after"])  # fmt: skip
            results["ratio_vs_copy_gin"] = best_gin / s
            results["ratio_vs_raw_copy"] = results["limits"]["raw COPY"] / s
            print(
                f"dbapp / (COPY + GIN) = {results['ratio_vs_copy_gin']:.2f}   "
                f"dbapp / raw COPY = {results['ratio_vs_raw_copy']:.2f}"
            )
        results["sizes"] = database_sizes(url)
        print(f"database {results['sizes']['database_mb']:,.0f} MB: tables "
              f"{results['sizes']['tables_mb']:,.0f} MB, indexes "
              f"{results['sizes']['indexes_mb']:,.0f} MB")  # fmt: skip
        if args.reports:
            results["reports"] = time_reports(url)
            print_reports(results["reports"])
    if args.sqlite:
        results["sqlite_utils"] = run_sqlite(files)
        sq = results["sqlite_utils"]["seconds"]
        print(
            f"{'sqlite-utils insert + fts':28} {sq:8.1f} s  {mb / sq:7.2f} MB/s  "
            f"{args.docs / sq:9,.0f} docs/s   dbapp is {sq / s:.2f}x its speed"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / f"results-{args.docs}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
