"""Optional NER backend: an installed spaCy pipeline finds spans, the catalogue names them.

``pip install 'dbapp[spacy]'`` plus a pipeline package (``en_core_web_sm`` by default, or any
pipeline directory). Nothing is downloaded at run time: a missing pipeline is a clear error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from dbapp.catalogue import CatalogueAlias, normalise_alias
from dbapp.errors import InputError
from dbapp.extract.base import ExtractedMention
from dbapp.extract.structure import boilerplate_ranges, dateline_ranges, structure_mentions
from dbapp.parse.records import ParsedDocument

# spaCy (OntoNotes) labels -> our kinds; numbers, dates and the like are not entities here.
LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "GPE",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "MISC": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}
# A span the model calls GPE may be catalogued as LOC and vice versa.
NEAR_KINDS = {"GPE": ("LOC",), "LOC": ("GPE",)}


def load_pipeline(model: str) -> Any:
    """``spacy.load`` with errors a user can act on."""
    try:
        import spacy
    except ImportError:
        raise InputError(
            "--extractor spacy needs spaCy: pip install 'dbapp[spacy]' and a pipeline package"
        ) from None
    try:
        return spacy.load(model)
    except OSError:
        raise InputError(
            f"spaCy pipeline {model!r} is not installed. Install its package from a file or "
            "your package index (dbapp never downloads models), or pass --spacy-model PATH"
        ) from None


class SpacyExtractor:
    """spaCy NER spans resolved to catalogue entities; unknown names become new entities."""

    name = "spacy"
    languages = frozenset({"en"})  # its names are English

    def __init__(
        self, model: str, aliases: Sequence[CatalogueAlias], ignored: Iterable[str] = ()
    ) -> None:
        self.model = model
        self._aliases = list(aliases)
        self._ignored = frozenset(ignored)
        self._nlp = load_pipeline(model)
        meta = self._nlp.meta
        digest = hashlib.sha256(
            "\n".join(f"{a.entity_id}\t{a.kind}\t{a.alias}" for a in self._aliases).encode()
            + "\n".join(sorted(self._ignored)).encode()
        ).hexdigest()[:10]
        self.version = f"{meta.get('name', model)}-{meta.get('version', '0')}.{digest}"
        self._by_kind: dict[tuple[str, str], tuple[int, str]] = {}
        for a in self._aliases:
            self._by_kind.setdefault(
                (a.kind, normalise_alias(a.alias)), (a.entity_id, a.canonical_name)
            )
        self._persons = {
            norm: ref for (kind, norm), ref in self._by_kind.items() if kind == "PERSON"
        }

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "aliases": self._aliases, "ignored": self._ignored}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model"], state["aliases"], state["ignored"])  # type: ignore[misc]

    def _resolve(self, kind: str, surface: str) -> tuple[str, str, int | None]:
        norm = normalise_alias(surface)
        for candidate in (kind, *NEAR_KINDS.get(kind, ())):
            known = self._by_kind.get((candidate, norm))
            if known:
                return candidate, known[1], known[0]
        return kind, " ".join(surface.split()), None

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        boiler = boilerplate_ranges(doc)
        dateline = dateline_ranges(doc)
        found: list[ExtractedMention] = []
        for ent in self._nlp(doc.body).ents:
            kind = LABELS.get(ent.label_)
            start, end = ent.start_char, ent.end_char
            surface = doc.body[start:end]
            if kind is None or not surface.strip() or normalise_alias(surface) in self._ignored:
                continue
            if any(s <= start and end <= e for s, e in boiler):
                continue
            if any(s < end and start < e for s, e in boiler):
                continue  # e.g. a span swallowing part of a byline
            kind, name, entity_id = self._resolve(kind, surface)
            role = "dateline" if any(s <= start and end <= e for s, e in dateline) else "body"
            found.append(ExtractedMention(start, end, surface, role, kind, name, entity_id))
        # The byline author is added from the document structure; drop the model's copy.
        bylines = structure_mentions(doc, found, self._persons, self._ignored)
        taken = {(m.start, m.end) for m in bylines}
        found = [m for m in found if (m.start, m.end) not in taken]
        return sorted(found + bylines, key=lambda m: (m.start, m.end))
