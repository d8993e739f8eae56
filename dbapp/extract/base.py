"""The extractor interface and the mention it produces."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from dbapp.parse.records import ParsedDocument


class ExtractedMention(NamedTuple):
    """``body[start:end] == surface`` names an entity: a catalogue id, or (kind, name) to create.

    A named tuple, not a dataclass: hundreds of thousands cross from the parser processes and
    tuples pickle several times faster.
    """

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


def reads_language(extractor: Extractor, language: str | None) -> bool:
    """Whether ``extractor`` has names for text in ``language`` (an extractor without a
    ``languages`` set reads every one; an unknown language is read)."""
    languages = getattr(extractor, "languages", None)
    return languages is None or language is None or language in languages


class NoExtractor:
    """Extracts nothing (``--extractor none``): documents load without mentions."""

    name = "none"
    version = "0"

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        return []
