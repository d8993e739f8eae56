"""Full-text search over the stored ``tsvector``: web-search syntax, ranked, with snippets."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import BadArgument, check_query, check_text
from dbapp.report import (
    REPORT_WORK_MEM,
    STOP_WORDS_ONLY,
    TAG_MATCH,
    ReportResult,
    only_stop_words,
    resolve_source,
    tag_and_language,
)

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


# Ranking or sorting every match of a common word (or checking every candidate of a phrase
# against its positions) reads each one's tsvector (~2.7 KB): seconds at a million articles.
# So a search walks the archive in windows of publication dates, newest (or oldest) first, each
# window about GROWTH times the articles of the one before, and stops once it has
# what it shows: the newest RANK_WINDOW matches to rank, or the page to sort. Work follows
# what is shown, not how common the words are. The total is exact when every window was read,
# otherwise estimated from the share of matches among the articles read (and said so).
RANK_WINDOW = 1000
FIRST_WINDOW = 2_000  # articles in the first window
GROWTH = 3
ESTIMATE_FROM = 1000  # read on until this many matches, so an estimate has a base


@dataclass
class _Scan:
    """What walking the windows found: matches newest (or oldest) first, how many articles
    the windows read held, and whether they were all read."""

    matches: list[tuple[int, dt.date | None]]
    read: int
    complete: bool
    scope: int | None = None  # the articles in scope, when known exactly
    unread: str | None = None  # SQL condition on d: the articles in scope not read
    unread_ids: list[int] | None = None  # or those articles themselves (the entity's)
    edge: dt.date | None = None  # the date the unread articles lie beyond (:edge in unread)


def _filters(params: dict[str, Any]) -> str:
    """The WHERE clause of the documents a search matches: only the filters given, so the
    planner sees plain conditions."""
    where = ["d.search_vector @@ q.query"]
    if params["since"] is not None:
        where.append("d.published_on >= :since")
    if params["until"] is not None:
        where.append("d.published_on <= :until")
    if params["source"] is not None:
        where.append("d.source_id = (SELECT source_id FROM sources WHERE name = :source)")
    if params["entity_id"] is not None:
        where.append(
            "EXISTS (SELECT 1 FROM mentions m WHERE m.document_id = d.document_id "
            "AND m.entity_id = :entity_id)"
        )
    if params.get("tag") is not None:
        where.append(
            "EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.document_id "
            f"AND {TAG_MATCH})"
        )
    if params.get("language") is not None:
        where.append("d.language = :language")
    return " AND ".join(where)


def _counts(params: dict[str, Any]) -> tuple[str, str]:
    """The per-day article counts a search's windows are cut from: of the entity's articles
    with --entity, else of all (in --source)."""
    if params["entity_id"] is not None:
        table = "summary_entity_days WHERE entity_id = :entity_id"
    else:
        table = "summary_source_days WHERE true"
    if params["source"] is not None:
        table += " AND source_id = (SELECT source_id FROM sources WHERE name = :source)"
    return f"SELECT day, sum(documents)::bigint AS n FROM {table}", "GROUP BY day"


def _windows(
    conn: Connection, params: dict[str, Any], oldest: bool
) -> list[tuple[dt.date | None, dt.date | None, int]]:
    """Date windows ``(first_day, last_day, articles)`` newest (or oldest) first; None is
    open-ended. Sizes come from the per-day summaries; a stale summary only makes windows
    uneven, never loses a match (the ends are open)."""
    select, group = _counts(params)
    days = conn.execute(
        text(
            f"{select} AND day IS NOT NULL"
            + (" AND day >= :since" if params["since"] else "")
            + (" AND day <= :until" if params["until"] else "")
            + f" {group} ORDER BY day {'ASC' if oldest else 'DESC'}"
        ),
        params,
    ).all()
    windows: list[tuple[dt.date | None, dt.date | None, int]] = []
    edge: dt.date | None = None  # where the previous window ended (exclusive)
    held, size = 0, FIRST_WINDOW
    for day, n in days:
        held += int(n)
        if held >= size:
            # newest first: [day, edge); oldest first: (edge, day]
            windows.append((day, edge, held) if not oldest else (edge, day, held))
            edge, held, size = day, 0, size * GROWTH
    windows.append((None, edge, held) if not oldest else (edge, None, held))
    return windows


ENTITY_ARTICLES = 100_000  # --entity in at most this many articles: walk its own articles


def _scan_entity(conn: Connection, params: dict[str, Any], oldest: bool, need: int) -> _Scan | None:
    """A phrase with --entity of up to ENTITY_ARTICLES articles: the entity's articles (dated
    once, from the mentions index), newest (or oldest) first, checked against the words in
    growing chunks, so the phrase is re-checked only in the entity's articles, never in every
    article that has both words. None otherwise: the date windows serve it better."""
    if params["entity_id"] is None:
        return None
    # Single words are checked from the index alone, and the date windows serve them well;
    # a phrase must re-read each candidate's positions, so fewer candidates win.
    phrase = conn.scalar(
        text("SELECT position('<->' IN websearch_to_tsquery('english', :query)::text) > 0"),
        params,
    )
    if not phrase:
        return None
    count = conn.scalar(
        text("SELECT sum(documents) FROM summary_entity_days WHERE entity_id = :entity_id"),
        params,
    )
    if int(count or 0) > ENTITY_ARTICLES:
        return None
    scope = ["d.document_id = ANY(:ids)"]
    scope += ["d.published_on >= :since"] if params["since"] is not None else []
    scope += ["d.published_on <= :until"] if params["until"] is not None else []
    if params["source"] is not None:
        scope.append("d.source_id = (SELECT source_id FROM sources WHERE name = :source)")
    ids = list(
        conn.scalars(
            text("SELECT DISTINCT document_id FROM mentions WHERE entity_id = :entity_id"), params
        )
    )
    dated = conn.execute(
        text(f"SELECT d.document_id, d.published_on FROM documents d WHERE {' AND '.join(scope)}"),
        params | {"ids": ids},
    ).all()
    undated = [(r[0], r[1]) for r in dated if r[1] is None]
    ordered = sorted(((r[0], r[1]) for r in dated if r[1] is not None), key=lambda r: (r[1], r[0]))
    ordered = (ordered if oldest else ordered[::-1]) + sorted(undated, reverse=not oldest)
    words = _filters({**params, "entity_id": None, "since": None, "until": None, "source": None})
    found: list[tuple[int, dt.date | None]] = []
    start, size = 0, FIRST_WINDOW
    while start < len(ordered):
        chunk = ordered[start : start + size]
        hits = set(
            conn.scalars(
                text(
                    f"{_Q} SELECT d.document_id FROM documents d CROSS JOIN q "
                    f"WHERE d.document_id = ANY(:chunk) AND {words}"
                ),  # fmt: skip
                params | {"chunk": [i for i, _ in chunk]},
            )
        )
        found += [c for c in chunk if c[0] in hits]
        start += len(chunk)
        size *= GROWTH
        if len(found) >= max(need, ESTIMATE_FROM) and start < len(ordered):
            rest = [i for i, _ in ordered[start:]]
            return _Scan(found, start, False, len(ordered), unread_ids=rest)
    return _Scan(found, len(ordered), complete=True, scope=len(ordered))


def _scan(conn: Connection, params: dict[str, Any], sort: str, need: int) -> _Scan:
    """Matches, window by window, until ``need`` (and ESTIMATE_FROM) are found or all read."""
    by_entity = _scan_entity(conn, params, sort == "oldest", need)
    if by_entity is not None:
        return by_entity
    oldest = sort == "oldest"
    where = _filters(params)
    found: list[tuple[int, dt.date | None]] = []
    read = 0
    windows = _windows(conn, params, oldest)
    select, group = _counts(params)
    undated_days = conn.execute(text(f"{select} AND day IS NULL {group}"), params)
    undated = sum(int(n) for _, n in undated_days)
    steps = [(lo, hi, n, False) for lo, hi, n in windows]
    if params["since"] is None and params["until"] is None:
        steps.append((None, None, undated, True))  # undated articles sort last either way
    for i, (lo, hi, n, nulls) in enumerate(steps):
        if nulls:
            bounds = "d.published_on IS NULL"
        else:
            # newest first: lo <= day < hi; oldest first: lo < day <= hi
            low = (">" if oldest else ">=") if lo is not None else None
            high = ("<=" if oldest else "<") if hi is not None else None
            parts = ["d.published_on IS NOT NULL"]
            parts += [f"d.published_on {low} :lo"] if low else []
            parts += [f"d.published_on {high} :hi"] if high else []
            bounds = " AND ".join(parts)
        rows = conn.execute(
            text(
                f"{_Q} SELECT d.document_id, d.published_on FROM documents d CROSS JOIN q "
                f"WHERE {where} AND {bounds}"
            ),  # fmt: skip
            params | {"lo": lo, "hi": hi},
        )
        found += sorted(
            ((r[0], r[1]) for r in rows), key=lambda r: (r[1], r[0]), reverse=not oldest
        )
        read += n
        unread = any(later[2] for later in steps[i + 1 :])
        if len(found) >= max(need, ESTIMATE_FROM) and unread:
            edge = hi if oldest else lo  # the read windows end here; undated are never read yet
            if nulls or edge is None:
                rest = "d.published_on IS NULL"
            else:
                rest = f"(d.published_on {'>' if oldest else '<'} :edge OR d.published_on IS NULL)"
            return _Scan(found, read, complete=False, unread=rest, edge=edge)
    return _Scan(found, read, complete=True)


def _in_scope(conn: Connection, params: dict[str, Any]) -> int:
    """The articles in the search's scope (dates, source, entity) by the summaries."""
    select, group = _counts(params)
    since = " AND day >= :since" if params["since"] else ""
    until = " AND day <= :until" if params["until"] else ""
    days = conn.execute(text(f"{select}{since}{until} {group}"), params)
    return sum(int(n) for _, n in days)


def _all_articles(conn: Connection) -> int:
    """Every article in the database, by the summaries (what a random page sample is of)."""
    return int(
        conn.scalar(text("SELECT coalesce(sum(documents), 0) FROM summary_source_days")) or 0
    )


def _total(conn: Connection, params: dict[str, Any], scan: _Scan) -> tuple[int, bool]:
    """``(matches, exact)``: counted when the scan read everything, else estimated from the
    share of matches among the articles read."""
    if scan.complete:
        return len(scan.matches), True
    # News bunches in time (a story breaks, then fades): the share of matches among the newest
    # articles says little of the older ones. So the articles not read are sampled at random.
    rest = _estimate_unread(conn, params, scan)
    if rest is not None:
        return len(scan.matches) + rest, False
    if scan.scope is not None:
        return max(len(scan.matches), round(len(scan.matches) / scan.read * scan.scope)), False
    estimate = len(scan.matches) / max(scan.read, 1) * _in_scope(conn, params)
    return max(len(scan.matches), round(estimate)), False


UNREAD_SAMPLE = 20_000  # articles sampled at random to estimate the matches not read


def _estimate_unread(conn: Connection, params: dict[str, Any], scan: _Scan) -> int | None:
    """The matches among the articles the scan did not read, estimated from a random sample
    of them; None when the sample holds none of them (the share read stands then)."""
    if scan.unread_ids is not None:
        ids = scan.unread_ids
        sample = random.Random(0).sample(ids, min(len(ids), UNREAD_SAMPLE // 10))
        words = _filters(
            {**params, "entity_id": None, "since": None, "until": None, "source": None}
        )
        hits = conn.scalar(
            text(
                f"{_Q} SELECT count(*) FROM documents d CROSS JOIN q "
                f"WHERE d.document_id = ANY(:sample) AND {words}"
            ),  # fmt: skip
            params | {"sample": sample},
        )
        return round(int(hits or 0) / max(len(sample), 1) * len(ids))
    if scan.unread is None:
        return None
    everything = _all_articles(conn)
    percent = min(100.0, 100.0 * UNREAD_SAMPLE / max(everything, 1))
    base = _filters(params).replace("d.search_vector @@ q.query", "true")
    row = conn.execute(
        text(
            f"{_Q} SELECT count(*), count(*) FILTER (WHERE d.search_vector @@ q.query) "
            f"FROM documents d TABLESAMPLE SYSTEM (:percent) REPEATABLE (20261126) CROSS JOIN q "
            f"WHERE {base} AND {scan.unread}"
        ),
        params | {"percent": percent, "edge": scan.edge},
    ).one()
    sampled, hits = int(row[0]), int(row[1])
    if sampled == 0:
        return None
    unread = (
        int(
            conn.scalar(
                text(f"SELECT count(*) FROM documents d WHERE {base} AND {scan.unread}"),
                params | {"edge": scan.edge},
            )
            or 0
        )
        if percent >= 100
        else round(sampled * 100.0 / percent)
    )
    return round(hits / sampled * unread)


def _search_sql(sort: str) -> str:
    # Rank (or sort) the chosen documents, then highlight only the rows shown: ts_headline
    # re-parses a body.
    order = "rank DESC, d.document_id" if sort == "rank" else _ORDER[sort]
    return f"""
{_Q},
hits AS (
    SELECT d.document_id, d.published_on, s.name AS source, d.title, d.body,
           ts_rank_cd(d.search_vector, q.query) AS rank
    FROM documents d JOIN sources s USING (source_id) CROSS JOIN q
    WHERE d.document_id = ANY(:ids)
    ORDER BY {order}
    LIMIT :limit
)
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
    tag: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    from dbapp.entities import find_entity

    if not query.strip():
        raise BadArgument("search needs some words, e.g. dbapp search 'oil prices'")
    check_query(query, "the search text")
    check_text(entity, "--entity")
    check_text(tag, "--tag")
    check_text(language, "--language")
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
        **dict(zip(("tag", "language"), tag_and_language(tag, language), strict=True)),
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
    tag: str | None = None,
    language: str | None = None,
) -> ReportResult:
    """Documents matching ``query`` (``"so-called elections" -Armenia`` style), best first (or
    newest or oldest first), with the number of all matches in the notes."""
    if sort not in SORTS:
        raise BadArgument(f"--sort must be one of {', '.join(SORTS)}")
    params = _params(conn, query, source, since, until, entity, tag, language)
    # Room for exact bitmaps: a common word's candidates overflow the default 4 MB, and a
    # lossy bitmap rechecks every row of its pages, candidates or not.
    conn.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    window = max(RANK_WINDOW, limit)
    scan = _scan(conn, params, sort, window if sort == "rank" else limit)
    chosen = scan.matches[:window] if sort == "rank" else scan.matches[:limit]
    result = conn.execute(
        text(_search_sql(sort)), params | {"ids": [i for i, _ in chosen], "limit": limit}
    )
    rows = [tuple(r) for r in result]
    if not rows:
        given = (("entity", entity), ("source", source), ("tag", tag), ("language", language))
        narrowed = [f"--{k} {v}" for k, v in given if v]
        narrowed += ["the dates given"] if since or until else []
        notes = [
            f"no document matches {query!r}" + (f" with {', '.join(narrowed)}" if narrowed else "")
        ]
        if only_stop_words(conn, query):
            notes = [f"{query!r} {STOP_WORDS_ONLY}"]
        return ReportResult(list(result.keys()), rows, notes, 0)
    total, exact = _total(conn, params, scan)
    shown = f"showing {len(rows)}, " if total > len(rows) else ""
    noun = "document matches" if total == 1 else "documents match"
    counted = f"{total:,}" if exact else f"about {_round(total):,}"
    end = "oldest" if sort == "oldest" else "newest"
    how = f"sorted by {sort}"
    if sort == "rank" and total > window:
        how = f"best first among the {window:,} newest matches"
    basis = "" if exact else f"; counted in the {scan.read:,} {end} articles, estimated beyond"
    notes = [f"{counted} {noun} ({shown}{how}{basis})"]
    return ReportResult(list(result.keys()), rows, notes, total if exact else None)


def _round(n: int) -> int:
    """An estimate to two significant figures (53,412 -> 53,000)."""
    if n < 100:
        return n
    scale = 10 ** (len(str(n)) - 2)
    return round(n / scale) * scale


FACET_EXACT = 2_000  # up to this many matches, facets count every one
FACET_SAMPLE_ARTICLES = 20_000  # beyond, a random sample of about this many articles


def _facet_ids(conn: Connection, params: dict[str, Any]) -> tuple[list[int], float, str | None]:
    """``(ids, scale, note)``: every match when there are at most FACET_EXACT; else the
    matches in a random sample of the articles in scope, ``scale`` to multiply their counts
    by, and a note saying so."""
    scan = _scan(conn, params, "newest", FACET_EXACT)
    if scan.complete:
        return [i for i, _ in scan.matches], 1.0, None
    everything = _all_articles(conn)
    percent = min(100.0, 100.0 * FACET_SAMPLE_ARTICLES / max(everything, 1))
    # Every sampled article stands for everything / sampled articles: the scale owes nothing to
    # the summaries' view of the scope (they leave bylines out; --entity does not).
    rows = conn.execute(
        text(
            f"{_Q} SELECT d.document_id, ({_filters(params)}) AS hit "
            f"FROM documents d TABLESAMPLE SYSTEM (:percent) REPEATABLE (20261126) CROSS JOIN q"
        ),
        params | {"percent": percent},
    ).all()
    hits = [r[0] for r in rows if r[1]]
    scale = everything / max(len(rows), 1)
    note = (
        f"about {len(scan.matches) and _round(round(len(hits) * scale)):,} matches: counts "
        f"estimated from the {len(hits):,} matches among {len(rows):,} articles sampled at "
        "random"
    )
    return hits, scale, note


def search_facets(
    conn: Connection,
    query: str,
    source: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    entity: str | None = None,
    top: int = 10,
    tag: str | None = None,
    language: str | None = None,
) -> dict[str, ReportResult]:
    """The matches counted by source and by month, and the entities most mentioned in them
    (in a random sample of up to FACET_SAMPLE matching documents when there are more). Past
    FACET_EXACT matches, the counts are estimated from a random sample of the articles."""
    params = _params(conn, query, source, since, until, entity, tag, language)
    conn.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    ids, scale, note = _facet_ids(conn, params)

    def scaled(sql: str) -> ReportResult:
        result = conn.execute(text(sql), {"ids": ids})
        rows = [(key, round(n * scale)) for key, n in result]
        return ReportResult(list(result.keys()), rows, [note] if note else [])

    by_source = scaled(
        "SELECT s.name AS source, count(*) AS documents FROM documents d "
        "JOIN sources s USING (source_id) WHERE d.document_id = ANY(:ids) "
        "GROUP BY s.name ORDER BY documents DESC, source"
    )
    by_month = scaled(
        "SELECT to_char(date_trunc('month', d.published_on), 'YYYY-MM') AS month, "
        "count(*) AS documents FROM documents d WHERE d.document_id = ANY(:ids) "
        "GROUP BY 1 ORDER BY 1 NULLS LAST"
    )
    sample = ids if len(ids) <= FACET_SAMPLE else random.Random(0).sample(ids, FACET_SAMPLE)
    entities = conn.execute(
        text(
            """SELECT e.canonical_name AS entity, e.kind,
                   count(DISTINCT m.document_id) AS documents,
                   round(count(DISTINCT m.document_id)::numeric
                         / cardinality(CAST(:ids AS bigint[])), 4)::float8 AS share_of_documents
            FROM mentions m JOIN entities e ON e.entity_id = m.entity_id AND m.role <> 'byline'
            WHERE m.document_id = ANY(:ids)
            GROUP BY e.entity_id, e.canonical_name, e.kind
            ORDER BY documents DESC, entity LIMIT :top"""
        ),
        {"ids": sample, "top": top},
    )
    sampled = (
        [f"entities counted in a random sample of {len(sample):,} of the matches"]
        if len(sample) < len(ids) or note
        else []
    )
    return {
        "sources": by_source,
        "months": by_month,
        "entities": ReportResult(list(entities.keys()), [tuple(r) for r in entities], sampled),
    }
