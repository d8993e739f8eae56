"""Discovery: NER proposes, the catalogue decides.

A trained spaCy pipeline reads stored documents (in worker processes) and proposes names the
catalogue does not know. They are stored as candidates with the documents they were seen in;
``accept`` turns candidates into catalogue entities (with their name as an alias), after which
the gazetteer finds them in every document at its own speed; ``reject`` keeps a name from ever
being proposed again. Library functions take an Engine (they own their batches) or a
Connection (the caller's transaction).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from dbapp.catalogue import normalise_alias
from dbapp.catalogue_io import EntitySpec, add_entity
from dbapp.entities import AliasConflict, EntityRef
from dbapp.errors import BadArgument, DbappError
from dbapp.extract.ner import LABELS, load_pipeline
from dbapp.load import Progress
from dbapp.pipeline import submit_quietly

# What a candidate can be; numbers, dates, laws and works of art are not proposed.
CANDIDATE_KINDS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT")
BATCH = 200
EXAMPLES = 3
CONTEXT = 60
# `load --discover` accepts a candidate seen in at least this many documents of at least this
# many sources (fixed in advance, never tuned on evaluation data).
AUTO_MIN_DOCUMENTS = 3
AUTO_MIN_SOURCES = 1
_LEADING = re.compile(r"^(?:the|a|an)\s+", re.I)
_TRAILING = re.compile(r"(?:'s|’s|')$")
# A score, a result or a phone number after a name ("Real Madrid 1", "Lithuania 2-1").
_TRAILING_NUMBERS = re.compile(r"(?:\s+[-+]?[\d.,:/-]*\d[\d.,:/-]*)+$")
_TRAILING_LOWER = re.compile(r"(?:\s+[a-z][\w-]*)+$")
_NUMBER = re.compile(r"[-+]?[\d.,:/-]*\d[\d.,:/-]*")
# Facilities are not proposed: the small pipeline's FAC spans are mostly clubs, events and
# results rows ("Dinamo", "Atlanta Games", "the Oval , Surrey").
_NOT_PROPOSED = frozenset({"FAC"})
# Words that keep a known place's name a place ("Sharqiyah province", "Kansas City"); any other
# word after it makes something named after the place ("Hong Kong Open", "Atlanta Games").
PLACE_WORDS = frozenset(
    """province city county region state district island islands river valley bay sea lake
    mountains hills strait gulf peninsula coast territory prefecture oblast governorate
    municipality capital harbour harbor airport""".split()
)


@dataclass
class DiscoverResult:
    documents: int = 0
    sightings: int = 0
    new_candidates: int = 0
    elapsed: float = 0.0
    model: str = ""

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.elapsed if self.elapsed else 0.0


@dataclass(frozen=True)
class Found:
    """One name NER found in one document."""

    kind: str
    name: str
    normalised: str
    context: str


def proposal(label: str, surface: str) -> tuple[str, str] | None:
    """What NER's span proposes: (kind, catalogue name), or None."""
    kind = LABELS.get(label)
    if label in _NOT_PROPOSED or kind not in CANDIDATE_KINDS:
        return None
    name = clean_name(surface)
    return (kind, name) if name else None


def extends_place(kind: str, name: str, places: set[str]) -> bool:
    """A place-labelled name that is a known place plus words no place name takes: an event, a
    team or a body named after the place, which the small pipeline labels as the place."""
    words = name.split()
    if kind not in ("GPE", "LOC") or len(words) < 2:
        return False
    for cut in range(1, len(words)):
        if normalise_alias(" ".join(words[:cut])) in places:
            return any(w.lower() not in PLACE_WORDS for w in words[cut:])
    return False


def clean_name(surface: str) -> str | None:
    """A proposed name as a catalogue name: one line, no article, no possessive, no score
    after it; None if junk (a results row, a place with its region after a comma)."""
    name = _TRAILING.sub("", _LEADING.sub("", " ".join(surface.split())))
    name = _TRAILING_NUMBERS.sub("", name).strip(" ,;:-–—\"'()[]{}")
    # "Jiangsu province", "Stansted airport": the name is the capitalised part.
    name = _TRAILING_LOWER.sub("", name)
    if any(c in name for c in ",()[]") or " - " in name:
        return None
    if any(_NUMBER.fullmatch(w) for w in name.split()):
        return None  # "Partick 1 St Mirren": a results row
    if name.endswith(".") and "." not in name[:-1]:
        name = name.rstrip(".")  # a sentence's full stop; "U.S." keeps its own
    if len(name) < 2 or not any(c.isalpha() for c in name) or not name[0].isupper():
        return None
    letters = [c for c in name if c.isalpha()]
    if all(c.isupper() for c in letters) and len(letters) > 5:
        return None  # a headline or a table's heading in capitals, not a name as written
    return name


def surnames(people: list[str]) -> set[str]:
    """Normalised last words of multi-word person names: alone, such a word is that person's
    surname, which short-form linking resolves per document; it is not an entity of its own."""
    return {normalise_alias(n.split()[-1]) for n in people if len(n.split()) >= 2}


# -- the NER side (worker processes) ---------------------------------------------------------

_NLP: Any = None


def _init(model: str, parent: int) -> None:
    global _NLP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from dbapp.pipeline import _die_with_parent

    _die_with_parent(parent)
    _NLP = load_pipeline(model)


def _names(batch: list[tuple[int, str]]) -> list[tuple[int, list[Found]]]:
    out = []
    for (document_id, body), doc in zip(batch, _NLP.pipe(b for _, b in batch), strict=True):
        seen: dict[tuple[str, str], Found] = {}
        for ent in doc.ents:
            proposed = proposal(ent.label_, ent.text)
            if proposed is None:
                continue
            kind, name = proposed
            norm = normalise_alias(name)
            if (kind, norm) not in seen:
                left = max(0, ent.start_char - CONTEXT)
                context = " ".join(body[left : ent.end_char + CONTEXT].split())
                seen[(kind, norm)] = Found(kind, name, norm, context)
        out.append((document_id, list(seen.values())))
    return out


# -- storing ---------------------------------------------------------------------------------

_SELECT = """
SELECT d.document_id, d.body FROM documents d JOIN sources s USING (source_id)
WHERE d.document_id > :after
  AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
  AND (CAST(:source AS text) IS NULL OR s.name = :source)
  AND (CAST(:load_id AS integer) IS NULL OR d.load_id = :load_id)
  AND (CAST(:sample AS integer) IS NULL OR d.document_id = ANY(:ids))
ORDER BY d.document_id LIMIT :n
"""
_KNOWN = """
SELECT kind, normalised FROM entity_aliases WHERE normalised = ANY(:n)
UNION SELECT NULL, normalised FROM ignored_surfaces WHERE normalised = ANY(:n)
"""


_PLACES = (
    "SELECT normalised FROM entity_aliases WHERE kind IN ('GPE', 'LOC') AND normalised = ANY(:n)"
)


def _store(conn: Connection, results: list[tuple[int, list[Found]]]) -> tuple[int, int]:
    """Candidates and sightings of one batch; names the catalogue knows are left out."""
    names = sorted({f.normalised for _, found in results for f in found})
    if not names:
        return 0, 0
    # A name the catalogue knows under any kind, or one that is ignored, is not proposed.
    known = {n for _, n in conn.execute(text(_KNOWN), {"n": names})}
    prefixes = sorted(
        {
            normalise_alias(" ".join(f.name.split()[:cut]))
            for _, found in results
            for f in found
            if f.kind in ("GPE", "LOC")
            for cut in range(1, len(f.name.split()))
        }
    )
    places = set(conn.scalars(text(_PLACES), {"n": prefixes})) if prefixes else set()
    rows = [
        (document_id, f)
        for document_id, found in results
        for f in found
        if f.normalised not in known and not extends_place(f.kind, f.name, places)
    ]
    if not rows:
        return 0, 0
    first: dict[str, Found] = {}
    for _, f in rows:
        first.setdefault(f.normalised, f)
    created = conn.execute(
        text(
            "INSERT INTO entity_candidates (kind, name, normalised, examples) "
            "SELECT k, n, m, jsonb_build_array(c) FROM unnest("
            "CAST(:k AS text[]), CAST(:n AS text[]), CAST(:m AS text[]), CAST(:c AS text[])) "
            "AS t(k, n, m, c) ORDER BY m ON CONFLICT (normalised) DO NOTHING"
        ),
        {
            "k": [f.kind for f in first.values()],
            "n": [f.name for f in first.values()],
            "m": [f.normalised for f in first.values()],
            "c": [f.context for f in first.values()],
        },
    ).rowcount
    ids = {
        n: i
        for i, n in conn.execute(
            text(
                "SELECT candidate_id, normalised FROM entity_candidates WHERE normalised = ANY(:n)"
            ),
            {"n": sorted(first)},
        )
    }
    # One sighting per candidate and document (NER may label a name twice in one document).
    sighting = {(ids[f.normalised], d): f.kind for d, f in rows}
    pairs = sorted(sighting)
    added = conn.execute(
        text(
            "INSERT INTO candidate_sightings (candidate_id, document_id, kind) "
            "SELECT * FROM unnest(CAST(:c AS integer[]), CAST(:d AS bigint[]), "
            "CAST(:k AS text[])) ON CONFLICT DO NOTHING"
        ),
        {"c": [c for c, _ in pairs], "d": [d for _, d in pairs], "k": [sighting[p] for p in pairs]},
    ).rowcount
    # A small model labels the same name differently from one document to the next: the
    # candidate's kind is the label it got most often.
    conn.execute(
        text(
            "UPDATE entity_candidates c SET kind = ("
            "  SELECT s.kind FROM candidate_sightings s WHERE s.candidate_id = c.candidate_id"
            "  GROUP BY s.kind ORDER BY count(*) DESC, min(array_position("
            "  ARRAY['PERSON','ORG','GPE','LOC','NORP','EVENT']::text[], s.kind)) LIMIT 1) "
            "WHERE c.candidate_id = ANY(:i) AND c.status = 'new'"
        ),
        {"i": sorted(set(ids.values()))},
    )
    # Keep a few example contexts per candidate.
    for key, f in first.items():
        conn.execute(
            text(
                "UPDATE entity_candidates "
                "SET examples = examples || jsonb_build_array(CAST(:c AS text)) "
                "WHERE candidate_id = :i AND jsonb_array_length(examples) < :n "
                "AND NOT examples @> jsonb_build_array(CAST(:c AS text))"
            ),
            {"c": f.context, "i": ids[key], "n": EXAMPLES},
        )
    return max(created, 0), max(added, 0)


def _batches(
    engine: Engine, since: Any, source: str | None, load_id: int | None, sample: int | None
) -> Iterator[list[tuple[int, str]]]:
    params: dict[str, Any] = {"since": since, "source": source, "load_id": load_id,
                              "sample": sample, "ids": [], "n": BATCH, "after": 0}  # fmt: skip
    with engine.connect() as conn:
        if sample is not None:
            params["ids"] = list(
                conn.scalars(
                    text("SELECT document_id FROM documents ORDER BY random() LIMIT :k"),
                    {"k": sample},
                )
            )
        while True:
            rows = [(int(i), str(b)) for i, b in conn.execute(text(_SELECT), params)]
            if not rows:
                return
            params["after"] = rows[-1][0]
            yield rows


def discover(
    engine: Engine,
    model: str,
    since: Any = None,
    source: str | None = None,
    load_id: int | None = None,
    sample: int | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> DiscoverResult:
    """Run NER over the chosen stored documents and store what it proposes."""
    if sample is not None and sample < 1:
        raise BadArgument("--sample must be at least 1")
    progress = progress or Progress()
    result = DiscoverResult(model=model)
    load_pipeline(model)  # fail early, in this process, if the pipeline is missing
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM documents")) or 0
    progress.start(min(total, sample) if sample else total, "documents")
    started = time.perf_counter()
    mp = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max(1, workers), mp_context=mp, initializer=_init, initargs=(model, os.getpid())
    )
    try:
        pending = []
        for batch in _batches(engine, since, source, load_id, sample):
            pending.append(submit_quietly(pool, _names, batch))
            if len(pending) >= max(1, workers) * 2:
                _save(engine, pending.pop(0).result(), result, progress)
        for future in pending:
            _save(engine, future.result(), result, progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.stop()
        result.elapsed = time.perf_counter() - started
    return result


def _save(
    engine: Engine, found: list[tuple[int, list[Found]]], result: DiscoverResult, bar: Progress
) -> None:
    with engine.begin() as conn:
        created, sightings = _store(conn, found)
    result.documents += len(found)
    result.new_candidates += created
    result.sightings += sightings
    bar.advance(0, len(found), 0)


# -- reviewing -------------------------------------------------------------------------------

_LIST = """
SELECT c.candidate_id, c.kind, c.name, c.status, count(s.document_id) AS documents,
       count(DISTINCT d.source_id) AS sources, min(d.published_on) AS first_seen,
       max(d.published_on) AS last_seen, c.examples
FROM entity_candidates c
LEFT JOIN candidate_sightings s USING (candidate_id)
LEFT JOIN documents d USING (document_id)
WHERE (CAST(:status AS text) IS NULL OR c.status = :status)
  AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
GROUP BY c.candidate_id
HAVING count(s.document_id) >= :min_documents AND count(DISTINCT d.source_id) >= :min_sources
ORDER BY documents DESC, c.kind, c.name
LIMIT :limit
"""


@dataclass
class Decision:
    accepted: list[EntityRef] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # with why


def list_candidates(
    conn: Connection,
    status: str | None = "new",
    kind: str | None = None,
    min_documents: int = 1,
    min_sources: int = 1,
    limit: int = 50,
) -> list[Any]:
    params = {"status": status, "kind": kind.upper() if kind else None, "limit": limit,
              "min_documents": min_documents, "min_sources": min_sources}  # fmt: skip
    return list(conn.execute(text(_LIST), params))


def _by_names(conn: Connection, names: list[str]) -> list[Any]:
    given = {normalise_alias(n): n for n in names}
    wanted = list(given)
    rows = list(
        conn.execute(
            text(
                "SELECT candidate_id, kind, name, normalised, status FROM entity_candidates "
                "WHERE normalised = ANY(:n)"
            ),
            {"n": wanted},
        )
    )
    missing = set(wanted) - {r.normalised for r in rows}
    if missing:
        raise DbappError(
            f"no candidate named {', '.join(given[m] for m in sorted(missing))} "
            "(see `dbapp entities candidates`)"
        )
    return rows


def accept(
    conn: Connection,
    names: list[str] | None = None,
    kind: str | None = None,
    min_documents: int | None = None,
    min_sources: int = 1,
) -> Decision:
    """Candidates by name (as ``kind`` if given, else the kind NER gave them most), or all new
    ones over the thresholds (of ``kind`` if given), become catalogue entities."""
    if names:
        rows = _by_names(conn, names)
    elif min_documents is not None:
        rows = list_candidates(conn, "new", kind, min_documents, min_sources, limit=1_000_000)
        people = conn.scalars(
            text(
                "SELECT name FROM entity_candidates WHERE kind = 'PERSON' "
                "AND status <> 'rejected' UNION ALL "
                "SELECT canonical_name FROM entities WHERE kind = 'PERSON'"
            )
        )
        skip = surnames(list(people))
        # A publisher's own name ("Wikinews", "Reuters") is in its every story's credits:
        # frequent, and not news about it. Accept it by name if it is wanted.
        own = {normalise_alias(n) for n in conn.scalars(text("SELECT name FROM sources"))}
        # A one-word name is the likeliest to be a common word or a mislabel: it needs one
        # document more than the threshold, and is never a proposed person's surname.
        rows = [
            r
            for r in rows
            if normalise_alias(r.name) not in own
            and (
                " " in r.name
                or (r.documents > min_documents and normalise_alias(r.name) not in skip)
            )
        ]
    else:
        raise BadArgument("name candidates to accept, or give --min-documents")
    decision = Decision()
    for row in rows:
        try:
            with conn.begin_nested():
                entity = add_entity(conn, EntitySpec(row.name, (kind or row.kind).upper())).entity
                conn.execute(
                    text(
                        "UPDATE entity_candidates SET status = 'accepted', entity_id = :e, "
                        "kind = :k, decided_at = now() WHERE candidate_id = :i"
                    ),
                    {"e": entity.entity_id, "k": entity.kind, "i": row.candidate_id},
                )
            decision.accepted.append(entity)
        except AliasConflict as exc:
            decision.skipped.append(f"{row.kind} {row.name}: {exc}")
    return decision


def reject(conn: Connection, names: list[str]) -> Decision:
    """Never propose these names again (whatever NER labels them)."""
    decision = Decision()
    for row in _by_names(conn, names):
        conn.execute(
            text(
                "UPDATE entity_candidates SET status = 'rejected', decided_at = now() "
                "WHERE candidate_id = :i"
            ),
            {"i": row.candidate_id},
        )
        decision.rejected.append(f"{row.kind} {row.name}")
    return decision


def examples_text(value: Any) -> str:
    items = value if isinstance(value, list) else json.loads(value or "[]")
    return " | ".join(str(i) for i in items[:1])
