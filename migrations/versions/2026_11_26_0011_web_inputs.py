"""News as it comes: the original page's digest and size, and the source's own tags.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

- `documents.original_sha256` / `original_bytes`: for a document extracted from HTML (a page,
  a WARC record, a feed item), the SHA-256 and size of the original bytes. The stored `body` is
  what extraction gave, and mention offsets point into it.
- `document_tags`: the source's own tags (Reuters TOPICS/PLACES/PEOPLE/ORGS/EXCHANGES, a JSON
  `tags` field, feed categories): one row per document, vocabulary and tag.
- `report_tags`: articles per vocabulary and tag; `report_document_tags`: one row per tagged
  article and tag, with its date and source, for BI filters.

Frozen history: never import from dbapp here; views are written in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAGS = """
CREATE TABLE document_tags (
    document_id bigint NOT NULL
        CONSTRAINT fk_document_tags_document_id_documents
        REFERENCES documents (document_id) ON DELETE CASCADE,
    vocabulary text NOT NULL,
    tag text NOT NULL,
    CONSTRAINT pk_document_tags PRIMARY KEY (document_id, vocabulary, tag),
    CONSTRAINT ck_document_tags_vocabulary CHECK (vocabulary <> ''),
    CONSTRAINT ck_document_tags_tag CHECK (tag <> '')
);
CREATE INDEX ix_document_tags_vocabulary_tag ON document_tags (vocabulary, tag);
COMMENT ON TABLE document_tags IS
    'The source''s own tags of an article: Reuters TOPICS/PLACES/PEOPLE/ORGS/EXCHANGES, a JSON '
    'tags/topic/keywords field, feed categories. One row per article, vocabulary and tag.';
COMMENT ON COLUMN document_tags.vocabulary IS
    'Whose tag: topics, places, people, orgs, exchanges (Reuters); the field''s name for JSON '
    'and CSV (tags, keywords, section...); tags for a web page''s; categories for a feed''s.';
COMMENT ON COLUMN document_tags.tag IS 'The tag as the source wrote it (trimmed).';
"""

VIEWS = """
CREATE VIEW report_tags AS
SELECT t.vocabulary, t.tag, count(*)::integer AS documents,
       min(d.published_on) AS first_published, max(d.published_on) AS last_published
FROM document_tags t JOIN documents d USING (document_id)
GROUP BY t.vocabulary, t.tag;
COMMENT ON VIEW report_tags IS 'The source''s own tags: articles per vocabulary and tag.';
COMMENT ON COLUMN report_tags.vocabulary IS
    'One row per vocabulary and tag. Whose tag: topics, places, people, orgs, exchanges '
    '(Reuters); the field''s name for JSON and CSV; tags for a web page; categories for a feed.';
COMMENT ON COLUMN report_tags.tag IS 'The tag as the source wrote it.';
COMMENT ON COLUMN report_tags.documents IS 'Articles with this tag.';
COMMENT ON COLUMN report_tags.first_published IS 'The earliest such article''s date.';
COMMENT ON COLUMN report_tags.last_published IS 'The latest such article''s date.';

CREATE VIEW report_document_tags AS
SELECT t.document_id, d.published_on, s.name AS source, t.vocabulary, t.tag
FROM document_tags t JOIN documents d USING (document_id) JOIN sources s USING (source_id);
COMMENT ON VIEW report_document_tags IS
    'Every tagged article with its tags, date and source: a filter for BI charts.';
COMMENT ON COLUMN report_document_tags.document_id IS
    'One row per article and tag. The article (dbapp show DOCUMENT_ID).';
COMMENT ON COLUMN report_document_tags.published_on IS 'Publication date (NULL if unknown).';
COMMENT ON COLUMN report_document_tags.source IS 'Source name.';
COMMENT ON COLUMN report_document_tags.vocabulary IS
    'Whose tag (topics, places, keywords, tags, categories...).';
COMMENT ON COLUMN report_document_tags.tag IS 'The tag.';
"""


def upgrade() -> None:
    op.execute(
        "ALTER TABLE documents ADD COLUMN original_sha256 text, ADD COLUMN original_bytes bigint"
    )
    op.execute(
        "COMMENT ON COLUMN documents.original_sha256 IS 'SHA-256 of the original bytes the "
        "text was extracted from (an HTML page, a WARC record, a feed item); NULL for text "
        "inputs.'"
    )
    op.execute("COMMENT ON COLUMN documents.original_bytes IS 'Size in bytes of that original.'")
    op.execute(TAGS)
    op.execute(VIEWS)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbapp_reader') THEN "
        "GRANT SELECT ON document_tags, report_tags, report_document_tags TO dbapp_reader; "
        "END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP VIEW report_document_tags")
    op.execute("DROP VIEW report_tags")
    op.execute("DROP TABLE document_tags")
    op.execute("ALTER TABLE documents DROP COLUMN original_bytes, DROP COLUMN original_sha256")
