"""The words of the articles matching a query: most frequent, and most distinctive against the
whole corpus (or against another query), on a random sample of the matches, as Media Cloud does.

Distinctiveness is the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
Quinn 2008, "Fightin' Words"), as a z-score: positive for words the matches use more than the
background does, robust for rare words (which a plain frequency ratio overrates).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.errors import BadArgument, check_query
from dbapp.report import SCOPE, ReportResult, resolve_source, tag_and_language

DEFAULT_SAMPLE = 1000
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
_TEXTS = "SELECT coalesce(title, '') || E'\\n' || body FROM documents WHERE document_id = ANY(:ids)"


def _terms(body: str, bigrams: bool) -> set[str]:
    """The distinct terms of one article (lower-cased words, no stop words; bigrams of
    adjacent words when asked)."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(body)]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    kept = {w for w in words if w not in STOPWORDS and len(w) > 1}
    if bigrams:
        kept |= {
            f"{a} {b}"
            for a, b in zip(words, words[1:], strict=False)
            if a not in STOPWORDS and b not in STOPWORDS and len(a) > 1 and len(b) > 1
        }
    return kept


def _sample(
    conn: Connection, query: str | None, params: dict[str, Any], sample: int, seed: str
) -> tuple[Counter[str], int, int]:
    """Document frequencies of the terms in a random sample; (counts, sampled, matching)."""
    bound = params | {"query": query, "sample": sample, "seed": seed}
    ids: list[int] = []
    matching = 0
    if query is None:
        everything = int(
            conn.scalar(text("SELECT coalesce(sum(documents), 0) FROM summary_source_days")) or 0
        )
        percent = min(100.0, 100.0 * OVERSAMPLE * sample / max(everything, 1))
        if percent < 100.0:
            ids = list(conn.scalars(text(_BACKGROUND_IDS), bound | {"percent": percent}))
            matching = everything if len(ids) >= sample else 0
    if len(ids) < sample:  # a query, a small archive, or filters the page sample missed
        rows = conn.execute(text(_SAMPLE_IDS), bound).all()
        ids = [r[0] for r in rows]
        matching = int(rows[0][1]) if rows else 0
    counts: Counter[str] = Counter()
    for (body,) in conn.execute(text(_TEXTS), {"ids": ids}):
        counts.update(_terms(body, params["bigrams"]))
    return counts, len(ids), matching


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
    fore, n_fore, matching = _sample(conn, query, params, sample, query)
    back, n_back, background = _sample(conn, against, params, sample, f"background:{against}")
    notes = [
        f"counted in a random sample of {n_fore:,} of the {matching:,} matching articles"
        if matching > n_fore
        else f"counted in all {matching:,} matching articles",
        f"background: {'articles matching ' + repr(against) if against else 'all articles'} "
        f"({n_back:,} sampled of {background:,})",
    ]
    if not n_fore:
        return ReportResult(_COLUMNS, [], [f"no article matches {query!r}"])
    rows = []
    total_fore, total_back = sum(fore.values()), sum(back.values())
    prior_total = total_fore + total_back
    for term, y_i in fore.items():
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
