"""Curating the entity catalogue; every change keeps mention counts consistent.

Functions take a Connection and run inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Row

from dbapp.catalogue import normalise_alias
from dbapp.errors import BadArgument, DbappError, NotFound, check_name, check_text
from dbapp.models import ENTITY_KINDS


class AmbiguousEntity(DbappError):
    """A name matches entities of several kinds."""

    exit_code = 2


class AliasConflict(DbappError):
    """The alias already names another entity of the same kind."""

    exit_code = 2


@dataclass(frozen=True)
class EntityRef:
    entity_id: int
    kind: str
    canonical_name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.canonical_name} (#{self.entity_id})"


def _check_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    kind = kind.upper()
    if kind not in ENTITY_KINDS:
        raise BadArgument(f"unknown kind {kind!r} (one of: {', '.join(ENTITY_KINDS)})")
    return kind


def find_entity(conn: Connection, name: str, kind: str | None = None) -> EntityRef:
    """An entity by id (``#12``), canonical name or alias, case-insensitively."""
    kind = _check_kind(kind)
    check_text(name, "the entity name")
    if name.startswith("#") and name[1:].isdigit():
        row = conn.execute(
            text("SELECT entity_id, kind, canonical_name FROM entities WHERE entity_id = :i"),
            {"i": int(name[1:])},
        ).one_or_none()
        if row is None:
            raise NotFound(f"no entity {name}")
        return EntityRef(*row)
    norm = normalise_alias(name)
    rows = conn.execute(
        text(
            """SELECT DISTINCT e.entity_id, e.kind, e.canonical_name,
                      lower(e.canonical_name) = lower(:name) AS exact
               FROM entities e LEFT JOIN entity_aliases a USING (entity_id)
               WHERE (lower(e.canonical_name) = lower(:name) OR a.normalised = :norm)
                 AND (CAST(:kind AS text) IS NULL OR e.kind = :kind)
               ORDER BY exact DESC, e.entity_id"""
        ),
        {"name": name, "norm": norm, "kind": kind},
    ).all()
    if not rows:
        raise NotFound(f"no entity named {name!r}" + (f" of kind {kind}" if kind else ""))
    exact = [r for r in rows if r.exact]
    candidates = exact if len(exact) == 1 else rows
    if len(candidates) > 1:
        options = "; ".join(str(EntityRef(r[0], r[1], r[2])) for r in candidates)
        raise AmbiguousEntity(f"{name!r} could be {options}: add --kind or use #ID")
    r = candidates[0]
    return EntityRef(r[0], r[1], r[2])


def list_entities(
    conn: Connection, kind: str | None = None, search: str | None = None, limit: int = 50
) -> list[Row[Any]]:
    """Entities with their mention and document counts, most mentioned first."""
    check_text(search, "--search")
    return list(
        conn.execute(
            text(
                """SELECT e.entity_id, e.kind, e.canonical_name, e.external_id,
                      (SELECT count(*) FROM entity_aliases a WHERE a.entity_id = e.entity_id)
                          AS aliases,
                      count(m.mention_id) AS mentions,
                      count(DISTINCT m.document_id) AS documents
               FROM entities e LEFT JOIN mentions m USING (entity_id)
               WHERE (CAST(:kind AS text) IS NULL OR e.kind = :kind)
                 AND (CAST(:search AS text) IS NULL OR e.canonical_name ILIKE '%' || :search || '%'
                      OR EXISTS (SELECT 1 FROM entity_aliases a WHERE a.entity_id = e.entity_id
                                 AND a.normalised LIKE '%' || lower(:search) || '%'))
               GROUP BY e.entity_id
               ORDER BY mentions DESC, e.kind, e.canonical_name
               LIMIT :limit"""
            ),
            {"kind": _check_kind(kind), "search": search, "limit": limit},
        )
    )


OPENING = 60  # characters of an untitled article's opening that name it


def entity_details(conn: Connection, entity: EntityRef) -> dict[str, Any]:
    """Everything about one entity: fields, aliases, counts by role, top documents."""
    row = conn.execute(
        text("SELECT * FROM entities WHERE entity_id = :i"), {"i": entity.entity_id}
    ).one()
    aliases = conn.execute(
        text(
            "SELECT alias, origin, context_terms FROM entity_aliases WHERE entity_id = :i "
            "ORDER BY entity_alias_id"
        ),
        {"i": entity.entity_id},
    ).all()
    roles = conn.execute(
        text("SELECT role, count(*) FROM mentions WHERE entity_id = :i GROUP BY role ORDER BY 1"),
        {"i": entity.entity_id},
    ).all()
    documents = conn.execute(
        text(
            """SELECT d.document_id, d.published_on, d.title,
                      -- what names an untitled article: its opening words
                      CASE WHEN d.title IS NULL THEN left(d.body, :opening) END AS opening,
                      count(*) AS mentions
               FROM mentions m JOIN documents d USING (document_id)
               WHERE m.entity_id = :i
               GROUP BY d.document_id ORDER BY mentions DESC, d.document_id LIMIT 10"""
        ),
        {"i": entity.entity_id, "opening": OPENING},
    ).all()
    return {"entity": row, "aliases": aliases, "roles": roles, "documents": documents}


def add_alias(conn: Connection, alias: str, entity: EntityRef) -> None:
    """Make ``alias`` a name of ``entity``; run ``dbapp extract`` to find it in stored text."""
    check_name(alias, "the alias")
    norm = normalise_alias(alias)
    if not norm:
        raise DbappError("an alias needs some text")
    owner = conn.execute(
        text(
            "SELECT e.entity_id, e.kind, e.canonical_name FROM entity_aliases a "
            "JOIN entities e USING (entity_id) WHERE a.kind = :k AND a.normalised = :n"
        ),
        {"k": entity.kind, "n": norm},
    ).one_or_none()
    if owner is not None:
        if owner[0] == entity.entity_id:
            raise AliasConflict(f"{alias!r} is already an alias of {entity}")
        raise AliasConflict(
            f"{alias!r} already names {EntityRef(*owner)}; remove it there first "
            "or merge the two entities"
        )
    conn.execute(
        text(
            "INSERT INTO entity_aliases (entity_id, kind, alias, normalised, origin) "
            "VALUES (:i, :k, :a, :n, 'user')"
        ),
        {"i": entity.entity_id, "k": entity.kind, "a": alias, "n": norm},
    )


def remove_alias(conn: Connection, alias: str, kind: str | None = None) -> tuple[EntityRef, int]:
    """Remove an alias and the mentions that used it; returns the entity and mentions removed."""
    norm = normalise_alias(alias)
    rows = conn.execute(
        text(
            "SELECT a.entity_alias_id, e.entity_id, e.kind, e.canonical_name "
            "FROM entity_aliases a JOIN entities e USING (entity_id) "
            "WHERE a.normalised = :n AND (CAST(:k AS text) IS NULL OR a.kind = :k)"
        ),
        {"n": norm, "k": _check_kind(kind)},
    ).all()
    if not rows:
        raise NotFound(f"no alias {alias!r}")
    if len(rows) > 1:
        options = "; ".join(str(EntityRef(r[1], r[2], r[3])) for r in rows)
        raise AmbiguousEntity(f"alias {alias!r} belongs to {options}: add --kind")
    alias_id, *ref = rows[0]
    entity = EntityRef(*ref)
    conn.execute(text("DELETE FROM entity_aliases WHERE entity_alias_id = :i"), {"i": alias_id})
    removed = _delete_mentions_with_surface(conn, norm, entity.entity_id)
    return entity, removed


def _delete_mentions_with_surface(conn: Connection, norm: str, entity_id: int | None) -> int:
    """Delete mentions whose surface normalises to ``norm`` (of one entity, or of all)."""
    candidates = conn.execute(
        text(
            "SELECT document_id, mention_id, surface FROM mentions "
            "WHERE lower(regexp_replace(surface, '\\s+', ' ', 'g')) = :s "
            "AND (CAST(:e AS integer) IS NULL OR entity_id = :e)"
        ),
        {"s": norm, "e": entity_id},
    ).all()
    # SQL narrows the scan; the Python normalisation (NFKC, casefold) has the last word.
    chosen = [(doc, mid) for doc, mid, surface in candidates if normalise_alias(surface) == norm]
    if chosen:
        # By document first: the primary key leads with document_id (mention_id has no index).
        conn.execute(
            text(
                "DELETE FROM mentions m USING unnest(CAST(:docs AS bigint[]), "
                "CAST(:ids AS bigint[])) AS d(document_id, mention_id) "
                "WHERE m.document_id = d.document_id AND m.mention_id = d.mention_id"
            ),
            {"docs": [d for d, _ in chosen], "ids": [m for _, m in chosen]},
        )
    return len(chosen)


@dataclass(frozen=True)
class MergeResult:
    source: EntityRef
    target: EntityRef
    mentions_moved: int
    mentions_dropped: int
    aliases_moved: int


def merge_entities(conn: Connection, source: EntityRef, target: EntityRef) -> MergeResult:
    """Fold ``source`` into ``target``: its mentions and aliases move, its name redirects."""
    if source.entity_id == target.entity_id:
        raise BadArgument(f"cannot merge {source} into itself")
    ids = {"s": source.entity_id, "t": target.entity_id, "tk": target.kind}
    moved = conn.execute(
        text(
            """UPDATE mentions m SET entity_id = :t
               WHERE m.entity_id = :s AND NOT EXISTS (
                   SELECT 1 FROM mentions x WHERE x.entity_id = :t AND x.document_id = m.document_id
                   AND x.start = m.start AND x."end" = m."end")"""
        ),
        ids,
    ).rowcount
    dropped = conn.execute(text("DELETE FROM mentions WHERE entity_id = :s"), ids).rowcount
    aliases = conn.execute(
        text(
            """UPDATE entity_aliases a SET entity_id = :t, kind = :tk
               WHERE a.entity_id = :s AND NOT EXISTS (
                   SELECT 1 FROM entity_aliases x
                   WHERE x.kind = :tk AND x.normalised = a.normalised AND x.entity_id <> :s)"""
        ),
        ids,
    ).rowcount
    conn.execute(text("UPDATE entity_redirects SET entity_id = :t WHERE entity_id = :s"), ids)
    conn.execute(
        text(
            "INSERT INTO entity_redirects (kind, canonical_name, entity_id) VALUES (:k, :n, :t) "
            "ON CONFLICT (kind, canonical_name) DO UPDATE SET entity_id = EXCLUDED.entity_id"
        ),
        {"k": source.kind, "n": source.canonical_name, "t": target.entity_id},
    )
    conn.execute(text("DELETE FROM entities WHERE entity_id = :s"), ids)
    return MergeResult(source, target, moved, dropped, aliases)


def ignore_surface(conn: Connection, surface: str, note: str | None = None) -> int:
    """Stop ``surface`` from ever matching; returns the existing mentions removed."""
    check_text(surface, "the surface")
    norm = normalise_alias(surface)
    if not norm:
        raise DbappError("nothing to ignore")
    conn.execute(
        text(
            "INSERT INTO ignored_surfaces (surface, normalised, note) VALUES (:s, :n, :note) "
            "ON CONFLICT (normalised) DO NOTHING"
        ),
        {"s": surface, "n": norm, "note": note},
    )
    return _delete_mentions_with_surface(conn, norm, None)


def unignore_surface(conn: Connection, surface: str) -> None:
    """Let ``surface`` match again (``dbapp extract`` brings its mentions back)."""
    deleted = conn.execute(
        text("DELETE FROM ignored_surfaces WHERE normalised = :n"),
        {"n": normalise_alias(surface)},
    ).rowcount
    if not deleted:
        raise NotFound(f"{surface!r} is not ignored")
