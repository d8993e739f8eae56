"""Report views for BI tools and psql: friendly names, real types, comments on everything.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Heavy aggregates are materialized views (refreshed by `dbapp report refresh` and after loads);
the rest are plain views over them or over the tables. Byline mentions (authors) are excluded
from attention counts: an author writes an article, the article does not mention them.

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MATERIALIZED = {
    "report_daily_documents": """
        SELECT d.source_id, s.name AS source, d.published_on AS day,
               count(*)::integer AS documents, sum(d.word_count)::bigint AS words
        FROM documents d JOIN sources s USING (source_id)
        GROUP BY d.source_id, s.name, d.published_on""",
    "report_entity_daily": """
        SELECT m.entity_id, e.kind, e.canonical_name AS entity, d.source_id, s.name AS source,
               d.published_on AS day, count(*)::integer AS mentions,
               count(DISTINCT m.document_id)::integer AS documents
        FROM mentions m
        JOIN documents d USING (document_id)
        JOIN entities e USING (entity_id)
        JOIN sources s ON s.source_id = d.source_id
        WHERE m.role <> 'byline'
        GROUP BY m.entity_id, e.kind, e.canonical_name, d.source_id, s.name, d.published_on""",
    "report_co_mentions": """
        WITH doc_entities AS (
            SELECT DISTINCT document_id, entity_id FROM mentions WHERE role <> 'byline'
        ),
        per_entity AS (
            SELECT entity_id, count(*)::float8 AS documents FROM doc_entities GROUP BY entity_id
        ),
        pairs AS (
            SELECT a.entity_id AS a_id, b.entity_id AS b_id, count(*)::float8 AS together
            FROM doc_entities a
            JOIN doc_entities b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
            GROUP BY a.entity_id, b.entity_id
        ),
        total AS (SELECT count(*)::float8 AS n FROM documents)
        SELECT p.a_id AS entity_a_id, ea.canonical_name AS entity_a, ea.kind AS kind_a,
               p.b_id AS entity_b_id, eb.canonical_name AS entity_b, eb.kind AS kind_b,
               p.together::integer AS documents,
               pa.documents::integer AS documents_a, pb.documents::integer AS documents_b,
               t.n::integer AS total_documents,
               p.together * t.n / (pa.documents * pb.documents) AS lift,
               ln(p.together * t.n / (pa.documents * pb.documents)) AS pmi
        FROM pairs p
        JOIN per_entity pa ON pa.entity_id = p.a_id
        JOIN per_entity pb ON pb.entity_id = p.b_id
        JOIN entities ea ON ea.entity_id = p.a_id
        JOIN entities eb ON eb.entity_id = p.b_id
        CROSS JOIN total t""",
}
# Unique indexes (on plain columns, NULLs equal) let REFRESH ... CONCURRENTLY keep them readable.
MATERIALIZED_INDEXES = [
    "CREATE UNIQUE INDEX ux_report_daily_documents ON report_daily_documents "
    "(source_id, day) NULLS NOT DISTINCT",
    "CREATE INDEX ix_report_daily_documents_day ON report_daily_documents (day)",
    "CREATE UNIQUE INDEX ux_report_entity_daily ON report_entity_daily "
    "(entity_id, source_id, day) NULLS NOT DISTINCT",
    "CREATE INDEX ix_report_entity_daily_day ON report_entity_daily (day)",
    "CREATE UNIQUE INDEX ux_report_co_mentions ON report_co_mentions (entity_a_id, entity_b_id)",
    "CREATE INDEX ix_report_co_mentions_entity_b_id ON report_co_mentions (entity_b_id)",
]

VIEWS = {
    "report_documents": """
        SELECT d.document_id, s.name AS source, d.published_on, d.title, d.author,
               d.dateline_place, d.dateline_country, d.language, d.word_count, d.char_count,
               d.url, d.external_id, d.origin_path, d.created_at AS loaded_at, d.load_id
        FROM documents d JOIN sources s USING (source_id)""",
    "report_mentions": """
        SELECT m.mention_id, m.document_id, d.published_on, s.name AS source, m.entity_id,
               e.canonical_name AS entity, e.kind, m.surface, m.role,
               m.start AS start_offset, m."end" AS end_offset, m.extractor
        FROM mentions m
        JOIN entities e USING (entity_id)
        JOIN documents d USING (document_id)
        JOIN sources s ON s.source_id = d.source_id""",
    "report_top_entities": """
        SELECT entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents,
               sum(documents)::float8 / NULLIF(
                   (SELECT sum(documents) FROM report_daily_documents), 0) AS share_of_documents,
               min(day) AS first_seen, max(day) AS last_seen
        FROM report_entity_daily
        GROUP BY entity_id, kind, entity""",
    "report_entity_timeline": """
        SELECT e.entity_id, e.kind, e.entity, e.day, sum(e.mentions)::integer AS mentions,
               sum(e.documents)::integer AS documents, t.documents AS documents_that_day,
               sum(e.documents)::float8 / t.documents AS share_of_documents
        FROM report_entity_daily e
        JOIN (SELECT day, sum(documents)::integer AS documents FROM report_daily_documents
              WHERE day IS NOT NULL GROUP BY day) t USING (day)
        GROUP BY e.entity_id, e.kind, e.entity, e.day, t.documents""",
    "report_source_coverage": """
        SELECT source_id, source, day, documents, words FROM report_daily_documents""",
    "report_source_entities": """
        SELECT source_id, source, entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents
        FROM report_entity_daily
        GROUP BY source_id, source, entity_id, kind, entity""",
    "report_keyword_in_context": """
        SELECT m.mention_id, m.document_id, d.published_on, s.name AS source, m.entity_id,
               e.canonical_name AS entity, e.kind,
               substr(d.body, greatest(m.start - 60, 0) + 1, least(m.start, 60)) AS left_context,
               m.surface AS match, substr(d.body, m."end" + 1, 60) AS right_context, m.role
        FROM mentions m
        JOIN documents d USING (document_id)
        JOIN entities e USING (entity_id)
        JOIN sources s ON s.source_id = d.source_id""",
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

COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "report_documents": (
        "One row per article, with its source name. Join to other report_ views on document_id.",
        {
            "document_id": "Document number (documents.document_id).",
            "source": "Outlet or collection the article came from.",
            "published_on": "Publication date; empty when the input had none or an unclear one.",
            "title": "Headline, when the input had one.",
            "author": "Byline author, when known.",
            "dateline_place": "Place in the dateline (e.g. Baku).",
            "dateline_country": "Country in the dateline, when given.",
            "language": "Language code of the text.",
            "word_count": "Words in the text.",
            "char_count": "Characters in the text.",
            "url": "Link to the original, when known.",
            "external_id": "The input's own identifier (file name id, record id, NEWID).",
            "origin_path": "File the article was loaded from.",
            "loaded_at": "When dbapp stored it.",
            "load_id": "The load that stored it (see loads).",
        },
    ),
    "report_mentions": (
        "Every mention of an entity in an article, with exact character offsets into the text.",
        {
            "mention_id": "Mention number.",
            "document_id": "The article (report_documents.document_id).",
            "published_on": "The article's publication date.",
            "source": "The article's source.",
            "entity_id": "The entity mentioned.",
            "entity": "Canonical name of the entity (aliases are merged into it).",
            "kind": "PERSON, ORG, GPE (country/city), LOC, NORP (nationality), EVENT or MISC.",
            "surface": "The exact text in the article.",
            "role": "body, dateline (where it was reported from) or byline (the author).",
            "start_offset": "First character of the mention (0-based) in documents.body.",
            "end_offset": "Character after the mention in documents.body.",
            "extractor": "The extractor that found it (gazetteer, spacy).",
        },
    ),
    "report_daily_documents": (
        "Articles per source per publication day. Materialized: refreshed after each load "
        "and by `dbapp report refresh`.",
        {
            "source_id": "Source number.",
            "source": "Source name.",
            "day": "Publication date (empty for undated articles).",
            "documents": "Articles that day.",
            "words": "Words in those articles.",
        },
    ),
    "report_entity_daily": (
        "Mentions and mentioning articles per entity, source and day (bylines excluded). "
        "Materialized: refreshed after each load and by `dbapp report refresh`.",
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "source_id": "Source number.",
            "source": "Source name.",
            "day": "Publication date (empty for undated articles).",
            "mentions": "Mentions that day.",
            "documents": "Articles mentioning the entity that day.",
        },
    ),
    "report_co_mentions": (
        "Pairs of entities mentioned in the same articles, with lift and PMI (how much more "
        "often than chance). Materialized: refreshed after each load.",
        {
            "entity_a_id": "First entity's number (the smaller one).",
            "entity_a": "First entity's name.",
            "kind_a": "First entity's kind.",
            "entity_b_id": "Second entity's number.",
            "entity_b": "Second entity's name.",
            "kind_b": "Second entity's kind.",
            "documents": "Articles mentioning both.",
            "documents_a": "Articles mentioning the first.",
            "documents_b": "Articles mentioning the second.",
            "total_documents": "All articles.",
            "lift": "documents x total / (documents_a x documents_b); 1 = as often as chance.",
            "pmi": "Pointwise mutual information: ln(lift).",
        },
    ),
    "report_top_entities": (
        "Entities by attention: mentions, articles, share of all articles, first and last seen.",
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "mentions": "Mentions (bylines excluded).",
            "documents": "Articles mentioning it.",
            "share_of_documents": "Articles mentioning it / all articles (normalised attention).",
            "first_seen": "Earliest publication date of an article mentioning it.",
            "last_seen": "Latest publication date of an article mentioning it.",
        },
    ),
    "report_entity_timeline": (
        "Attention per entity per day, absolute and as a share of that day's articles.",
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "day": "Publication date.",
            "mentions": "Mentions that day.",
            "documents": "Articles mentioning it that day.",
            "documents_that_day": "All articles that day.",
            "share_of_documents": "documents / documents_that_day.",
        },
    ),
    "report_source_coverage": (
        "Articles and words per source per day.",
        {
            "source_id": "Source number.",
            "source": "Source name.",
            "day": "Publication date (empty for undated articles).",
            "documents": "Articles.",
            "words": "Words.",
        },
    ),
    "report_source_entities": (
        "Which entities each source mentions, and how much.",
        {
            "source_id": "Source number.",
            "source": "Source name.",
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "mentions": "Mentions in this source's articles.",
            "documents": "This source's articles mentioning it.",
        },
    ),
    "report_keyword_in_context": (
        "Every mention with 60 characters of text either side (keyword in context).",
        {
            "mention_id": "Mention number.",
            "document_id": "The article.",
            "published_on": "Publication date.",
            "source": "Source name.",
            "entity_id": "Entity number.",
            "entity": "Canonical name.",
            "kind": "Entity kind.",
            "left_context": "Up to 60 characters before the mention.",
            "match": "The mention's exact text.",
            "right_context": "Up to 60 characters after the mention.",
            "role": "body, dateline or byline.",
        },
    ),
    "report_overview": (
        "The corpus in one row: articles, sources, dates, mentions, loads and rejects.",
        {
            "documents": "Articles stored.",
            "sources": "Sources with at least one article.",
            "first_published": "Earliest publication date.",
            "last_published": "Latest publication date.",
            "undated_documents": "Articles without a publication date.",
            "mentions": "Entity mentions (bylines excluded; as of the last refresh).",
            "entities_mentioned": "Distinct entities mentioned (as of the last refresh).",
            "loads": "Runs of dbapp load.",
            "last_load_at": "When the latest load started.",
            "last_load_status": "How the latest load ended.",
            "rejects": "Input records rejected, kept in load_rejects.",
        },
    ),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(name: str, materialized: bool) -> None:
    what, columns = COMMENTS[name]
    kind = "MATERIALIZED VIEW" if materialized else "VIEW"
    op.execute(f"COMMENT ON {kind} {name} IS {_literal(what)}")
    for column, text in columns.items():
        op.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")


def upgrade() -> None:
    for name, query in MATERIALIZED.items():
        op.execute(f"CREATE MATERIALIZED VIEW {name} AS {query}")
        _comment(name, materialized=True)
    for statement in MATERIALIZED_INDEXES:
        op.execute(statement)
    for name, query in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {query}")
        _comment(name, materialized=False)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for name in reversed(MATERIALIZED):
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {name}")
