"""The words of the articles matching a query: most frequent, and most distinctive against the
whole corpus (or against another query), on a random sample of the matches, as Media Cloud does.

Distinctiveness is the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
Quinn 2008, "Fightin' Words"), as a z-score: positive for words the matches use more than the
background does, robust for rare words (which a plain frequency ratio overrates).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import BadArgument, check_query
from dbapp.report import SCOPE, ReportResult, match_by_index, resolve_source, tag_and_language

DEFAULT_SAMPLE = 1000
# What `top-words` reads, by its CLI names (`by` is top_words' `sort`).
OPTIONS = (
    "query", "against", "sample", "bigrams", "by", "since", "until", "source", "entity", "tag",
    "language", "limit",
)  # fmt: skip
SORTS = ("frequent", "distinctive")
# Function words and newswire boilerplate: they top every list and say nothing.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say according one two three its it's also may might must
    shall per via new us mr mrs ms dr year years day days time told reported""".split()
)
_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*[^\W_])?")
_POSSESSIVE = re.compile(r"'s$", re.MULTILINE)

# The sample is chosen among the matches' ids (md5-ordered, so repeatable) before any text is
# read: ordering the texts themselves fetched every match's body (12 s at 1M articles).
_SAMPLE_IDS = (
    SCOPE
    + """
SELECT document_id, count(*) OVER () FROM scope
ORDER BY md5(document_id::text || :seed)
LIMIT :sample
"""
)
# The background with no query is every article in the filters: a random sample of pages
# (TABLESAMPLE), about OVERSAMPLE times what is needed, instead of ordering a million ids.
_BACKGROUND_IDS = (
    SCOPE.replace(
        "FROM documents d CROSS JOIN q",
        "FROM documents d TABLESAMPLE SYSTEM (:percent) REPEATABLE (20261126) CROSS JOIN q",
    )
    + """
SELECT document_id FROM scope
ORDER BY md5(document_id::text || :seed)
LIMIT :sample
"""
)
OVERSAMPLE = 20
# A query that matches a good share of a big archive (a common word) takes its sample from a
# random sample of pages too: ordering every one of half a million matches took 2-4 s at 1M
# articles. Only when the planner expects at least COMMON_SHARE of the articles to match, and
# the page sample stays under MAX_PAGE_PERCENT of the table; otherwise every match is read.
COMMON_SHARE = 0.05
MAX_PAGE_PERCENT = 5.0
MATCH_OVERSAMPLE = 5  # pages for about this many times the sample's matches
_ESTIMATE = """EXPLAIN (FORMAT JSON)
SELECT 1 FROM documents d WHERE d.search_vector @@ websearch_to_tsquery('english', :query)"""
_IN_SCOPE = """
SELECT coalesce(sum(documents), 0) FROM summary_source_days
WHERE (CAST(:since AS date) IS NULL OR day >= :since)
  AND (CAST(:until AS date) IS NULL OR day <= :until)
  AND (CAST(:source AS text) IS NULL
       OR source_id = (SELECT source_id FROM sources WHERE name = :source))"""
_PAGE_MATCHES = """
WITH q AS (SELECT websearch_to_tsquery('english', :query) AS query),
seen AS MATERIALIZED (
    SELECT d.document_id, d.search_vector @@ q.query AS hit
    FROM documents d TABLESAMPLE SYSTEM (:percent) REPEATABLE (:repeat) CROSS JOIN q
    WHERE (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
)
SELECT document_id, (SELECT count(*) FROM seen), (SELECT count(*) FROM seen WHERE hit)
FROM seen WHERE hit
ORDER BY md5(document_id::text || :seed)
LIMIT :sample
"""
_TEXTS = "SELECT coalesce(title, '') || E'\\n' || body FROM documents WHERE document_id = ANY(:ids)"


def _terms(body: str, bigrams: bool) -> set[str]:
    """The distinct terms of one article (lower-cased words, no stop words; bigrams of
    adjacent words when asked)."""
    # The words a line each, lower-cased and stripped of "'s" by whole-string calls in C: per
    # word in Python this was most of top-words' time (a word holds no newline).
    joined = _POSSESSIVE.sub("", "\n".join(_WORD.findall(body)).lower().replace("’", "'"))
    words = joined.split("\n")
    kept = {w for w in set(words) - STOPWORDS if len(w) > 1}
    if bigrams:
        kept |= {
            a + " " + b for a, b in zip(words, words[1:], strict=False) if a in kept and b in kept
        }
    return kept


def _archive_size(conn: Connection) -> int:
    """How many articles there are (from the per-day summary: no scan)."""
    return int(
        conn.scalar(text("SELECT coalesce(sum(documents), 0) FROM summary_source_days")) or 0
    )


def _common_match(
    conn: Connection, bound: dict[str, Any], sample: int
) -> tuple[list[int], int] | None:
    """For a query that matches a good share of a big archive: a sample of its matches drawn
    from a random sample of pages, and the number of matches that implies; None when the query
    is not that common (or filters make a page sample pointless)."""
    if _filtered_beyond_summary(bound):
        return None  # filters the per-day summary does not know
    in_scope = int(conn.scalar(text(_IN_SCOPE), bound) or 0)
    if in_scope < MATCH_OVERSAMPLE * sample:
        return None
    plan = conn.scalar(text(_ESTIMATE), {"query": bound["query"]})
    expected = float(plan[0]["Plan"]["Plan Rows"]) if plan else 0.0
    everything = _archive_size(conn)
    if expected < COMMON_SHARE * everything:
        return None
    # Pages enough for MATCH_OVERSAMPLE x sample matches at the expected match rate.
    rate = min(1.0, expected / max(everything, 1))
    percent = 100.0 * MATCH_OVERSAMPLE * sample / max(rate * in_scope, 1)
    if percent > MAX_PAGE_PERCENT:
        return None
    percent = min(percent, 100.0)
    repeat = zlib.crc32(bound["seed"].encode()) & 0x7FFFFFFF
    rows = conn.execute(text(_PAGE_MATCHES), bound | {"percent": percent, "repeat": repeat}).all()
    if len(rows) < sample:
        return None  # rarer than the planner thought: every match is read instead
    seen, hits = int(rows[0][1]), int(rows[0][2])
    return [r[0] for r in rows], round(hits * in_scope / max(seen, 1))


def _filtered_beyond_summary(params: dict[str, Any]) -> bool:
    """Whether filters the per-day summary does not know (--entity, --tag, --language) apply."""
    return any(params.get(k) is not None for k in ("entity_id", "tag", "language"))


def _sample(
    conn: Connection, query: str | None, params: dict[str, Any], sample: int, seed: str
) -> tuple[Counter[str], int, int, bool]:
    """Document frequencies of the terms in a random sample; (counts, sampled, matching,
    whether ``matching`` is an estimate from a sample of pages)."""
    bound = params | {"query": query, "sample": sample, "seed": seed}
    ids: list[int] = []
    matching = 0
    estimated = False
    if query is not None:
        common = _common_match(conn, bound, sample)
        if common is not None:
            (ids, matching), estimated = common, True
    if query is None and not _filtered_beyond_summary(params):
        # The articles in --since/--until/--source, counted exactly from the summary.
        in_scope = int(conn.scalar(text(_IN_SCOPE), bound) or 0)
        percent = min(100.0, 100.0 * OVERSAMPLE * sample / max(in_scope, 1))
        if percent < 100.0:
            ids = list(conn.scalars(text(_BACKGROUND_IDS), bound | {"percent": percent}))
            matching = in_scope if len(ids) >= sample else 0
    if len(ids) < sample:  # a query, a small archive, or filters the page sample missed
        match_by_index(conn, on=query is not None)
        rows = conn.execute(text(_SAMPLE_IDS), bound).all()
        match_by_index(conn, on=False)
        ids = [r[0] for r in rows]
        matching = int(rows[0][1]) if rows else 0
    counts: Counter[str] = Counter()
    for (body,) in conn.execute(text(_TEXTS), {"ids": ids}):
        counts.update(_terms(body, params["bigrams"]))
    return counts, len(ids), matching, estimated


def top_words(
    conn: Connection,
    query: str,
    against: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    source: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    bigrams: bool = False,
    sort: str = "frequent",
    limit: int = 30,
    tag: str | None = None,
    language: str | None = None,
    entity: str | None = None,
) -> ReportResult:
    """The terms of the articles matching ``query``: in how many sampled articles each occurs,
    that as a share, the same share in the background (the whole corpus, or ``against``), and
    the distinctiveness z-score."""
    for value, what in ((query, "--query"), (against, "--against")):
        check_query(value, what)
    if not query or not query.strip():
        raise BadArgument("top-words needs --query WORDS (the articles to characterise)")
    if sort not in SORTS:
        raise BadArgument(f"--sort must be one of {', '.join(SORTS)}")
    if sample < 1:
        raise BadArgument("--sample must be positive")
    from dbapp.entities import find_entity

    params = {
        "since": since,
        "until": until,
        "source": resolve_source(conn, source),
        "bigrams": bigrams,
        **dict(zip(("tag", "language"), tag_and_language(tag, language), strict=True)),
        "entity_id": find_entity(conn, entity).entity_id if entity else None,
    }
    fore, n_fore, matching, estimated = _sample(conn, query, params, sample, query)
    back, n_back, background, back_estimated = _sample(
        conn, against, params, sample, f"background:{against}"
    )
    about = "about" if estimated else "the"
    filtered = any(v is not None for v in (since, until, source, entity, tag, language))
    notes = [
        f"counted in a random sample of {n_fore:,} of {about} {matching:,} matching articles"
        + (" (a common query: drawn from a random sample of pages)" if estimated else "")
        if matching > n_fore
        else (
            "counted in the one matching article"
            if matching == 1
            else f"counted in all {matching:,} matching articles"
        ),
        f"background: {'articles matching ' + repr(against) if against else 'all articles'}"
        f"{' in these filters' if filtered else ''} "
        f"({n_back:,} sampled of {'about ' if back_estimated else ''}{background:,})",
    ]
    if not n_fore:
        filters = [
            f"--{option} {value}"
            for option, value in (
                ("since", since), ("until", until), ("source", source), ("entity", entity),
                ("tag", tag), ("language", language),
            )
            if value is not None
        ]  # fmt: skip
        within = f" with {' '.join(filters)}" if filters else ""
        return ReportResult(_COLUMNS, [], [f"no article matches {query!r}{within}"])
    rows = []
    total_fore, total_back = sum(fore.values()), sum(back.values())
    prior_total = total_fore + total_back
    scored: Iterable[tuple[str, int]] = fore.items()
    if sort == "frequent" and len(fore) > limit:
        # Only terms as frequent as the limit-th can be listed (ties broken by the score):
        # scoring every one of 100,000 bigrams took a quarter of a second.
        least = heapq.nlargest(limit, fore.values())[-1]
        scored = [(term, y_i) for term, y_i in fore.items() if y_i >= least]
    for term, y_i in scored:
        y_j = back.get(term, 0)
        # Informative Dirichlet prior: the term's pooled frequency, scaled to a total of
        # 1,000 pseudo-counts.
        a_w = 1000 * (y_i + y_j) / prior_total
        a_0 = 1000.0
        delta = math.log((y_i + a_w) / max(total_fore + a_0 - y_i - a_w, 1e-9)) - math.log(
            (y_j + a_w) / max(total_back + a_0 - y_j - a_w, 1e-9)
        )
        z = delta / math.sqrt(1 / (y_i + a_w) + 1 / (y_j + a_w))
        rows.append(
            (
                term,
                y_i,
                round(y_i / n_fore, 4),
                round(y_j / n_back, 4) if n_back else None,
                round(z, 2),
            )  # fmt: skip
        )
    if sort == "frequent":
        rows.sort(key=lambda r: (-r[1], -r[4], r[0]))
    else:
        rows.sort(key=lambda r: (-r[4], -r[1], r[0]))
    return ReportResult(_COLUMNS, rows[:limit], notes)


_COLUMNS = ["term", "documents", "share_of_sample", "share_of_background", "distinctiveness"]
