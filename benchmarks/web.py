"""HTML and WARC benchmark: extraction quality with the benchmark's own scorer, and speed.

    python -m benchmarks.web                    # quality + speed (181 pages, x5 in a WARC)
    python -m benchmarks.web --copies 20        # a bigger WARC
    python -m benchmarks.web --warc-gb 1        # memory on a 1 GB WARC (takes a while)

Quality: every page of ../shared/corpora/article-extraction-benchmark goes through dbapp's own
ingest path (dbapp.parse.html.parse_html: decoding, trafilatura, the headline dropped, bylines
added), and the benchmark's evaluate.py scores the texts against its ground truth.
Speed: reading the WARC's records alone (split and HTTP-parse, no extraction) against
`dbapp load` of the same WARC with 2 parser processes, end to end into PostgreSQL.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.load import OUT, fresh_database, run_dbapp_load, server

BENCH = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "article-extraction-benchmark"


def pages() -> list[tuple[str, str, bytes]]:
    """(key, url, html) of every benchmark page."""
    truth = json.loads((BENCH / "ground-truth.json").read_text())
    return [
        (key, truth[key].get("url") or f"https://example.com/{key}",
         gzip.decompress((BENCH / "html" / f"{key}.html.gz").read_bytes()))
        for key in sorted(truth)
    ]  # fmt: skip


def quality() -> dict[str, Any]:
    from dbapp.parse.html import parse_html
    from dbapp.parse.records import ParsedDocument

    output = {}
    started = time.perf_counter()
    for key, url, html in pages():
        doc = parse_html(html, f"{key}.html", url=url)
        output[key] = {"articleBody": doc.body if isinstance(doc, ParsedDocument) else ""}
    seconds = time.perf_counter() - started
    work = Path(tempfile.mkdtemp(prefix="dbapp-aeb-"))
    try:
        shutil.copy(BENCH / "ground-truth.json", work / "ground-truth.json")
        (work / "output").mkdir()
        (work / "output" / "dbapp.json").write_text(json.dumps(output))
        printed = subprocess.run(
            [sys.executable, str(BENCH / "evaluate.py"), "--n-bootstrap", "1000"],
            cwd=work, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        shutil.rmtree(work)
    line = next(x for x in printed.splitlines() if x.startswith("dbapp"))
    f1, precision, recall, accuracy = (float(v) for v in re.findall(r"(\d\.\d+) ±", line))
    return {
        "pages": len(output),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "accuracy": accuracy,
        "seconds_one_process": seconds,
        "pages_per_second_one_process": len(output) / seconds,
        "scorer_output": printed,
    }


def _record(url: str, html: bytes) -> bytes:
    from fastwarc.warc import WarcRecord, WarcRecordType

    record = WarcRecord()
    record.init_headers(WarcRecordType.response)
    record.headers["WARC-Target-URI"] = url
    record.headers["WARC-Date"] = "2023-02-01T12:00:00Z"
    record.headers["Content-Type"] = "application/http; msgtype=response"
    record.set_bytes_content(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html)
    out = io.BytesIO()
    record.write(out)
    return out.getvalue()


def write_warc(path: Path, copies: int = 0, gigabytes: float = 0.0) -> int:
    """A gzipped WARC of the benchmark's pages (each copy's URL differs); returns records."""
    all_pages = pages()
    written = records = 0
    with gzip.open(path, "wb", compresslevel=1) as out:
        copy = 0
        while (copies and copy < copies) or (gigabytes and written < gigabytes * 1e9):
            edition = f"<p>Edition {copy}: ".encode()
            for _key, url, html in all_pages:
                # A different first paragraph per copy: every copy is a new article, not a
                # duplicate the loader would skip.
                marked = html.replace(b"<p>", edition, 1)
                data = _record(f"{url}?copy={copy}", marked)
                out.write(data)
                written += len(data)
                records += 1
            copy += 1
    return records


def read_records_alone(path: Path) -> dict[str, Any]:
    """How fast the WARC is read: records cut and HTTP-parsed, no extraction."""
    from dbapp.parse.warc import WarcChunk, read_record, split_warc

    started = time.perf_counter()
    n = 0
    with gzip.open(path, "rb") as stream:
        for chunk in split_warc(stream, str(path), 50_000_000):
            if isinstance(chunk, WarcChunk):
                read_record(chunk, str(path))
                n += 1
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "records_per_second": n / seconds}


def load(url: str, paths: list[Path], workers: int = 2) -> dict[str, Any]:
    """dbapp load, end to end in a subprocess (benchmarks.load's), with pages per second."""
    result = run_dbapp_load(url, paths, workers, 1000)
    return result | {"pages_per_second": result["records_read"] / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=5, help="copies of the 181 pages")
    parser.add_argument("--warc-gb", type=float, default=0.0, help="memory run on a WARC this big")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if not BENCH.exists():
        raise SystemExit(f"needs {BENCH}")
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    if not args.skip_quality:
        results["quality"] = quality()
        q = results["quality"]
        print(f"HTML body quality ({q['pages']} pages, dbapp's ingest path, the benchmark's "
              f"scorer): F1 {q['f1']:.3f}  precision {q['precision']:.3f}  recall "
              f"{q['recall']:.3f}  ({q['pages_per_second_one_process']:.1f} pages/s, "
              "one process)", flush=True)  # fmt: skip
    folder = OUT / "web"
    folder.mkdir(exist_ok=True)
    warc = folder / (f"crawl-{args.warc_gb}gb.warc.gz" if args.warc_gb else "crawl.warc.gz")
    records = write_warc(warc, copies=0 if args.warc_gb else args.copies, gigabytes=args.warc_gb)
    results["warc"] = {"records": records, "mb_gzipped": warc.stat().st_size / 1e6}
    results["read_alone"] = read_records_alone(warc)
    print(f"WARC: {records:,} records, {warc.stat().st_size / 1e6:,.1f} MB gzipped; reading "
          f"the records alone: {results['read_alone']['records_per_second']:,.0f} records/s",
          flush=True)  # fmt: skip
    html_dir = folder / "html"
    if not args.warc_gb:
        shutil.rmtree(html_dir, ignore_errors=True)
        html_dir.mkdir()
        for key, _, html in pages():
            (html_dir / f"{key}.html").write_bytes(html)
    with server() as admin:
        url = fresh_database(admin, "dbapp_web_bench")
        results["load_warc"] = load(url, [warc])
        lw = results["load_warc"]
        print(f"dbapp load (WARC, 2 workers): {lw['records_read']:,} pages in "
              f"{lw['seconds']:.1f} s = {lw['pages_per_second']:.1f} pages/s, "
              f"{lw['documents']:,} documents, peak RSS {lw['peak_rss_mb']:.0f} MB",
              flush=True)  # fmt: skip
        if not args.warc_gb:
            url = fresh_database(admin, "dbapp_web_bench")
            results["load_html"] = load(url, [html_dir])
            lh = results["load_html"]
            print(f"dbapp load (181 .html files, 2 workers): {lh['pages_per_second']:.1f} "
                  f"pages/s, {lh['documents']:,} documents", flush=True)  # fmt: skip
    name = f"results-web-{args.warc_gb}gb.json" if args.warc_gb else "results-web.json"
    (OUT / name).write_text(json.dumps(results, indent=1, default=str))
    warc.unlink()


if __name__ == "__main__":
    main()
