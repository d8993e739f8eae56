"""SQL reports: ``dbapp/reports/*.sql`` run with bound parameters (never formatted into SQL)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.entities import find_entity
from dbapp.errors import DbappError, NotFound, check_query, check_text
from dbapp.models import ENTITY_KINDS

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
QUERY_DIR = REPORTS_DIR / "query"  # the same reports over the articles matching --query
ROLLUP_DIR = REPORTS_DIR / "rollup"  # the same reports with entities rolled up (--rollup)
ROLLUPS = ("country", "parent")
OPTIONS = ("since", "until", "source", "entity", "kind", "query", "rollup")
# top-entities --rollup with no filter reads the summaries, and the mentions only for roots
# with several members mentioned (52 s -> 2.3 s at 1M articles); False: the general form.
FAST_ROLLUP = True
MATCH_BY_INDEX = True  # --query reports find their matches through the full-text index
PERIODS = ("day", "week", "month", "year")
REPORT_WORK_MEM = "64MB"
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


class ReportError(DbappError):
    """A report was asked for with options it cannot use."""

    exit_code = 2


@dataclass(frozen=True)
class Report:
    """One report: its name, what it answers, the options it takes, its SQL."""

    name: str
    description: str
    options: tuple[str, ...]
    sql: str
    query_sql: str | None = None  # the --query form, when the report has one
    rollup_sql: str | None = None  # the --rollup form, when the report has one
    plain_options: tuple[str, ...] = ()  # what the plain form (no --query) takes

    @property
    def bound(self) -> set[str]:
        return (
            set(_PARAM.findall(_expand(self.sql)))
            | set(_PARAM.findall(_expand(self.query_sql or "")))
            | set(_PARAM.findall(_expand(self.rollup_sql or "")))
        )


@dataclass
class ReportParams:
    """Every option a report may take; each report uses the ones it declares."""

    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = None
    entity: str | None = None
    kind: str | None = None
    limit: int = 20
    period: str = "month"
    context: int = 40
    min_documents: int = 1
    query: str | None = None  # web-search syntax: only the articles that match
    rollup: str | None = None  # "country" or "parent": entities rolled up
    tag: str | None = None  # only articles with this tag of the source's (TAG or VOCABULARY:TAG)
    language: str | None = None  # only articles in this language (ISO 639-1, e.g. en)


@dataclass
class ReportResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    notes: list[str] = field(default_factory=list)
    total: int | None = None  # all the matches, where rows are the first of them (search)


def _declared(sql: str) -> tuple[str, tuple[str, ...]]:
    """A report file's ``-- description:`` and ``-- params:`` lines."""
    description = options = ""
    for line in sql.splitlines():
        if line.startswith("-- description:"):
            description = line.split(":", 1)[1].strip()
        elif line.startswith("-- params:"):
            options = line.split(":", 1)[1].strip()
    return description, tuple(o.strip() for o in options.split(",") if o.strip())


def _parse(path: Path) -> Report:
    sql = path.read_text(encoding="utf-8")
    description, plain = _declared(sql)
    query, rollup = QUERY_DIR / path.name, ROLLUP_DIR / path.name
    query_sql = query.read_text(encoding="utf-8") if query.exists() else None
    rollup_sql = rollup.read_text(encoding="utf-8") if rollup.exists() else None
    names = plain
    if query_sql:  # the --query form's own filters (overview: the plain form takes none)
        names += tuple(o for o in _declared(query_sql)[1] if o not in names)
        names += ("query", "tag", "language")
    names += ("rollup",) if rollup_sql else ()
    return Report(path.stem, description, names, sql, query_sql, rollup_sql, plain)


@lru_cache(maxsize=1)
def list_reports() -> dict[str, Report]:
    """Every report shipped in ``dbapp/reports``, by name."""
    return {p.stem: _parse(p) for p in sorted(REPORTS_DIR.glob("*.sql"))}


def get_report(name: str) -> Report:
    reports = list_reports()
    if name not in reports:
        known = sorted([*reports, "top-words"])
        raise NotFound(f"no report {name!r}; reports: {', '.join(known)}")
    return reports[name]


# Every period of a timeline's range: from --since (or the first article) to --until (or the
# last), so charts do not draw straight through periods without articles. `periods` holds the
# articles per period (the denominator of shares), `calendar` every period.
CALENDAR = """periods AS (
    SELECT date_trunc(:period, day)::date AS period, sum(documents)::integer AS documents
    FROM report_daily_documents
    WHERE day IS NOT NULL
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
    GROUP BY 1
),
bounds AS (
    SELECT date_trunc(:period, coalesce(CAST(:since AS date), min(period)))::date AS first,
           date_trunc(:period, coalesce(CAST(:until AS date), max(period)))::date AS last
    FROM periods
),
calendar AS (
    SELECT g::date AS period
    FROM bounds, generate_series(first, last, CAST('1 ' || :period AS interval)) AS g
)"""


# Every entity with the root it rolls up to under --rollup (itself when nothing above it).
ROOTS = """roots AS (
    SELECT entity_id,
           CASE WHEN :rollup = 'country' THEN country_id
                ELSE coalesce(parent_id, entity_id) END AS root_id
    FROM report_entity_rollups
)"""


# The pairs that can make a co-mentions list, from a `pairs` CTE (a_id, b_id, together): those
# of --kind, with as many shared articles as the limit-th pair or more. Only they need the
# per-entity counts, lift and names: the order is shared articles first.
CHOSEN = """kinded AS (
    SELECT * FROM pairs WHERE CAST(:kind AS text) IS NULL
    UNION ALL
    SELECT p.* FROM pairs p
    JOIN entities ea ON ea.entity_id = p.a_id
    JOIN entities eb ON eb.entity_id = p.b_id
    WHERE CAST(:kind AS text) IS NOT NULL AND :kind IN (ea.kind, eb.kind)
),
cutoff AS (
    SELECT together FROM kinded ORDER BY together DESC
    OFFSET CAST(:limit AS integer) - 1 LIMIT 1
),
chosen AS MATERIALIZED (
    SELECT * FROM kinded WHERE together >= coalesce((SELECT together FROM cutoff), 0)
)"""


def _expand(sql: str) -> str:
    """A report's SQL with the shared pieces put in."""
    sql = sql.replace("{chosen}", CHOSEN)
    sql = sql.replace("{matched}", MATCHED).replace("{calendar}", CALENDAR)
    sql = sql.replace("{roots}", ROOTS)
    return sql.replace("{sampled}", SAMPLED).replace("{tagged}", TAGGED)


# The documents in scope: every filter of the reports, --query included ({tagged}: _expand).
SCOPE = """
WITH q AS (
    SELECT CASE WHEN CAST(:query AS text) IS NULL THEN NULL
                ELSE websearch_to_tsquery('english', :query) END AS query
),
scope AS (
    SELECT d.document_id
    FROM documents d CROSS JOIN q
    WHERE (q.query IS NULL OR d.search_vector @@ q.query)
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
      AND (CAST(:entity_id AS integer) IS NULL OR EXISTS (
          SELECT 1 FROM mentions m
          WHERE m.document_id = d.document_id AND m.entity_id = CAST(:entity_id AS integer)))
      {tagged}
)
"""


# --tag (the source's own tag, as TAG or VOCABULARY:TAG) and --language: only at the level of
# documents (the summaries do not know them), so reports given them take their --query form.
# A tag matches in any case ("Oil", "OIL" and "oil" are one tag to a reader).
TAG_MATCH = "(lower(t.tag) = lower(:tag) OR lower(t.vocabulary || ':' || t.tag) = lower(:tag))"
TAGGED = f"""AND (CAST(:tag AS text) IS NULL OR EXISTS (
          SELECT 1 FROM document_tags t WHERE t.document_id = d.document_id
            AND {TAG_MATCH}))
      AND (CAST(:language AS text) IS NULL OR d.language = :language)"""

SCOPE = SCOPE.replace("{tagged}", TAGGED)

# Entity figures of more than ENTITY_SAMPLE matching articles come from a random (ordered by
# a hash of the id, so repeatable) sample of them, scaled to all, as Media Cloud does: reading
# every match's mentions cost 15-25 us an article. A report's `_matched` column tells
# run_report to say so. hashint8 orders 1M ids in 50 ms where md5 of their text took 480 ms.
ENTITY_SAMPLE = 10_000
PAIR_SAMPLE = 3_000  # co-mentions pair every two entities of an article: a smaller sample
# co-mentions --entity pairs only that entity with the others of its articles: a larger one.
ANCHOR_SAMPLE = 20_000
SAMPLED = """sampled AS MATERIALIZED (
    SELECT * FROM matched ORDER BY hashint8(document_id), document_id LIMIT :entity_sample
),
scale AS (
    SELECT (SELECT count(*) FROM matched) AS matched, (SELECT count(*) FROM sampled) AS n,
           (SELECT count(*) FROM matched)::numeric
           / NULLIF((SELECT count(*) FROM sampled), 0) AS f
)"""

# The articles matching --query (and --since/--until/--source/--tag/--language), once per run.
MATCHED = """q AS (
    SELECT CASE WHEN CAST(:query AS text) IS NULL THEN NULL
                ELSE websearch_to_tsquery('english', :query) END AS query
),
matched AS MATERIALIZED (
    SELECT d.document_id, d.source_id, d.published_on, d.word_count
    FROM documents d CROSS JOIN q
    WHERE (q.query IS NULL OR d.search_vector @@ q.query)
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
      {tagged}
)"""


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def tag_and_language(tag: str | None, language: str | None) -> tuple[str | None, str | None]:
    """--tag and --language as stored, or a usage error saying what they must look like."""
    for value, option in ((tag, "--tag"), (language, "--language")):
        check_text(value, option)
    if tag is not None and not tag.strip(" :"):
        raise ReportError(
            "--tag is empty: give TAG or VOCABULARY:TAG (the view report_tags lists them)"
        )
    if language is not None:
        language = language.strip().lower()
        if not _LANGUAGE_CODE.fullmatch(language):
            raise ReportError(f"--language {language!r}: give an ISO 639-1 code such as en, fr, de")
    return (tag.strip() if tag is not None else None), language


def resolve_source(conn: Connection, name: str | None, must_exist: bool = True) -> str | None:
    """The stored name of source ``name``, matched case-insensitively; NotFound if none
    (or, unless ``must_exist``, ``name`` itself: a new source, as a load may bring)."""
    if name is None:
        return None
    check_text(name, "--source")
    found = list(
        conn.scalars(
            text(
                "SELECT name FROM sources WHERE lower(name) = lower(:n) "
                "ORDER BY name = :n DESC, name LIMIT 2"
            ),
            {"n": name},
        )
    )
    if found and (found[0] == name or len(found) == 1 or not must_exist):
        return str(found[0])
    if not must_exist:
        return name
    if found:
        raise NotFound(f"--source {name!r} matches {', '.join(found)}: give the exact case")
    known = list(conn.scalars(text("SELECT name FROM sources ORDER BY name LIMIT 11")))
    listed = ", ".join(known[:10]) + (
        ", ... (dbapp report source-coverage lists them)" if len(known) > 10 else ""
    )
    raise NotFound(f"no source {name!r} (sources: {listed or 'none yet'})")


def _bindings(conn: Connection, report: Report, params: ReportParams, sql: str) -> dict[str, Any]:
    for option in ("source", "entity", "kind"):
        check_text(getattr(params, option), f"--{option}")
    if params.kind is not None and params.kind.upper() not in ENTITY_KINDS:
        raise ReportError(f"unknown kind {params.kind!r} (one of: {', '.join(ENTITY_KINDS)})")
    if params.period not in PERIODS:
        raise ReportError(f"--period must be one of {', '.join(PERIODS)}")
    if params.limit < 1 or params.context < 0 or params.min_documents < 1:
        raise ReportError("--limit and --min-documents must be positive, --context not negative")
    if params.since and params.until and params.since > params.until:
        raise ReportError("--since is after --until")
    check_query(params.query)
    if params.query is not None and not params.query.strip():
        raise ReportError("--query needs some words, e.g. --query 'oil prices'")
    entity_id = None
    if "entity" in report.options:
        if params.entity is not None:
            entity_id = find_entity(conn, params.entity).entity_id
        elif report.name == "kwic":
            raise ReportError("kwic needs --entity NAME")
    values = {
        "since": params.since,
        "until": params.until,
        # Resolved (and refused if unknown) only where the form run uses it.
        "source": resolve_source(conn, params.source) if ":source" in sql else None,
        "entity_id": entity_id,
        "kind": params.kind.upper() if params.kind else None,
        "limit": params.limit,
        "period": params.period,
        "context": params.context,
        "min_documents": params.min_documents,
        "query": params.query,
        "rollup": params.rollup,
        "entity_sample": ENTITY_SAMPLE,
    }
    values["tag"], values["language"] = tag_and_language(params.tag, params.language)
    return {name: values[name] for name in report.bound}


MAX_PERIODS = 100_000
_PERIOD_DAYS = {"day": 1.0, "week": 7.0, "month": 30.44, "year": 365.25}


def _check_calendar(conn: Connection, params: ReportParams) -> None:
    """A calendar-complete timeline has a row per period of the range: refuse absurd ones
    (--since 0001-01-01 --period day would be 740,000 rows)."""
    first, last = params.since, params.until
    if first is None or last is None:
        row = conn.execute(
            text("SELECT min(day), max(day) FROM summary_source_days WHERE day IS NOT NULL")
        ).one()
        first, last = first or row[0], last or row[1]
    if first is None or last is None or last < first:
        return
    periods = int((last - first).days / _PERIOD_DAYS.get(params.period, 1.0)) + 1
    if periods > MAX_PERIODS:
        raise ReportError(
            f"a timeline by {params.period} from {first} to {last} has {periods:,} rows (at most "
            f"{MAX_PERIODS:,}): use a coarser --period or a shorter --since/--until range"
        )


def match_by_index(conn: Connection, on: bool = True) -> None:
    """Find a query's matches through the full-text index, for this transaction: the planner
    reads a common word's matches by scanning every article (it does not count fetching each
    out-of-line tsvector), 2.5 s at 1M articles where the index gives them in 0.3 s.
    ``on=False`` gives the planner its own choice back."""
    if MATCH_BY_INDEX:
        value = "off" if on else "DEFAULT"
        conn.execute(text(f"SET LOCAL enable_seqscan TO {value}"))


def _in_range(conn: Connection, params: ReportParams) -> int:
    """How many articles --since, --until and --source leave (from the daily summary)."""
    articles = conn.scalar(
        text(
            "SELECT coalesce(sum(documents), 0) FROM report_daily_documents "
            "WHERE (CAST(:since AS date) IS NULL OR day >= :since) "
            "AND (CAST(:until AS date) IS NULL OR day <= :until) "
            "AND (CAST(:source AS text) IS NULL OR source = :source)"
        ),
        {
            "since": params.since,
            "until": params.until,
            "source": resolve_source(conn, params.source),
        },
    )
    return int(articles or 0)


def _wide_pairs(conn: Connection, params: ReportParams) -> bool:
    """Whether co-mentions without --entity but with a date range or a source covers more
    articles than PAIR_SAMPLE: its live pairs would join every two entities of every one of
    them (seconds per 100,000), so it takes the --query form's repeatable sample instead."""
    if params.entity is not None or all(
        getattr(params, o) is None for o in ("since", "until", "source")
    ):
        return False
    return _in_range(conn, params) > min(PAIR_SAMPLE, ENTITY_SAMPLE)


def _tag_known(conn: Connection, params: ReportParams) -> bool:
    """Whether any article has --tag (asked only when a report came back empty)."""
    found = conn.scalar(
        text(f"SELECT EXISTS (SELECT 1 FROM document_tags t WHERE {TAG_MATCH})"),
        {"tag": tag_and_language(params.tag, None)[0]},
    )
    return bool(found)


STOP_WORDS_ONLY = "holds only stop words ('the', 'and'...), which search ignores"


def only_stop_words(conn: Connection, query: str) -> bool:
    """Whether a web-search query leaves nothing to search once stop words are dropped."""
    found = conn.scalar(text("SELECT numnode(websearch_to_tsquery('english', :q))"), {"q": query})
    return not found


def run_report(conn: Connection, name: str, params: ReportParams | None = None) -> ReportResult:
    """Run report ``name``; options a report does not take are ignored."""
    report = get_report(name)
    params = params or ReportParams()
    scoped = params.query is not None or params.tag is not None or params.language is not None
    # A filter only the --query form takes (overview --since) runs that form, for all articles.
    scoped = scoped or (
        report.query_sql is not None
        and any(
            getattr(params, o) is not None and o not in report.plain_options and o in report.options
            for o in ("since", "until", "source")
        )
    )
    if scoped and report.query_sql is None:
        with_query = [r.name for r in list_reports().values() if r.query_sql]
        raise ReportError(
            f"{name} does not take --query, --tag or --language (these do: {', '.join(with_query)})"
        )
    if params.rollup is not None:
        if params.rollup not in ROLLUPS:
            raise ReportError(f"--rollup must be one of {', '.join(ROLLUPS)}")
        if report.rollup_sql is None:
            with_rollup = [r.name for r in list_reports().values() if r.rollup_sql]
            raise ReportError(f"{name} does not take --rollup (these do: {', '.join(with_rollup)})")
        if name == "timeline" and params.entity is None:
            raise ReportError("timeline --rollup needs --entity (whose country or parent)")
    if name == "timeline":
        _check_calendar(conn, params)
    sql = report.sql
    unfiltered = all(
        getattr(params, o) is None for o in ("since", "until", "source", "query", "tag", "language")
    )
    by_words = any(getattr(params, o) is not None for o in ("query", "tag", "language"))
    if params.rollup is not None and name == "top-entities" and unfiltered and FAST_ROLLUP:
        sql = (ROLLUP_DIR / "top-entities.all-time.sql").read_text(encoding="utf-8")
    elif (
        params.rollup is not None
        and name == "top-entities"
        and (by_words or _in_range(conn, params) > ENTITY_SAMPLE)
    ):
        # A wide date range or a source reads the range's every mention on the general path
        # (an article counts once per root): the --query form samples past ENTITY_SAMPLE.
        sql = (ROLLUP_DIR / "top-entities.query.sql").read_text(encoding="utf-8")
    elif params.rollup is not None:  # the roll-up forms take --query themselves
        sql = str(report.rollup_sql)
    elif scoped or (name == "co-mentions" and _wide_pairs(conn, params)):
        sql = str(report.query_sql)
        if name == "co-mentions" and params.entity is not None:
            # One entity's company: its pairs come from its own matching articles (a sample
            # of all matches would hold too few of them, 60 of 4,592).
            sql = (QUERY_DIR / "co-mentions.entity.sql").read_text(encoding="utf-8")
    sql = _expand(sql)
    bindings = _bindings(conn, report, params, sql)
    if "entity_sample" in bindings and name == "co-mentions" and params.entity is None:
        bindings["entity_sample"] = min(PAIR_SAMPLE, ENTITY_SAMPLE)
    if "anchor_sample" in sql:
        bindings["anchor_sample"] = ANCHOR_SAMPLE
    # Live aggregates (a date range's co-mentions) hash hundreds of thousands of rows: room
    # for that in memory, for this transaction only.
    conn.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    if params.query is not None:
        match_by_index(conn)
    result = conn.execute(text(sql), bindings)
    notes = []
    unused = [
        o
        for o in (
            "since",
            "until",
            "source",
            "entity",
            "kind",
            "query",
            "rollup",
            "tag",
            "language",
        )
        if getattr(params, o) is not None
    ]
    # The --query and --rollup forms may take filters the plain form does not (overview).
    used = {"entity" if n == "entity_id" else n for n in _PARAM.findall(sql)}
    ignored = [o for o in unused if o not in report.options and o not in used]
    if ignored:
        notes.append(f"{name} ignores --{', --'.join(ignored)}")
    stale = conn.scalar(text("SELECT reason FROM summary_state WHERE stale"))
    if stale is not None:
        notes.append(
            f"the summary tables behind this report are stale ({stale}): the next load, or "
            "`dbapp report check --repair`, rebuilds them"
        )
    columns, rows = list(result.keys()), [tuple(r) for r in result]
    hidden = {}
    for column in ("_matched", "_anchored"):  # said once, then dropped from the rows
        if column in columns:
            at = columns.index(column)
            hidden[column] = int(rows[0][at] or 0) if rows else 0
            columns = columns[:at] + columns[at + 1 :]
            rows = [r[:at] + r[at + 1 :] for r in rows]
    if params.query is not None and only_stop_words(conn, params.query):
        notes.append(f"--query {params.query!r} {STOP_WORDS_ONLY}: no article matches it")
    elif params.query is not None and "_matched" in hidden and not hidden["_matched"]:
        notes.append(f"no article matches --query {params.query!r} with these filters")
    if params.tag is not None and not hidden.get("_matched", 1) and not _tag_known(conn, params):
        notes.append(f"no article has the tag {params.tag!r} (the view report_tags lists them)")
    sample = bindings.get("entity_sample", ENTITY_SAMPLE)
    matched, anchored = hidden.get("_matched", 0), hidden.get("_anchored")
    if anchored is not None:
        if anchored > ANCHOR_SAMPLE:
            notes.append(
                f"shared articles are counted in a random sample of {ANCHOR_SAMPLE:,} of the "
                f"{anchored:,} matching articles that mention {params.entity}, scaled to all"
            )
        if matched > sample:
            notes.append(
                f"lift takes the other entities' articles from a random sample of {sample:,} "
                f"of the {matched:,} matching articles, scaled to all"
            )
    elif matched > sample:
        among = "matching articles" if params.query is not None else "articles in these filters"
        notes.append(
            f"entity figures come from a random sample of {sample:,} of the {matched:,} {among}, "
            "scaled to all of them (distinct entities: those of the sample)"
        )
    return ReportResult(columns, rows, notes)


def compare_timeline(
    conn: Connection,
    params: ReportParams,
    queries: list[str] | None = None,
    entities: list[str] | None = None,
) -> ReportResult:
    """One timeline per query (``--compare``) or per entity, in one table: a ``series`` column
    first, then the timeline's columns. Every series has the same calendar of periods."""
    series: list[tuple[str, ReportParams]] = []
    for q in queries or []:
        series.append((q, ReportParams(**{**params.__dict__, "query": q})))
    for e in entities or []:
        series.append((e, ReportParams(**{**params.__dict__, "entity": e})))
    if len(series) < 2:
        raise ReportError("compare needs two series or more: --compare QUERY or --entity NAME")
    columns: list[str] = []
    rows: list[tuple[Any, ...]] = []
    notes: list[str] = []
    for label, p in series:
        result = run_report(conn, "timeline", p)
        columns = ["series", *result.columns]
        rows += [(label, *r) for r in result.rows]
        notes += [n for n in result.notes if n not in notes]
    return ReportResult(columns, rows, notes)
