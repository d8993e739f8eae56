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

# Rank first, then highlight only the rows shown: ts_headline re-parses each body.
_SEARCH = f"""
WITH q AS (SELECT websearch_to_tsquery('english', :query) AS query),
hits AS (
    SELECT d.document_id, d.published_on, s.name AS source, d.title, d.body,
           ts_rank_cd(d.search_vector, q.query) AS rank
    FROM documents d JOIN sources s USING (source_id) CROSS JOIN q
    WHERE d.search_vector @@ q.query
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
    ORDER BY rank DESC, d.document_id
    LIMIT :limit
)
SELECT h.document_id, h.published_on, h.source, h.title,
       round(h.rank::numeric, 4)::float8 AS rank,
       ts_headline('english', h.body, q.query,
                   'MaxFragments=2, MaxWords=20, MinWords=8, FragmentDelimiter=" … ", '
                   'StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}') AS snippet
FROM hits h CROSS JOIN q
ORDER BY h.rank DESC, h.document_id
"""


def search_documents(
    conn: Connection,
    query: str,
    source: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 10,
) -> ReportResult:
    """Documents matching ``query`` (``"so-called elections" -Armenia`` style), best first."""
    if not query.strip():
        raise BadArgument("search needs some words, e.g. dbapp search 'oil prices'")
    check_text(query, "the search text")
    params: dict[str, Any] = {
        "query": query,
        "source": resolve_source(conn, source),
        "since": since,
        "until": until,
        "limit": limit,
    }
    result = conn.execute(text(_SEARCH), params)
    rows = [tuple(r) for r in result]
    notes = [] if rows else [f"no document matches {query!r}"]
    if not rows and not conn.scalar(
        text("SELECT numnode(websearch_to_tsquery('english', :q))"), {"q": query}
    ):
        notes = [f"{query!r} holds only stop words ('the', 'and'...), which search ignores"]
    return ReportResult(list(result.keys()), rows, notes)
