"""A deterministic synthetic news corpus for reliability tests (no ../shared needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

ENTITIES = [
    "Azerbaijan", "Armenia", "Georgia and Tbilisi", "Baku", "Yerevan", "Karabakh",
    "the UN", "the UN Security Council", "NATO", "the European Union", "Türkiye", "Russia",
    "Iran", "Moscow", "Brussels", "Milli Majlis", "Azerbaijani", "Armenians", "the OSCE",
    "Kazakhstan", "the World Bank", "Geneva", "Paris", "Germany", "France",
]  # fmt: skip
WORDS = (
    "officials said talks on the border would resume next week after a meeting of the two "
    "delegations in the capital where ministers discussed trade energy transit and security "
    "issues while analysts expected no breakthrough before the summit in the spring"
).split()
SOURCES = ["Alpha Wire", "Beta News", "Gamma Daily"]


def article(rng: random.Random, number: int) -> dict[str, str]:
    sentences = []
    for _ in range(rng.randint(3, 9)):
        words = rng.sample(WORDS, rng.randint(6, 14))
        words.insert(rng.randrange(len(words)), rng.choice(ENTITIES))
        sentence = " ".join(words)
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return {
        "id": f"syn-{number}",
        "source": rng.choice(SOURCES),
        "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "title": f"Report {number}",
        "text": " ".join(sentences),
    }


def write_corpus(directory: Path, documents: int, files: int = 4, seed: int = 7) -> list[Path]:
    """``documents`` articles in ``files`` JSONL files; the same arguments give the same bytes."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"part-{i:02d}.jsonl" for i in range(files)]
    handles = [p.open("w", encoding="utf-8") for p in paths]
    try:
        for number in range(documents):
            handles[number % files].write(json.dumps(article(rng, number)) + "\n")
    finally:
        for h in handles:
            h.close()
    return paths
