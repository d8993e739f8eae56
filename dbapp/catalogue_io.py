"""A user's own entities: add one, import a list (CSV or JSON Lines), export the catalogue.

One row or object per entity: ``name``, ``kind``, ``aliases`` (a JSON list, or ``;``-separated
in CSV), ``external_id``, ``description``, and ``match_name`` (default true: the name itself is
matched in text; false for a label that is no alias, as some shipped entities have).
Importing is idempotent: an entity that exists gets the aliases and fields it lacks; a bad
row is reported with its line and nothing of it is written, and the good rows still are.
Functions take a Connection (the caller's transaction).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.catalogue import normalise_alias
from dbapp.entities import AliasConflict, EntityRef, _check_kind
from dbapp.errors import BadArgument, DbappError, check_name, check_text

FIELDS = ("name", "kind", "aliases", "external_id", "description", "match_name")


@dataclass(frozen=True)
class EntitySpec:
    """An entity as a user writes it down."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    external_id: str | None = None
    description: str | None = None
    match_name: bool = True  # the name itself is an alias (false for a label-only name)


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    aliases_added: int = 0
    errors: list[str] = field(default_factory=list)
    # Names that are also another kind's alias: where both match, the kind first in the
    # gazetteer's order wins ("Chicago" as an ORG takes the city's mentions).
    shared: list[str] = field(default_factory=list)


@dataclass
class Added:
    """What add_entity did: the entity, whether it is new, how many aliases it gained, and
    whether its external id or description changed."""

    entity: EntityRef
    new: bool
    aliases: int
    changed: bool = False


def add_entity(conn: Connection, spec: EntitySpec) -> Added:
    """Create (or complete) an entity and its aliases. An alias that names another entity of
    the kind is refused, and so is a new entity that would have no name of its own to match.
    A given external id or description replaces the stored one."""
    name = " ".join(spec.name.split())
    if not name:
        raise BadArgument("an entity needs a name")
    check_name(name, "the name")
    check_text(spec.external_id, "--external-id")
    check_text(spec.description, "--description")
    for alias in spec.aliases:
        check_name(alias, "an alias")
    kind = _check_kind(spec.kind)
    assert kind is not None
    given_names = [" ".join(a.split()) for a in spec.aliases if a.strip()]
    aliases = list(dict.fromkeys([name, *given_names] if spec.match_name else given_names))
    owners = conn.execute(
        text(
            "SELECT a.normalised, e.entity_id, e.kind, e.canonical_name FROM entity_aliases a "
            "JOIN entities e USING (entity_id) WHERE a.kind = :k AND a.normalised = ANY(:n)"
        ),
        {"k": kind, "n": [normalise_alias(a) for a in aliases]},
    ).all()
    given = {normalise_alias(a) for a in spec.aliases}
    values = {"k": kind, "n": name, "x": spec.external_id, "d": spec.description}
    stored = conn.execute(
        text(
            "SELECT entity_id, external_id, description FROM entities "
            "WHERE kind = :k AND canonical_name = :n FOR UPDATE"
        ),
        values,
    ).first()
    changed = False
    if stored is None:
        free = [a for a in aliases if normalise_alias(a) not in {n for n, *_ in owners}]
        if aliases and not free:
            # Every name it could match is another entity's: it would never be found.
            owner = next(EntityRef(*o) for n, *o in owners if n == normalise_alias(aliases[0]))
            raise AliasConflict(
                f"{name!r} already names {owner}: add your names to it "
                f"(dbapp entities alias add NAME '{owner.canonical_name}'), or give --alias"
            )
        # The INSERT's ON CONFLICT covers a concurrent add of the same entity.
        row = conn.execute(
            text(
                "INSERT INTO entities (kind, canonical_name, external_id, description) "
                "VALUES (:k, :n, :x, :d) ON CONFLICT (kind, canonical_name) DO UPDATE SET "
                "external_id = coalesce(EXCLUDED.external_id, entities.external_id), "
                "description = coalesce(EXCLUDED.description, entities.description) "
                "RETURNING entity_id, (xmax = 0) AS inserted"
            ),
            values,
        ).one()
        entity_id, new = int(row[0]), bool(row[1])
    else:
        # An entity that exists is completed by an UPDATE, and only where a value changes:
        # an INSERT ... ON CONFLICT would draw (and waste) an id on every re-run.
        entity_id, new = int(stored[0]), False
        changed = (spec.external_id is not None and spec.external_id != stored[1]) or (
            spec.description is not None and spec.description != stored[2]
        )
        if changed:
            conn.execute(
                text(
                    "UPDATE entities SET external_id = coalesce(:x, external_id), "
                    "description = coalesce(:d, description) WHERE entity_id = :i"
                ),
                values | {"i": entity_id},
            )
    entity = EntityRef(entity_id, kind, name)
    # The name itself becomes an alias only where it is free: in the shipped catalogue an
    # entity's name can be another entity's alias ("Organization of the Petroleum Exporting
    # Countries"). Aliases given explicitly must be free.
    taken = {n: o for n, *o in owners if o[0] != entity.entity_id}
    aliases = [a for a in aliases if normalise_alias(a) not in taken or normalise_alias(a) in given]
    foreign = [f"{n!r} names {EntityRef(*o)}" for n, o in taken.items() if n in given]
    if foreign:
        raise AliasConflict(
            "; ".join(foreign) + ": remove that alias first, or merge the two entities"
        )
    mine = {n for n, *o in owners if o[0] == entity.entity_id}
    added = 0
    for alias in aliases:
        norm = normalise_alias(alias)
        if norm and norm not in mine:
            added += conn.execute(
                text(
                    "INSERT INTO entity_aliases (entity_id, kind, alias, normalised, origin) "
                    "VALUES (:i, :k, :a, :n, 'user') ON CONFLICT (kind, normalised) DO NOTHING"
                ),
                {"i": entity.entity_id, "k": kind, "a": alias, "n": norm},
            ).rowcount
            mine.add(norm)
    return Added(entity, new, added, changed)


def _spec(values: dict[str, Any]) -> EntitySpec:
    lowered = {str(k).strip().lower(): v for k, v in values.items()}
    unknown = set(lowered) - set(FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(sorted(unknown))} (fields: {', '.join(FIELDS)})"
        )
    name, kind = lowered.get("name"), lowered.get("kind")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("no name")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("no kind")
    aliases = lowered.get("aliases") or []
    if isinstance(aliases, str):
        aliases = aliases.split(";")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError("aliases must be a list of strings (or ;-separated in CSV)")

    def opt(key: str) -> str | None:
        value = lowered.get(key)
        if value in (None, ""):
            return None
        if not isinstance(value, str | int):
            raise ValueError(f"{key} must be text")
        return str(value)

    match = lowered.get("match_name", True)
    if isinstance(match, str):
        if match.strip().lower() not in ("", "true", "false", "yes", "no", "1", "0"):
            raise ValueError("match_name must be true or false")
        match = match.strip().lower() in ("", "true", "yes", "1")
    if not isinstance(match, bool):
        raise ValueError("match_name must be true or false")
    return EntitySpec(name, kind, tuple(a.strip() for a in aliases if a.strip()),
                      opt("external_id"), opt("description"), match)  # fmt: skip


def read_specs(data: bytes, fmt: str) -> Iterator[tuple[int, EntitySpec | str]]:
    """(line, spec) per row of a CSV or JSON Lines file, or (line, why) for a bad row."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, f"not UTF-8 (byte {exc.start})"
        return
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content, newline=""))
        for row in reader:
            line = reader.line_num
            try:
                if None in row:
                    raise ValueError("more fields than the header has")
                yield line, _spec(dict(row))
            except ValueError as exc:
                yield line, str(exc)
        return
    for line, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            yield line, _spec(value)
        except (ValueError, RecursionError) as exc:
            yield line, str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"


def _priority(kind: str) -> int:
    from dbapp.extract.gazetteer import KIND_PRIORITY

    return KIND_PRIORITY.index(kind) if kind in KIND_PRIORITY else len(KIND_PRIORITY)


def shared_aliases(conn: Connection, entity: EntityRef) -> list[str]:
    """The entity's aliases that another kind's entity also has, said as a warning."""
    return [
        f"{alias!r} of {entity} is also {other}: where both match, the "
        f"{min(entity.kind, other.kind, key=_priority)} is taken"
        for alias, other in (
            (r[0], EntityRef(int(r[1]), r[2], r[3]))
            for r in conn.execute(
                text(
                    "SELECT a.alias, b.entity_id, b.kind, e.canonical_name "
                    "FROM entity_aliases a JOIN entity_aliases b "
                    "ON b.normalised = a.normalised AND b.kind <> a.kind "
                    "JOIN entities e ON e.entity_id = b.entity_id "
                    "WHERE a.entity_id = :i ORDER BY a.alias, b.kind"
                ),
                {"i": entity.entity_id},
            )
        )
    ]


def import_entities(
    conn: Connection, rows: Iterable[tuple[int, EntitySpec | str]], where: str
) -> ImportResult:
    """Add or complete every good row (each in a savepoint); bad rows become errors."""
    result = ImportResult()
    for line, spec in rows:
        if isinstance(spec, str):
            result.errors.append(f"{where}:{line}: {spec}")
            continue
        try:
            with conn.begin_nested():
                done = add_entity(conn, spec)
        except DbappError as exc:
            result.errors.append(f"{where}:{line}: {exc}")
            continue
        result.aliases_added += done.aliases
        result.shared += shared_aliases(conn, done.entity)
        if done.new:
            result.added += 1
        elif done.aliases or done.changed:
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def export_entities(conn: Connection, fmt: str, include_extracted: bool = False) -> Iterator[str]:
    """The catalogue in the import format, one entity per line (CSV with a header)."""
    rows = conn.execute(
        text(
            "SELECT e.canonical_name, e.kind, e.external_id, e.description, "
            "array_agg(a.alias ORDER BY a.entity_alias_id) FILTER (WHERE a.alias IS NOT NULL) "
            "FROM entities e LEFT JOIN entity_aliases a ON a.entity_id = e.entity_id "
            "AND (:all OR a.origin IS DISTINCT FROM 'extracted') "
            "GROUP BY e.entity_id ORDER BY e.kind, e.canonical_name"
        ),
        {"all": include_extracted},
    )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(FIELDS)
        yield buffer.getvalue()
    for name, kind, external_id, description, aliases in rows:
        others = [a for a in (aliases or []) if a != name]
        match_name = name in (aliases or [])
        if not aliases and not include_extracted:
            continue  # only names extraction made up (byline authors): not catalogue
        if fmt == "csv":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(
                [
                    name,
                    kind,
                    ";".join(others),
                    external_id or "",
                    description or "",
                    "true" if match_name else "false",
                ]  # fmt: skip
            )
            yield buffer.getvalue()
        else:
            item = {"name": name, "kind": kind, "aliases": others,
                    "external_id": external_id, "description": description}  # fmt: skip
            if not match_name:
                item["match_name"] = False
            yield json.dumps(item, ensure_ascii=False) + "\n"
