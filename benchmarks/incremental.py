"""The living database at scale: small loads, curation, deletes and reports on a big database.

    python -m benchmarks.load --docs 1000000 --skip-limit   # first: the big database
    python -m benchmarks.incremental --docs 1000000          # then: this

On the database `benchmarks.load` left (dbapp_bench, in benchmarks/out/pgdata or DATABASE_URL's
server), in this order: `dbapp db upgrade` (converts an older schema), incremental loads of
200, 2,000 and 20,000 new articles (a different seed: articles the database does not hold),
each timed from process start to exit and followed by a look at `report overview`; `entities
merge` of an entity with about 10,000 mentions; `entities alias remove`; a 1,000-article load
undone with `loads undo`; every report (median of 3); and `report check` once at the end.
Results go to benchmarks/out/incremental-<docs>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from benchmarks import corpus as corpus_mod
from benchmarks.load import OUT, dbapp, env, libpq, print_reports, server, time_reports

NEW_SEED = 1001


def run(url: str, *args: str) -> tuple[float, str]:
    """Run a dbapp command end to end; its wall time and stdout."""
    started = time.perf_counter()
    proc = subprocess.run(dbapp(url, *args), capture_output=True, text=True, env=env(url))
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 5):
        raise SystemExit(f"dbapp {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return elapsed, proc.stdout


def new_articles(count: int, seed: int) -> Path:
    folder = OUT / f"new-{count}-{seed}"
    if not (folder / ".complete").exists():
        corpus_mod.write(folder, count, "jsonl", seed)
        (folder / ".complete").touch()
    return folder


def scalar(url: str, sql: str) -> Any:
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="size of the database")
    parser.add_argument("--sizes", default="200,2000,20000", help="incremental load sizes")
    parser.add_argument("--no-check", action="store_true", help="skip the final report check")
    args = parser.parse_args()
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "docs": args.docs}
    with server() as admin:
        url = make_url(admin).set(database="dbapp_bench").render_as_string(hide_password=False)
        seconds, _ = run(url, "db", "upgrade")
        results["upgrade_seconds"] = seconds
        print(f"db upgrade: {seconds:.1f} s", flush=True)
        results["loads"] = []
        for i, size in enumerate(int(s) for s in args.sizes.split(",")):
            folder = new_articles(size, NEW_SEED + i)
            before = scalar(url, "SELECT documents FROM report_overview")
            seconds, _ = run(url, "load", str(folder), "--no-progress")
            after = scalar(url, "SELECT documents FROM report_overview")
            inserted = scalar(
                url, "SELECT documents_inserted FROM loads ORDER BY load_id DESC LIMIT 1"
            )
            entry = {"articles": size, "seconds": seconds, "inserted": inserted,
                     "overview_documents_grew_by": after - before}  # fmt: skip
            results["loads"].append(entry)
            print(f"load of {size:,} new articles: {seconds:.2f} s end to end "
                  f"(inserted {inserted:,}; report_overview grew by {after - before:,})",
                  flush=True)  # fmt: skip

        # Curation: an entity with about 10,000 mentions merged into another.
        row = None
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute(
                "SELECT s.entity_id, s.mentions, e.kind FROM summary_entities s "
                "JOIN entities e USING (entity_id) ORDER BY abs(s.mentions - 10000) LIMIT 1"
            ).fetchone()
            assert row is not None
            target = conn.execute(
                "SELECT entity_id FROM entities WHERE kind = %s AND entity_id <> %s "
                "ORDER BY entity_id LIMIT 1",
                (row[2], row[0]),
            ).fetchone()
            assert target is not None
        seconds, _ = run(url, "entities", "merge", f"#{row[0]}", f"#{target[0]}")
        results["merge"] = {"mentions": row[1], "seconds": seconds}
        print(f"entities merge of {row[1]:,} mentions: {seconds:.2f} s", flush=True)

        with psycopg.connect(libpq(url)) as conn:
            alias = conn.execute(
                "SELECT a.alias, count(*) FROM entity_aliases a "
                "JOIN mentions m ON m.entity_id = a.entity_id AND m.surface = a.alias "
                "WHERE a.entity_id = (SELECT entity_id FROM summary_entities "
                "ORDER BY abs(mentions - 5000) LIMIT 1) GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            ).fetchone()
            assert alias is not None
        seconds, out = run(url, "entities", "alias", "remove", alias[0])
        results["alias_remove"] = {"alias": alias[0], "mentions": alias[1], "seconds": seconds}
        print(f"alias remove {alias[0]!r} ({alias[1]:,} mentions): {seconds:.2f} s", flush=True)

        folder = new_articles(1000, NEW_SEED + 100)
        run(url, "load", str(folder), "--no-progress")
        load_id = scalar(url, "SELECT max(load_id) FROM loads")
        seconds, out = run(url, "loads", "undo", str(load_id), "--yes")
        results["undo"] = {"load_id": load_id, "seconds": seconds, "output": out.strip()}
        print(f"loads undo of a 1,000-article load: {seconds:.2f} s ({out.strip()})", flush=True)

        results["reports"] = time_reports(url)
        print_reports(results["reports"])
        if not args.no_check:
            started = time.perf_counter()
            proc = subprocess.run(
                dbapp(url, "report", "check"), capture_output=True, text=True, env=env(url)
            )
            results["check"] = {
                "seconds": time.perf_counter() - started,
                "exit": proc.returncode,
                "output": proc.stdout,
            }
            print(proc.stdout, proc.stderr, file=sys.stderr)
            print(f"report check: {results['check']['seconds']:.1f} s, exit {proc.returncode}")
    OUT.mkdir(exist_ok=True)
    (OUT / f"incremental-{args.docs}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
