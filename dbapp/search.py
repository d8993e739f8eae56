"""Full-text search over the stored ``tsvector``: web-search syntax, ranked, with snippets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import BadArgument, check_text
from dbapp.report import ReportResult, resolve_source

HIGHLIGHT_START = "«"
HIGHLIGHT_STOP = "»"

SORTS = ("rank", "newest", "oldest")
_ORDER = {
    "rank": "rank DESC, d.document_id",
    "newest": "d.published_on DESC NULLS LAST, d.document_id DESC",
    "oldest": "d.published_on ASC NULLS LAST, d.document_id",
}
_OUTER_ORDER = {
    "rank": "h.rank DESC, h.document_id",
    "newest": "h.published_on DESC NULLS LAST, h.document_id DESC",
    "oldest": "h.published_on ASC NULLS LAST, h.document_id",
}
# The documents a search matches; every form of it (rows, count, facets) filters the same way.
_MATCHES = """
    FROM documents d JOIN sources s USING (source_id) CROSS JOIN q
    WHERE d.search_vector @@ q.query
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
      AND (CAST(:entity_id AS integer) IS NULL OR EXISTS (
          SELECT 1 FROM mentions m
          WHERE m.document_id = d.document_id AND m.entity_id = CAST(:entity_id AS integer)))
"""
_Q = "WITH q AS (SELECT websearch_to_tsquery('english', :query) AS query)"


# Ranking reads every candidate's tsvector (TOASTed, ~2 KB each): ranking all the matches of
# a common word at a million articles took seconds. So "ranked" means: the RANK_WINDOW newest
# matches, best first. Counting stops at COUNT_CAP ("more than 10,000 documents match").
RANK_WINDOW = 1000
COUNT_CAP = 10_000


def _search_sql(sort: str) -> str:
    # Rank (or sort) first, then highlight only the rows shown: ts_headline re-parses a body.
    if sort == "rank":
        hits = f"""
candidates AS (
    SELECT d.document_id
    {_MATCHES}
    ORDER BY d.published_on DESC NULLS LAST, d.document_id DESC
    LIMIT :window
),
hits AS (
    SELECT d.document_id, d.published_on, s.name AS source, d.title, d.body,
           ts_rank_cd(d.search_vector, q.query) AS rank
    FROM candidates c JOIN documents d USING (document_id)
    JOIN sources s ON s.source_id = d.source_id CROSS JOIN q
    ORDER BY rank DESC, d.document_id
    LIMIT :limit
)"""
    else:
        hits = f"""
hits AS (
    SELECT d.document_id, d.published_on, s.name AS source, d.title, d.body,
           ts_rank_cd(d.search_vector, q.query) AS rank
    {_MATCHES}
    ORDER BY {_ORDER[sort]}
    LIMIT :limit
)"""
    return f"""
{_Q},{hits}
SELECT h.document_id, h.published_on, h.source, h.title,
       round(h.rank::numeric, 4)::float8 AS rank,
       ts_headline('english', h.body, q.query,
                   'MaxFragments=2, MaxWords=20, MinWords=8, FragmentDelimiter=" … ", '
                   'StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}') AS snippet
FROM hits h CROSS JOIN q
ORDER BY {_OUTER_ORDER[sort]}
"""


FACET_SAMPLE = 1000  # documents whose entities make the entity facet


def _params(
    conn: Connection,
    query: str,
    source: str | None,
    since: dt.date | None,
    until: dt.date | None,
    entity: str | None,
) -> dict[str, Any]:
    from dbapp.entities import find_entity

    if not query.strip():
        raise BadArgument("search needs some words, e.g. dbapp search 'oil prices'")
    check_text(query, "the search text")
    check_text(entity, "--entity")
    if entity is not None and not entity.strip():
        raise BadArgument("--entity is empty: give a name, an alias or #ID")
    if since and until and since > until:
        raise BadArgument("--since is after --until")
    return {
        "query": query,
        "source": resolve_source(conn, source),
        "since": since,
        "until": until,
        "entity_id": find_entity(conn, entity).entity_id if entity else None,
    }


def search_documents(
    conn: Connection,
    query: str,
    source: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 10,
    entity: str | None = None,
    sort: str = "rank",
) -> ReportResult:
    """Documents matching ``query`` (``"so-called elections" -Armenia`` style), best first (or
    newest or oldest first), with the number of all matches in the notes."""
    if sort not in SORTS:
        raise BadArgument(f"--sort must be one of {', '.join(SORTS)}")
    params = _params(conn, query, source, since, until, entity) | {
        "limit": limit,
        "window": max(RANK_WINDOW, limit),
        "cap": COUNT_CAP + 1,
    }
    result = conn.execute(text(_search_sql(sort)), params)
    rows = [tuple(r) for r in result]
    if not rows:
        narrowed = [f"--{k} {v}" for k, v in (("entity", entity), ("source", source)) if v]
        narrowed += ["the dates given"] if since or until else []
        notes = [
            f"no document matches {query!r}" + (f" with {', '.join(narrowed)}" if narrowed else "")
        ]
        if not conn.scalar(
            text("SELECT numnode(websearch_to_tsquery('english', :q))"), {"q": query}
        ):
            notes = [f"{query!r} holds only stop words ('the', 'and'...), which search ignores"]
        return ReportResult(list(result.keys()), rows, notes)
    total = len(rows)
    if total == limit:  # there may be more: count them, up to the cap
        total = int(
            conn.scalar(
                text(f"{_Q} SELECT count(*) FROM (SELECT 1 {_MATCHES} LIMIT :cap) x"), params
            )
            or 0
        )
    shown = f"showing {len(rows)}, " if total > len(rows) else ""
    noun = "document matches" if total == 1 else "documents match"
    counted = f"more than {COUNT_CAP:,}" if total > COUNT_CAP else f"{total:,}"
    how = f"sorted by {sort}"
    if sort == "rank" and total > params["window"]:
        how = f"best first among the {params['window']:,} newest matches"
    notes = [f"{counted} {noun} ({shown}{how})"]
    return ReportResult(list(result.keys()), rows, notes, total if total <= COUNT_CAP else None)


def search_facets(
    conn: Connection,
    query: str,
    source: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    entity: str | None = None,
    top: int = 10,
) -> dict[str, ReportResult]:
    """The matches counted by source and by month, and the entities most mentioned in them
    (in a random sample of up to FACET_SAMPLE matching documents when there are more)."""
    params = _params(conn, query, source, since, until, entity) | {
        "top": top,
        "sample": FACET_SAMPLE,
    }
    by_source = conn.execute(
        text(
            f"{_Q} SELECT s.name AS source, count(*) AS documents {_MATCHES} "
            "GROUP BY s.name ORDER BY documents DESC, source"
        ),  # fmt: skip
        params,
    )
    by_month = conn.execute(
        text(
            f"{_Q} SELECT to_char(date_trunc('month', d.published_on), 'YYYY-MM') AS month, "
            f"count(*) AS documents {_MATCHES} GROUP BY 1 ORDER BY 1 NULLS LAST"
        ),  # fmt: skip
        params,
    )
    total = int(conn.scalar(text(f"{_Q} SELECT count(*) {_MATCHES}"), params) or 0)
    entities = conn.execute(
        text(
            f"""{_Q}, matched AS (
                SELECT d.document_id {_MATCHES}
                ORDER BY md5(d.document_id::text || :query) LIMIT :sample
            )
            SELECT e.canonical_name AS entity, e.kind, count(DISTINCT m.document_id) AS documents,
                   round(count(DISTINCT m.document_id)::numeric
                         / (SELECT count(*) FROM matched), 4)::float8 AS share_of_documents
            FROM matched JOIN mentions m USING (document_id)
            JOIN entities e ON e.entity_id = m.entity_id AND m.role <> 'byline'
            GROUP BY e.entity_id, e.canonical_name, e.kind
            ORDER BY documents DESC, entity LIMIT :top"""
        ),
        params,
    )
    sampled = (
        [f"entities counted in a random sample of {FACET_SAMPLE:,} of the {total:,} matches"]
        if total > FACET_SAMPLE
        else []
    )
    return {
        "sources": ReportResult(list(by_source.keys()), [tuple(r) for r in by_source]),
        "months": ReportResult(list(by_month.keys()), [tuple(r) for r in by_month]),
        "entities": ReportResult(list(entities.keys()), [tuple(r) for r in entities], sampled),
    }
