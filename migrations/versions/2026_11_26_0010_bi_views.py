"""BI views that explain themselves, roll up correctly, chart without gaps, and map.

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
- `entity_relations`: a city or region is located in a country, a demonym belongs to a country,
  an organisation body is part of its parent (UN Security Council -> United Nations). dbapp
  fills it from the catalogue when it seeds; users add their own.
- `report_entity_rollups` gives every entity its ISO 3166 alpha-3 code, country and parent;
  `report_top_entities` and `report_entity_months` carry the same columns, so a BI map works
  from the view alone.

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

RELATIONS = """
CREATE TABLE entity_relations (
    entity_id integer NOT NULL
        CONSTRAINT fk_entity_relations_entity_id_entities
        REFERENCES entities (entity_id) ON DELETE CASCADE,
    relation text NOT NULL,
    related_entity_id integer NOT NULL
        CONSTRAINT fk_entity_relations_related_entity_id_entities
        REFERENCES entities (entity_id) ON DELETE CASCADE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT pk_entity_relations PRIMARY KEY (entity_id, relation, related_entity_id),
    CONSTRAINT ck_entity_relations_relation
        CHECK (relation IN ('located_in', 'demonym_of', 'part_of', 'based_in')),
    CONSTRAINT ck_entity_relations_not_self CHECK (entity_id <> related_entity_id)
);
CREATE INDEX ix_entity_relations_related_entity_id ON entity_relations (related_entity_id);
COMMENT ON TABLE entity_relations IS
    'How entities roll up: located_in (a city in its country), demonym_of (Japanese to Japan), '
    'part_of (a body in its organisation), based_in (an organisation in its country).';
"""
ISO = "'^[A-Z]{3}$'"
ROLLUPS = f"""
CREATE VIEW report_entity_rollups AS
SELECT e.entity_id, e.kind, e.canonical_name AS entity, e.external_id,
       CASE WHEN e.external_id ~ {ISO} THEN e.external_id
            WHEN c.external_id ~ {ISO} THEN c.external_id END AS iso_alpha3,
       CASE WHEN c.entity_id IS NOT NULL THEN c.entity_id
            WHEN e.kind = 'GPE' AND e.external_id ~ {ISO} THEN e.entity_id END AS country_id,
       CASE WHEN c.entity_id IS NOT NULL THEN c.canonical_name
            WHEN e.kind = 'GPE' AND e.external_id ~ {ISO} THEN e.canonical_name END AS country,
       p.entity_id AS parent_id, p.canonical_name AS parent
FROM entities e
LEFT JOIN LATERAL (
    SELECT x.entity_id, x.canonical_name, x.external_id
    FROM entity_relations r JOIN entities x ON x.entity_id = r.related_entity_id
    WHERE r.entity_id = e.entity_id AND r.relation IN ('located_in', 'demonym_of', 'based_in')
    ORDER BY (x.kind = 'GPE' AND x.external_id ~ {ISO}) DESC, r.relation, x.entity_id
    LIMIT 1
) c ON true
LEFT JOIN LATERAL (
    SELECT x.entity_id, x.canonical_name
    FROM entity_relations r JOIN entities x ON x.entity_id = r.related_entity_id
    WHERE r.entity_id = e.entity_id AND r.relation = 'part_of'
    ORDER BY x.entity_id
    LIMIT 1
) p ON true
"""
ROLLUPS_COMMENTS = {
    None: "Every entity with its ISO code, country and parent organisation: what --rollup and "
    "BI maps use.",
    "entity_id": "One row per entity. Entity number.",
    "kind": "Entity kind.",
    "entity": "Canonical name.",
    "external_id": "ISO 3166 alpha-3 code (countries, demonyms) or Wikidata QID, where known.",
    "iso_alpha3": "ISO 3166 alpha-3 code of the entity, or of its country: for maps.",
    "country_id": "The country it rolls up to (itself for a country), where known.",
    "country": "That country's name.",
    "parent_id": "The organisation it is part of, where known.",
    "parent": "That organisation's name.",
}
TOP_ENTITIES = """
CREATE OR REPLACE VIEW report_top_entities AS
SELECT t.entity_id, t.kind, t.entity, sum(t.mentions)::integer AS mentions,
       sum(t.documents)::integer AS documents,
       sum(t.documents)::float8
           / NULLIF((SELECT sum(documents) FROM report_daily_documents), 0)::float8
           AS share_of_documents,
       min(t.first_seen) AS first_seen, max(t.last_seen) AS last_seen,
       r.external_id, r.iso_alpha3, r.country, r.parent
FROM report_entity_totals t
LEFT JOIN report_entity_rollups r ON r.entity_id = t.entity_id
GROUP BY t.entity_id, t.kind, t.entity, r.external_id, r.iso_alpha3, r.country, r.parent
"""
TOP_ENTITIES_BEFORE = """
CREATE OR REPLACE VIEW report_top_entities AS
SELECT entity_id, kind, entity, sum(mentions)::integer AS mentions,
       sum(documents)::integer AS documents,
       sum(documents)::float8
           / NULLIF((SELECT sum(documents) FROM report_daily_documents), 0)::float8
           AS share_of_documents,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM report_entity_totals
GROUP BY entity_id, kind, entity
"""
TOP_COMMENTS_BEFORE = {
    "entity_id": "Entity number.",
    "kind": "Entity kind.",
    "entity": "Canonical name.",
    "mentions": "Mentions (bylines excluded).",
    "documents": "Articles mentioning it.",
    "share_of_documents": "Articles mentioning it / all articles (normalised attention).",
    "first_seen": "Earliest publication date of an article mentioning it.",
    "last_seen": "Latest publication date of an article mentioning it.",
}
MAP_COMMENTS = {
    "external_id": "ISO 3166 alpha-3 code or Wikidata QID, where known.",
    "iso_alpha3": "ISO 3166 alpha-3 code of the entity or of its country: for BI maps.",
    "country": "The country it rolls up to (itself for a country), where known.",
    "parent": "The organisation it is part of, where known.",
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
       coalesce(h.documents, 0)::float8 / NULLIF(t.documents, 0) AS share_of_documents,
       r.iso_alpha3, r.country, r.parent
FROM entities e
CROSS JOIN calendar c
LEFT JOIN hits h ON h.entity_id = e.entity_id AND h.month = c.month
LEFT JOIN totals t ON t.month = c.month
LEFT JOIN report_entity_rollups r ON r.entity_id = e.entity_id
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
    "iso_alpha3": MAP_COMMENTS["iso_alpha3"],
    "country": MAP_COMMENTS["country"],
    "parent": MAP_COMMENTS["parent"],
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(view: str, column: str, text: str) -> None:
    op.execute(f"COMMENT ON COLUMN {view}.{column} IS {_quote(text)}")


def _comments(view: str, comments: dict[str | None, str]) -> None:
    for column, text in comments.items():
        if column is None:
            op.execute(f"COMMENT ON VIEW {view} IS {_quote(text)}")
        else:
            _comment(view, column, text)


def upgrade() -> None:
    op.execute(RELATIONS)
    op.execute(ROLLUPS)
    _comments("report_entity_rollups", ROLLUPS_COMMENTS)  # type: ignore[arg-type]
    op.execute(TOP_ENTITIES)
    for column, text in MAP_COMMENTS.items():
        _comment("report_top_entities", column, text)
    for view, (column, before, row) in ROWS.items():
        _comment(view, column, row + before)
    for (view, column), text in SHARES.items():
        _comment(view, column, text + ROLL_UP)
    op.execute(MONTHS)
    _comments("report_entity_months", MONTHS_COMMENTS)  # type: ignore[arg-type]
    # The reader role (0004) gets SELECT on new relations by default privileges only when the
    # same owner creates them; say it outright.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbapp_reader') THEN "
        "GRANT SELECT ON report_entity_months, report_entity_rollups, entity_relations "
        "TO dbapp_reader; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP VIEW report_entity_months")
    # Columns cannot be dropped from a view in place: recreate it as 0008 left it (its
    # dependants first: none).
    op.execute("DROP VIEW report_top_entities")
    op.execute(TOP_ENTITIES_BEFORE)
    op.execute(
        "COMMENT ON VIEW report_top_entities IS 'Entities by attention: mentions, articles, "
        "share of all articles, first and last seen.'"
    )
    for column, text in TOP_COMMENTS_BEFORE.items():
        _comment("report_top_entities", column, text)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbapp_reader') THEN "
        "GRANT SELECT ON report_top_entities TO dbapp_reader; END IF; END $$"
    )
    op.execute("DROP VIEW report_entity_rollups")
    op.execute("DROP TABLE entity_relations")
    for (view, column), text in SHARES.items():
        _comment(view, column, text)
    for view, (column, before, _) in ROWS.items():
        _comment(view, column, before)
