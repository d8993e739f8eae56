"""Memory of `dbapp watch` over an hour of simulated arrivals: many small files, fast.

    python -m benchmarks.watch_memory --files 3600      # one file per simulated second

A fresh database (DATABASE_URL's server, or the embedded one in benchmarks/out/pgdata-watch);
`dbapp watch` runs as a process of its own while a writer drops files into its folder the way
a feed does (written under a temporary name, renamed into place), each with a few articles.
The watcher's resident memory is sampled as the files go in. Results go to
benchmarks/out/watch-<files>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import psutil
import psycopg
from sqlalchemy.engine import make_url

from benchmarks.load import OUT, env, libpq
from dbapp.config import normalise_url
from dbapp.embedded import EmbeddedServer


def article(i: int) -> str:
    return json.dumps(
        {
            "id": f"feed-{i}",
            "source": "Feed",
            "date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "text": f"Bulletin {i}: ministers from Azerbaijan and Armenia met in Geneva; "
            f"the United Nations and the European Union welcomed talks on item {i}.",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3600)
    parser.add_argument("--per-file", type=int, default=5)
    args = parser.parse_args()
    folder = OUT / "watch-incoming"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    embedded = None
    if os.environ.get("DATABASE_URL"):
        admin = normalise_url(os.environ["DATABASE_URL"])
    else:
        embedded = EmbeddedServer(OUT / "pgdata-watch")
        embedded.acquire()
        admin = embedded.url("postgres")
    try:
        with psycopg.connect(libpq(admin), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS dbapp_watch WITH (FORCE)")
            conn.execute("CREATE DATABASE dbapp_watch")
        url = make_url(admin).set(database="dbapp_watch").render_as_string(hide_password=False)
        base = [sys.executable, "-m", "dbapp"]  # the URL (a password) goes in the environment
        subprocess.run([*base, "db", "upgrade"], check=True, capture_output=True, env=env(url))
        watcher = subprocess.Popen(
            [*base, "watch", str(folder), "--interval", "0.2", "--settle", "0.3"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env(url),
            text=True,
        )
        proc = psutil.Process(watcher.pid)
        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
        for n in range(args.files):
            tmp = folder / f".drop-{n:06d}.jsonl.part"
            lines = (article(n * args.per_file + k) for k in range(args.per_file))
            tmp.write_text("\n".join(lines) + "\n")
            tmp.rename(folder / f"drop-{n:06d}.jsonl")
            if n % 100 == 0:
                samples.append((n, proc.memory_info().rss / 1e6))
                time.sleep(0.3)  # let the watcher keep up, as a real feed would
        expected = args.files * args.per_file
        with psycopg.connect(libpq(url)) as conn:
            while True:
                row = conn.execute("SELECT count(*) FROM documents").fetchone()
                if row and row[0] >= expected:
                    break
                if time.perf_counter() - started > 3600:
                    raise SystemExit("the watcher did not keep up")
                time.sleep(0.5)
            loads = conn.execute("SELECT count(*) FROM loads").fetchone()
        samples.append((args.files, proc.memory_info().rss / 1e6))
        watcher.terminate()
        _, stderr = watcher.communicate(timeout=60)
        elapsed = time.perf_counter() - started
        first = samples[1][1] if len(samples) > 1 else samples[0][1]
        result = {
            "files": args.files,
            "documents": expected,
            "loads": loads[0] if loads else None,
            "seconds": elapsed,
            "rss_mb": samples,
            "rss_growth_mb_after_first_100_files": samples[-1][1] - first,
            "exit": watcher.returncode,
            "stderr_tail": stderr[-300:],
        }
        print(
            f"{args.files:,} files, {expected:,} documents in {elapsed:.0f} s, "
            f"{result['loads']} loads; watcher RSS {samples[0][1]:.0f} MB at start, "
            f"{first:.0f} MB after 100 files, {samples[-1][1]:.0f} MB at the end; exit "
            f"{watcher.returncode}"
        )
        (OUT / f"watch-{args.files}.json").write_text(json.dumps(result, indent=1))
    finally:
        if embedded is not None:
            embedded.release()


if __name__ == "__main__":
    main()
