"""Read replicas at scale: lag under a bulk load, and making a replica of a big database.

    python -m benchmarks.replica --docs 1000000

With its own embedded primary in benchmarks/out/replica-primary (made afresh):
1. migrate, seed the catalogue, keep the primary running, make replica A and start it;
2. bulk-load the benchmark corpus (the same files as `benchmarks.load --docs N`) into the
   primary while `dbapp db replica status` is sampled every second: the lag in bytes and
   seconds over the whole load;
3. wait for A to catch up and compare document and mention counts;
4. time `dbapp db replica create` of replica B from the loaded primary (the issue's target:
   under 60 s at 1M articles), start B and time a report on it.
Results go to benchmarks/out/replica-<docs>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.load import OUT, corpus_files
from dbapp.embedded import EmbeddedServer
from dbapp.replica import replica_status

PRIMARY = OUT / "replica-primary"
REPLICA_A = OUT / "replica-a"
REPLICA_B = OUT / "replica-b"


def dbapp(pgdata: Path | None, *args: str) -> list[str]:
    head = [sys.executable, "-m", "dbapp"]
    return head + (["--pgdata", str(pgdata)] if pgdata else []) + list(args)


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBAPP_PGDATA")}
    return e | {"DBAPP_PGDATA": str(PRIMARY)}


def run(*cmd: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env())
    if proc.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {proc.stderr}")
    return time.perf_counter() - started


def counts(server: EmbeddedServer) -> tuple[int, int]:
    with psycopg.connect(server.url("dbapp").replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM mentions)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


Sample = tuple[float, int | None, float | None, str | None, str | None]


class LagSampler(threading.Thread):
    """``replica_status`` once a second: (elapsed, lag bytes, lag seconds as reported, primary
    WAL position, replayed position)."""

    def __init__(self, replica: Path) -> None:
        super().__init__(daemon=True)
        self.replica = replica
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                st = replica_status(self.replica)
            except Exception as exc:  # noqa: BLE001 - a sample lost is recorded, not fatal
                print(f"  sample failed: {exc}", flush=True)
                continue
            self.samples.append(
                (time.perf_counter() - self.started, st.lag_bytes, st.lag_seconds,
                 st.primary_lsn, st.replay_lsn)
            )  # fmt: skip


def staleness(
    samples: list[tuple[float, int | None, float | None, str | None, str | None]],
) -> list[float]:
    """How stale the replica was, measured, not reported: for each sample, the time until a
    later sample shows the replica has replayed the primary's position of that moment."""
    from dbapp.replica import lsn_bytes

    points = [(t, lsn_bytes(p), lsn_bytes(r)) for t, _, _, p, r in samples if p and r]
    out = []
    for i, (t, primary, _) in enumerate(points):
        for t2, _, replayed in points[i:]:
            if replayed >= primary:
                out.append(t2 - t)
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    files = corpus_files(args.docs, args.seed)
    for d in (REPLICA_B, REPLICA_A, PRIMARY):
        if (d / "PG_VERSION").exists():
            EmbeddedServer(d).stop()
        shutil.rmtree(d, ignore_errors=True)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "docs": args.docs}
    primary = EmbeddedServer(PRIMARY)
    try:
        run(*dbapp(None, "db", "start"))
        run(*dbapp(None, "db", "upgrade"))
        run(*dbapp(None, "entities", "seed"))
        results["create_empty_seconds"] = run(
            *dbapp(None, "db", "replica", "create", str(REPLICA_A))
        )
        run(*dbapp(None, "db", "replica", "start", str(REPLICA_A)))

        sampler = LagSampler(REPLICA_A)
        sampler.start()
        load_cmd = dbapp(None, "load", *map(str, files), "--no-progress")
        results["load_seconds_with_replica"] = run(*load_cmd)
        sampler.stop.set()
        sampler.join()
        caught_up = time.perf_counter()
        while replica_status(REPLICA_A).lag_bytes not in (0, None):
            time.sleep(0.5)
        results["catch_up_after_load_seconds"] = time.perf_counter() - caught_up
        seconds = [s for _, _, s, _, _ in sampler.samples if s is not None]
        lag_bytes = [b for _, b, _, _, _ in sampler.samples if b is not None]
        stale = staleness(sampler.samples)
        results["lag"] = {
            "samples": len(sampler.samples),
            "max_seconds": max(seconds, default=None),
            "median_seconds": statistics.median(seconds) if seconds else None,
            "p95_seconds": sorted(seconds)[int(0.95 * (len(seconds) - 1))] if seconds else None,
            "max_bytes": max(lag_bytes, default=None),
            # Measured staleness (1 s resolution): what a reader of the replica experiences.
            "stale_max_seconds": max(stale, default=None),
            "stale_p95_seconds": sorted(stale)[int(0.95 * (len(stale) - 1))] if stale else None,
            "stale_median_seconds": statistics.median(stale) if stale else None,
            "median_bytes": statistics.median(lag_bytes) if lag_bytes else None,
            "timeline": sampler.samples[:: max(1, len(sampler.samples) // 200)],
        }
        results["counts_primary"] = counts(primary)
        results["counts_replica_a"] = counts(EmbeddedServer(REPLICA_A))
        print(f"load with a replica streaming: {results['load_seconds_with_replica']:.1f} s; "
              f"lag max {results['lag']['max_seconds']} s, p95 {results['lag']['p95_seconds']} s, "
              f"max {results['lag']['max_bytes']} bytes", flush=True)  # fmt: skip
        print(f"measured staleness: max {results['lag']['stale_max_seconds']} s, "
              f"p95 {results['lag']['stale_p95_seconds']} s", flush=True)  # fmt: skip

        results["create_seconds"] = run(*dbapp(None, "db", "replica", "create", str(REPLICA_B)))
        results["replica_mb"] = (
            sum(p.stat().st_size for p in REPLICA_B.rglob("*") if p.is_file()) / 1e6
        )
        run(*dbapp(None, "db", "replica", "start", str(REPLICA_B)))
        results["report_on_replica_b_seconds"] = run(
            *dbapp(REPLICA_B, "report", "top-entities", "--format", "csv")
        )
        results["counts_replica_b"] = counts(EmbeddedServer(REPLICA_B))
        print(f"replica of {args.docs:,} articles ({results['replica_mb']:,.0f} MB) made in "
              f"{results['create_seconds']:.1f} s", flush=True)  # fmt: skip
    finally:
        for d in (REPLICA_B, REPLICA_A, PRIMARY):
            if (d / "PG_VERSION").exists():
                EmbeddedServer(d).stop()
    OUT.mkdir(exist_ok=True)
    (OUT / f"replica-{args.docs}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
