"""The entity catalogue: the shipped data file, seeding it into the database, reading it back."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.pgcopy import copy_rows
from dbapp.relations import derive_relations

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_PATH = DATA_DIR / "catalogue.json"


def normalise_alias(name: str) -> str:
    """The form aliases are unique in and looked up by: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True, slots=True)
class CatalogueAlias:
    """One alias of one entity, as the extractors need it."""

    entity_id: int
    kind: str
    canonical_name: str
    alias: str
    context_terms: tuple[str, ...] | None = None
    origin: str = "catalogue"  # 'catalogue', 'user' (curation) or 'extracted' (a byline name)
    country: bool = False  # the entity is a country or territory (an ISO 3166 code)

    @property
    def extracted(self) -> bool:
        return self.origin == "extracted"


@dataclass(frozen=True)
class SeedResult:
    """What seeding the catalogue added."""

    digest: str
    entities_added: int
    aliases_added: int
    sources_updated: int
    skipped: bool


@lru_cache(maxsize=1)
def read_catalogue() -> dict[str, Any]:
    """The shipped catalogue (``dbapp/data/catalogue.json``)."""
    return dict(json.loads(CATALOGUE_PATH.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def catalogue_digest() -> str:
    return hashlib.sha256(CATALOGUE_PATH.read_bytes()).hexdigest()


_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS staging_catalogue (
    kind text, canonical_name text, external_id text, description text,
    alias text, normalised text, context_terms text[]
) ON COMMIT DROP
"""
# Entities merged away (entity_redirects) are not re-created; their aliases go to the target.
_INSERT_ENTITIES = """
INSERT INTO entities (kind, canonical_name, external_id, description)
SELECT DISTINCT ON (s.kind, s.canonical_name) s.kind, s.canonical_name, s.external_id, s.description
FROM staging_catalogue s
WHERE NOT EXISTS (SELECT 1 FROM entity_redirects r
                  WHERE r.kind = s.kind AND r.canonical_name = s.canonical_name)
ORDER BY s.kind, s.canonical_name
ON CONFLICT (kind, canonical_name) DO NOTHING
"""
_INSERT_ALIASES = """
INSERT INTO entity_aliases (entity_id, kind, alias, normalised, origin, context_terms)
SELECT e.entity_id, e.kind, s.alias, s.normalised, 'catalogue', s.context_terms
FROM staging_catalogue s
LEFT JOIN entity_redirects r ON r.kind = s.kind AND r.canonical_name = s.canonical_name
JOIN entities e ON e.entity_id = r.entity_id
                OR (r.entity_id IS NULL AND e.kind = s.kind AND e.canonical_name = s.canonical_name)
ORDER BY e.kind, s.normalised
ON CONFLICT (kind, normalised) DO NOTHING
"""
_UPSERT_SOURCE = """
INSERT INTO sources (name, kind, homepage, domain, country)
VALUES (:name, :kind, :homepage, :domain, :country)
ON CONFLICT (name) DO UPDATE SET
    kind = CASE WHEN sources.kind = 'unknown' THEN EXCLUDED.kind ELSE sources.kind END,
    homepage = coalesce(sources.homepage, EXCLUDED.homepage),
    domain = coalesce(sources.domain, EXCLUDED.domain),
    country = coalesce(sources.country, EXCLUDED.country)
WHERE sources.homepage IS NULL OR sources.kind = 'unknown'
"""


def seed_catalogue(conn: Connection, force: bool = False) -> SeedResult:
    """Put the shipped catalogue in the database; once per catalogue version unless ``force``.

    Only adds: existing entities, aliases and curation (merges, removals) are left alone.
    """
    digest = catalogue_digest()
    done = conn.scalar(text("SELECT 1 FROM catalogue_imports WHERE digest = :d"), {"d": digest})
    if done and not force:
        if not conn.scalar(text("SELECT EXISTS (SELECT 1 FROM entity_relations)")):
            derive_relations(conn)  # a database seeded before relations existed
        return SeedResult(digest, 0, 0, 0, skipped=True)
    catalogue = read_catalogue()
    conn.execute(text(_STAGE))
    rows = [
        (
            e["kind"],
            e["name"],
            e.get("external_id"),
            e.get("description"),
            alias,
            normalise_alias(alias),
            e.get("context", {}).get(alias),
        )
        for e in catalogue["entities"]
        for alias in e["aliases"]
    ]
    copy_rows(conn, "staging_catalogue", rows)
    entities = conn.execute(text(_INSERT_ENTITIES)).rowcount
    aliases = conn.execute(text(_INSERT_ALIASES)).rowcount
    sources = sum(
        conn.execute(text(_UPSERT_SOURCE), source).rowcount for source in catalogue["news_sources"]
    )
    derive_relations(conn)
    conn.execute(
        text(
            "INSERT INTO catalogue_imports (digest, entities, aliases) VALUES (:d, :e, :a) "
            "ON CONFLICT (digest) DO NOTHING"
        ),
        {"d": digest, "e": entities, "a": aliases},
    )
    return SeedResult(digest, entities, aliases, sources, skipped=False)


def shipped_aliases() -> list[CatalogueAlias]:
    """The shipped catalogue's aliases without a database (entity ids are list positions)."""
    aliases = []
    for number, e in enumerate(read_catalogue()["entities"], 1):
        for alias in e["aliases"]:
            terms = e.get("context", {}).get(alias)
            country = e["kind"] == "GPE" and len(e.get("external_id") or "") == 3
            aliases.append(
                CatalogueAlias(
                    number,
                    e["kind"],
                    e["name"],
                    alias,
                    tuple(terms) if terms else None,
                    country=country,
                )
            )
    return aliases


def has_catalogue(conn: Connection) -> bool:
    """True when the database holds any aliases to extract with."""
    return bool(conn.scalar(text("SELECT EXISTS (SELECT 1 FROM entity_aliases)")))


def read_aliases(conn: Connection) -> list[CatalogueAlias]:
    """Every alias in the database with its entity, for building an extractor."""
    result = conn.execute(
        text(
            "SELECT a.entity_id, a.kind, e.canonical_name, a.alias, a.context_terms, "
            "coalesce(a.origin, 'catalogue'), "
            "e.kind = 'GPE' AND coalesce(e.external_id, '') ~ '^[A-Z]{3}$' "
            "FROM entity_aliases a JOIN entities e USING (entity_id) ORDER BY a.entity_alias_id"
        )
    )
    return [
        CatalogueAlias(r[0], r[1], r[2], r[3], tuple(r[4]) if r[4] else None, str(r[5]), r[6])
        for r in result
    ]


def read_ignored(conn: Connection) -> frozenset[str]:
    """Normalised surfaces that must never become mentions."""
    return frozenset(conn.scalars(text("SELECT normalised FROM ignored_surfaces")))
