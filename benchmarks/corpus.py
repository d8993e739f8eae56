"""A realistic synthetic news corpus, built from the real corpora in ../shared, streaming.

Sentences come from Reuters-21578 and the Wikinews sample, names from dbapp's catalogue,
datelines and bylines in the native wire style; dates span 2015-2024 over 12 sources. The same
``seed`` and size give byte-identical output. Nothing is held in memory but the sentence pool.

    python -m benchmarks.corpus --docs 100000 --format jsonl --out benchmarks/out/corpus
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import html
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from dbapp.catalogue import read_catalogue

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SOURCES = [
    "Trend", "Caspian Wire", "Baku Daily", "Tbilisi Herald", "Yerevan Times", "Ankara Post",
    "Moscow Courier", "Brussels Monitor", "Geneva Dispatch", "Gulf Ledger", "Asia Bulletin",
    "Atlantic Review",
]  # fmt: skip
FIRST = ["Leman", "Anar", "Nigar", "Elvin", "Sabina", "Orkhan", "Aysel", "Rashad", "Gunel", "Emil"]
LAST = ["Zeynalova", "Aliyev", "Mammadova", "Huseynov", "Karimova", "Ismayilov", "Guliyeva"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_BODY = re.compile(rb"<BODY>(.*?)</BODY>", re.S)


def sentence_pool(limit: int = 60_000) -> list[str]:
    """Sentences of real news text (Reuters 1987, Wikinews 2019-2020)."""
    pool: list[str] = []
    for path in sorted((SHARED / "reuters21578" / "sgm").glob("*.sgm.gz")):
        for body in _BODY.findall(gzip.open(path).read()):
            text = html.unescape(body.decode("latin-1"))
            text = re.sub(r"\s+", " ", text.replace("\x03", "")).replace(" Reuter", "")
            pool.extend(s for s in _SENTENCE.split(text) if 40 <= len(s) <= 400)
    csv.field_size_limit(10_000_000)
    for path in sorted((SHARED / "wikinews-sample").glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                text = re.sub(r"\s+", " ", row["text"])
                pool.extend(s for s in _SENTENCE.split(text) if 40 <= len(s) <= 400)
    rng = random.Random(0)
    rng.shuffle(pool)
    return pool[:limit]


def entity_names() -> tuple[list[str], list[tuple[str, str]]]:
    """Names to sprinkle in (aliases of catalogue entities) and (capital, country) datelines."""
    names, datelines = [], []
    entities = read_catalogue()["entities"]
    countries = {e["name"] for e in entities if e["kind"] == "GPE" and e.get("external_id")}
    for e in entities:
        if e.get("context"):
            continue  # ambiguous ones would mostly not count
        names.extend(a for a in e["aliases"] if len(a) > 3)
        if e["kind"] == "GPE" and e.get("description", "").startswith("capital of "):
            country = e["description"].removeprefix("capital of ")
            if country in countries:
                datelines.append((e["name"], country))
    return names, datelines


def articles(count: int, seed: int = 1) -> Iterator[dict[str, str]]:
    """``count`` articles, deterministic for a seed."""
    rng = random.Random(seed)
    pool = sentence_pool()
    names, datelines = entity_names()
    focus = names[:200] + ["Azerbaijan", "Armenia", "Karabakh", "UN Security Council", "Baku"]
    start = dt.date(2015, 1, 1)
    for number in range(count):
        day = start + dt.timedelta(days=rng.randrange(3653))
        city, country = rng.choice(datelines)
        source = rng.choice(SOURCES)
        sentences = []
        for _ in range(rng.randint(6, 18)):
            sentence = rng.choice(pool)
            if rng.random() < 0.6:
                name = rng.choice(focus if rng.random() < 0.5 else names)
                link = rng.choice(["said", "according to", "near"])
                sentence = f"{sentence[:-1]}, {link} {name}."
            sentences.append(sentence)
        paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
        byline = ""
        if rng.random() < 0.4:
            byline = f"By {rng.choice(FIRST)} {rng.choice(LAST)} – {source}:\n\n"
        dateline = f"{city.upper()}, {country}, {MONTHS[day.month - 1]} {day.day}."
        text = f"{dateline} {byline}" + "\n\n".join(paragraphs) + f", {source} reports."
        yield {
            "id": f"bench-{seed}-{number}",
            "date": day.isoformat(),
            "source": source,
            "title": sentences[0][:90],
            "text": text,
        }


def write(out: Path, count: int, fmt: str = "jsonl", seed: int = 1) -> list[Path]:
    """Write the corpus (JSON Lines in files of 50,000, or native .txt files) and return paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if fmt == "jsonl":
        handle = None
        for number, article in enumerate(articles(count, seed)):
            if number % 50_000 == 0:
                if handle:
                    handle.close()
                paths.append(out / f"part-{number // 50_000:03d}.jsonl")
                handle = paths[-1].open("w", encoding="utf-8")
            assert handle is not None
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")
        if handle:
            handle.close()
    else:
        for number, article in enumerate(articles(count, seed)):
            folder = out / f"{number // 1000:04d}"
            folder.mkdir(exist_ok=True)
            path = folder / f"{number:07d}_{article['id'].split('-')[-1]}.txt"
            path.write_text(f" date {article['date']} {article['text']}", encoding="utf-8")
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--format", choices=("jsonl", "native"), default="jsonl")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/corpus"))
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"needs the shared corpora at {SHARED}")
    paths = write(args.out, args.docs, args.format, args.seed)
    size = sum(p.stat().st_size for p in paths)
    print(f"{args.docs:,} articles, {size / 1e6:.1f} MB in {len(paths)} files under {args.out}")


if __name__ == "__main__":
    main()
