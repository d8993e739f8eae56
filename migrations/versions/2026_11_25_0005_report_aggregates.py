"""Smaller report aggregates, so reports stay fast at millions of articles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

report_entity_daily has a row per entity, source and day (9 million at a million articles).
All-time figures (top entities, entities per source, the overview) now read
report_entity_totals (entity x source); entities per source per month or year read
report_source_entity_counts (built from report_entity_monthly); report_co_mentions gets an
index for "the most frequent pairs". The views that now read them keep their columns.

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTALS = """
    SELECT entity_id, kind, entity, source_id, source, sum(mentions)::bigint AS mentions,
           sum(documents)::bigint AS documents, min(day) AS first_seen, max(day) AS last_seen
    FROM report_entity_daily
    GROUP BY entity_id, kind, entity, source_id, source"""
TOTALS_COMMENTS = {
    "entity_id": "Entity number.",
    "kind": "Entity kind.",
    "entity": "Canonical name.",
    "source_id": "Source number.",
    "source": "Source name.",
    "mentions": "Mentions in this source's articles (bylines excluded).",
    "documents": "This source's articles mentioning it.",
    "first_seen": "Earliest publication date of such an article.",
    "last_seen": "Latest publication date of such an article.",
}

MONTHLY = """
    SELECT entity_id, kind, entity, source_id, source, date_trunc('month', day)::date AS month,
           sum(mentions)::bigint AS mentions, sum(documents)::bigint AS documents
    FROM report_entity_daily
    GROUP BY entity_id, kind, entity, source_id, source, date_trunc('month', day)::date"""
MONTHLY_COMMENTS = {
    "entity_id": "Entity number.",
    "kind": "Entity kind.",
    "entity": "Canonical name.",
    "source_id": "Source number.",
    "source": "Source name.",
    "month": "First day of the publication month (empty for undated articles).",
    "mentions": "Mentions that month (bylines excluded).",
    "documents": "Articles mentioning it that month.",
}

# Distinct entities per source per month and per year: distinct counts do not add up, so each
# grain is counted on its own.
SOURCE_COUNTS = """
    SELECT source_id, source, 'month' AS grain, month AS period,
           count(DISTINCT entity_id)::integer AS entities
    FROM report_entity_monthly GROUP BY source_id, source, month
    UNION ALL
    SELECT source_id, source, 'year', date_trunc('year', month)::date,
           count(DISTINCT entity_id)::integer
    FROM report_entity_monthly GROUP BY source_id, source, date_trunc('year', month)::date"""
SOURCE_COUNTS_COMMENTS = {
    "source_id": "Source number.",
    "source": "Source name.",
    "grain": "month or year.",
    "period": "First day of the month or year (empty for undated articles).",
    "entities": "Distinct entities the source's articles mention in that period.",
}

NEW_VIEWS = {
    "report_top_entities": """
        SELECT entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents,
               sum(documents)::float8 / NULLIF(
                   (SELECT sum(documents) FROM report_daily_documents), 0) AS share_of_documents,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM report_entity_totals
        GROUP BY entity_id, kind, entity""",
    "report_source_entities": """
        SELECT source_id, source, entity_id, kind, entity, mentions::integer AS mentions,
               documents::integer AS documents
        FROM report_entity_totals""",
    "report_overview": """
        SELECT (SELECT count(*) FROM documents) AS documents,
               (SELECT count(*) FROM sources s WHERE EXISTS (
                   SELECT 1 FROM documents d WHERE d.source_id = s.source_id)) AS sources,
               (SELECT min(published_on) FROM documents) AS first_published,
               (SELECT max(published_on) FROM documents) AS last_published,
               (SELECT count(*) FROM documents WHERE published_on IS NULL) AS undated_documents,
               (SELECT coalesce(sum(mentions), 0) FROM report_entity_totals)::bigint AS mentions,
               (SELECT count(DISTINCT entity_id) FROM report_entity_totals) AS entities_mentioned,
               (SELECT count(*) FROM loads) AS loads,
               (SELECT max(started_at) FROM loads) AS last_load_at,
               (SELECT status FROM loads ORDER BY load_id DESC LIMIT 1) AS last_load_status,
               (SELECT count(*) FROM load_rejects) AS rejects""",
}
OLD_VIEWS = {
    "report_top_entities": """
        SELECT entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents,
               sum(documents)::float8 / NULLIF(
                   (SELECT sum(documents) FROM report_daily_documents), 0) AS share_of_documents,
               min(day) AS first_seen, max(day) AS last_seen
        FROM report_entity_daily
        GROUP BY entity_id, kind, entity""",
    "report_source_entities": """
        SELECT source_id, source, entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents
        FROM report_entity_daily
        GROUP BY source_id, source, entity_id, kind, entity""",
    "report_overview": """
        SELECT (SELECT count(*) FROM documents) AS documents,
               (SELECT count(*) FROM sources s WHERE EXISTS (
                   SELECT 1 FROM documents d WHERE d.source_id = s.source_id)) AS sources,
               (SELECT min(published_on) FROM documents) AS first_published,
               (SELECT max(published_on) FROM documents) AS last_published,
               (SELECT count(*) FROM documents WHERE published_on IS NULL) AS undated_documents,
               (SELECT coalesce(sum(mentions), 0) FROM report_entity_daily)::bigint AS mentions,
               (SELECT count(DISTINCT entity_id) FROM report_entity_daily) AS entities_mentioned,
               (SELECT count(*) FROM loads) AS loads,
               (SELECT max(started_at) FROM loads) AS last_load_at,
               (SELECT status FROM loads ORDER BY load_id DESC LIMIT 1) AS last_load_status,
               (SELECT count(*) FROM load_rejects) AS rejects""",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _materialize(name: str, query: str, what: str, columns: dict[str, str]) -> None:
    op.execute(f"CREATE MATERIALIZED VIEW {name} AS {query}")
    op.execute(f"COMMENT ON MATERIALIZED VIEW {name} IS {_literal(what)}")
    for column, text in columns.items():
        op.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")


def upgrade() -> None:
    refreshed = " Materialized: refreshed after each load and by `dbapp report refresh`."
    _materialize(
        "report_entity_totals",
        TOTALS,
        "All-time mentions and articles per entity and source." + refreshed,
        TOTALS_COMMENTS,
    )
    _materialize(
        "report_entity_monthly",
        MONTHLY,
        "Mentions and mentioning articles per entity, source and month." + refreshed,
        MONTHLY_COMMENTS,
    )
    _materialize(
        "report_source_entity_counts",
        SOURCE_COUNTS,
        "Distinct entities per source per month and per year." + refreshed,
        SOURCE_COUNTS_COMMENTS,
    )
    # Unique indexes, so REFRESH ... CONCURRENTLY keeps them readable.
    op.execute(
        "CREATE UNIQUE INDEX ux_report_entity_totals ON report_entity_totals (entity_id, source_id)"
    )
    op.execute(
        "CREATE UNIQUE INDEX ux_report_entity_monthly ON report_entity_monthly "
        "(entity_id, source_id, month) NULLS NOT DISTINCT"
    )
    op.execute("CREATE INDEX ix_report_entity_monthly_month ON report_entity_monthly (month)")
    op.execute(
        "CREATE UNIQUE INDEX ux_report_source_entity_counts ON report_source_entity_counts "
        "(source_id, grain, period) NULLS NOT DISTINCT"
    )
    op.execute(
        "CREATE INDEX ix_report_co_mentions_documents ON report_co_mentions (documents DESC)"
    )
    for name, query in NEW_VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")


def downgrade() -> None:
    for name, query in OLD_VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
    op.execute("DROP INDEX ix_report_co_mentions_documents")
    op.execute("DROP MATERIALIZED VIEW report_source_entity_counts")
    op.execute("DROP MATERIALIZED VIEW report_entity_monthly")
    op.execute("DROP MATERIALIZED VIEW report_entity_totals")
