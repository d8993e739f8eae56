"""The extractor interface and the mention it produces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dbapp.parse.records import ParsedDocument


@dataclass(frozen=True, slots=True)
class ExtractedMention:
    """``body[start:end] == surface`` names an entity: a catalogue id, or (kind, name) to create."""

    start: int
    end: int
    surface: str
    role: str
    kind: str
    name: str
    entity_id: int | None = None


class Extractor(Protocol):
    """Finds entity mentions in a document. Must be picklable (it runs in worker processes)."""

    name: str
    version: str

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]: ...


class NoExtractor:
    """Extracts nothing (``--extractor none``): documents load without mentions."""

    name = "none"
    version = "0"

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        return []
