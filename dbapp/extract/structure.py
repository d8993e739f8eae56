"""Mentions that come from a document's structure rather than from its words."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dbapp.catalogue import normalise_alias
from dbapp.extract.base import ExtractedMention
from dbapp.parse.native import AGENCY_SOURCES
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


# News agencies whose names appear as credits: "(Reuters)", "(AP)", "Reuters/John Smith".
AGENCIES = tuple(AGENCY_SOURCES)
_AGENCY_NAMES = frozenset(AGENCIES)
# Anchored on "(" and "/", which the regex engine finds fast; the name is checked after.
_PAREN = re.compile(r"\(([A-Za-z][\w .-]{0,24})\)")
_SLASH_CREDIT = re.compile(r"([A-Z][\w-]*(?:[ \t][A-Z][\w-]*)?)[ \t]*/[ \t]*[A-Z][a-z]")
_TOLD = re.compile(r"\b(?:told|tell|tells|telling|to|according to)\s+\Z")
_SAID_BY = re.compile(
    r"\A\s+(?:reported|reports|has learned|learned|correspondent|reporter|journalists?|"
    r"calculations|poll|survey|news agency)\b"
)


def agency_ranges(doc: ParsedDocument) -> list[tuple[int, int]]:
    """An agency naming itself is not news about it: credits ("(Reuters)", "AP/Jane Doe")
    and, for the document's own source, "told Reuters", "Reuters reported" and the like."""
    body = doc.body
    own = doc.source_name
    own = own if own and own.lower() != "unknown" and own in body else None
    if own is None and not any(name in body for name in AGENCIES):
        return []  # no agency named at all: the usual case
    found = []
    if "(" in body:
        found += [(m.start(1), m.end(1)) for m in _PAREN.finditer(body) if m[1] in _AGENCY_NAMES]
    if "/" in body:
        for m in _SLASH_CREDIT.finditer(body):
            name = m[1]
            if name in _AGENCY_NAMES:
                found.append((m.start(1), m.end(1)))
            elif name.split()[-1] in _AGENCY_NAMES:  # "photo Reuters/Jane Doe"
                found.append((m.end(1) - len(name.split()[-1]), m.end(1)))
    if own is not None:
        at = body.find(own)
        while at >= 0:
            end = at + len(own)
            whole = (at == 0 or not body[at - 1].isalnum()) and (
                end == len(body) or not body[end].isalnum()
            )
            if whole and (
                _TOLD.search(body, max(0, at - 20), at) or _SAID_BY.match(body[end : end + 40])
            ):
                found.append((at, end))
            at = body.find(own, end)
    return found


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
