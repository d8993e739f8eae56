"""Mentions that come from a document's structure rather than from its words."""

from __future__ import annotations

from collections.abc import Mapping

from dbapp.catalogue import normalise_alias
from dbapp.extract.base import ExtractedMention
from dbapp.parse.records import (
    SPAN_BOILERPLATE,
    SPAN_BYLINE_AUTHOR,
    SPAN_DATELINE_COUNTRY,
    SPAN_DATELINE_PLACE,
    ParsedDocument,
)


def dateline_ranges(doc: ParsedDocument) -> list[tuple[int, int]]:
    """Where the dateline's place and country are: matches there get role ``dateline``."""
    return [
        (s.start, s.end)
        for s in doc.spans
        if s.role in (SPAN_DATELINE_PLACE, SPAN_DATELINE_COUNTRY)
    ]


def boilerplate_ranges(doc: ParsedDocument) -> list[tuple[int, int]]:
    """Agency boilerplate ("By X – Trend:", "Trend reports"): no mentions inside."""
    return [(s.start, s.end) for s in doc.spans if s.role == SPAN_BOILERPLATE]


def structure_mentions(
    doc: ParsedDocument,
    found: list[ExtractedMention],
    persons: Mapping[str, tuple[int, str]],
    ignored: frozenset[str],
) -> list[ExtractedMention]:
    """The byline's author as a PERSON (role ``byline``), and a dateline place that nothing
    else matched as a GPE (role ``dateline``). ``persons`` maps normalised names to known
    PERSON entities (id, canonical name)."""
    extra = []
    for span in doc.spans:
        surface = doc.body[span.start : span.end]
        if normalise_alias(surface) in ignored:
            continue
        if span.role == SPAN_BYLINE_AUTHOR:
            name = " ".join(surface.split())
            known = persons.get(normalise_alias(name))
            entity_id, canonical = known if known else (None, name)
            extra.append(
                ExtractedMention(
                    span.start, span.end, surface, "byline", "PERSON", canonical, entity_id
                )
            )
        elif span.role == SPAN_DATELINE_PLACE and not any(
            m.start < span.end and span.start < m.end for m in found
        ):
            name = doc.dateline_place or surface
            extra.append(
                ExtractedMention(span.start, span.end, surface, "dateline", "GPE", name, None)
            )
    return extra
