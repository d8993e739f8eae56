"""BI views that explain themselves, roll up correctly, and chart without gaps.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

- Each report view's first column's comment starts by saying what one row is: some BI tools
  show only column descriptions.
- Every share's comment says how to roll it up: sum the counts, then divide; never average
  the ratio (a per-day share averaged over a week weighs a quiet Sunday like a busy Monday).
- `report_entity_months`: attention per entity per month with a row for every month from the
  first article to the last, zeros included (line charts do not draw through empty months),
  the month's total articles next to the share.

Frozen history: never import from dbapp here; views are written in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# view -> (first column, its comment before, its comment now)
ROWS = {
    "report_co_mentions": ("entity_a_id", "First entity's number (the smaller one).",
                           "One row per pair of entities mentioned in the same articles. "),
    "report_daily_documents": ("source_id", "Source number.",
                               "One row per source and publication day. "),
    "report_documents": ("document_id", "Document number (documents.document_id).",
                         "One row per stored article. "),
    "report_entity_daily": ("entity_id", "Entity number.",
                            "One row per entity, source and day it was mentioned. "),
    "report_entity_monthly": ("entity_id", "Entity number.",
                              "One row per entity, source and month it was mentioned. "),
    "report_entity_timeline": ("entity_id", "Entity number.",
                               "One row per entity and day it was mentioned (all sources). "),
    "report_entity_totals": ("entity_id", "Entity number.",
                             "One row per entity and source, all time. "),
    "report_keyword_in_context": ("mention_id", "Mention number.",
                                  "One row per mention, with the text around it. "),
    "report_mentions": ("mention_id", "Mention number.", "One row per mention. "),
    "report_overview": ("documents", "Articles stored.",
                        "One row: the whole database at a glance. "),
    "report_source_coverage": ("source_id", "Source number.",
                               "One row per source and publication day. "),
    "report_source_entities": ("source_id", "Source number.",
                               "One row per source and entity it mentions. "),
    "report_source_entity_counts": ("source_id", "Source number.",
                                    "One row per source and month (or year). "),
    "report_top_entities": ("entity_id", "Entity number.", "One row per entity, all time. "),
}  # fmt: skip

ROLL_UP = (
    " To roll up (weeks, months, several entities), sum the counts and divide the sums; "
    "never average this column."
)
SHARES = {
    ("report_entity_timeline", "share_of_documents"): "documents / documents_that_day.",
    ("report_top_entities", "share_of_documents"): (
        "Articles mentioning it / all articles (normalised attention)."
    ),
}

MONTHS = """
CREATE VIEW report_entity_months AS
WITH totals AS (
    SELECT date_trunc('month', day)::date AS month, sum(documents)::integer AS documents
    FROM summary_source_days
    WHERE day IS NOT NULL
    GROUP BY 1
),
calendar AS (
    SELECT g::date AS month
    FROM (SELECT min(month) AS first, max(month) AS last FROM totals) b,
         generate_series(b.first, b.last, interval '1 month') AS g
),
hits AS (
    SELECT entity_id, month, sum(mentions)::integer AS mentions,
           sum(documents)::integer AS documents
    FROM summary_entity_months
    WHERE month IS NOT NULL
    GROUP BY 1, 2
)
SELECT e.entity_id, e.kind, e.canonical_name AS entity, e.external_id, c.month,
       coalesce(h.mentions, 0) AS mentions, coalesce(h.documents, 0) AS documents,
       coalesce(t.documents, 0) AS documents_in_month,
       coalesce(h.documents, 0)::float8 / NULLIF(t.documents, 0) AS share_of_documents
FROM entities e
CROSS JOIN calendar c
LEFT JOIN hits h ON h.entity_id = e.entity_id AND h.month = c.month
LEFT JOIN totals t ON t.month = c.month
WHERE EXISTS (SELECT 1 FROM summary_entities s WHERE s.entity_id = e.entity_id)
"""
MONTHS_COMMENTS = {
    None: "Attention per entity per month, every month from the first article to the last "
    "(zeros included), with the month's total articles next to the share.",
    "entity_id": "One row per entity (ever mentioned) and calendar month, zeros included. "
    "Entity number.",
    "kind": "Entity kind.",
    "entity": "Canonical name.",
    "external_id": "ISO 3166 alpha-3 code (countries) or Wikidata QID, where known.",
    "month": "First day of the month.",
    "mentions": "Mentions that month (0 if none).",
    "documents": "Articles mentioning it that month (0 if none).",
    "documents_in_month": "All articles that month (0 if none).",
    "share_of_documents": "documents / documents_in_month; empty when the month has no "
    "articles." + ROLL_UP,
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(view: str, column: str, text: str) -> None:
    op.execute(f"COMMENT ON COLUMN {view}.{column} IS {_quote(text)}")


def upgrade() -> None:
    for view, (column, before, row) in ROWS.items():
        _comment(view, column, row + before)
    for (view, column), text in SHARES.items():
        _comment(view, column, text + ROLL_UP)
    op.execute(MONTHS)
    for column, text in MONTHS_COMMENTS.items():
        if column is None:
            op.execute(f"COMMENT ON VIEW report_entity_months IS {_quote(text)}")
        else:
            _comment("report_entity_months", column, text)
    # The reader role (0004) gets SELECT on new views by default privileges only when the
    # same owner creates them; say it outright.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbapp_reader') THEN "
        "GRANT SELECT ON report_entity_months TO dbapp_reader; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP VIEW report_entity_months")
    for (view, column), text in SHARES.items():
        _comment(view, column, text)
    for view, (column, before, _) in ROWS.items():
        _comment(view, column, before)
