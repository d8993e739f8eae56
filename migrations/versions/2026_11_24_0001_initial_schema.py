"""Initial schema: sources, documents (with full-text vector), entities, aliases, mentions, loads.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTITY_KINDS = "kind IN ('PERSON', 'ORG', 'GPE', 'LOC', 'NORP', 'EVENT', 'MISC')"
SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')"
)


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("source_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, server_default="unknown", nullable=False),
        sa.Column("homepage", sa.Text),
        sa.Column("domain", sa.Text),
        sa.Column("country", sa.Text),
        _created_at(),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )

    op.create_table(
        "loads",
        sa.Column("load_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.Text, server_default="running", nullable=False),
        sa.Column("arguments", postgresql.JSONB, server_default="{}", nullable=False),
        sa.Column("dbapp_version", sa.Text, nullable=False),
        sa.Column("hostname", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("files_seen", sa.Integer, server_default="0", nullable=False),
        sa.Column("bytes_read", sa.BigInteger, server_default="0", nullable=False),
        sa.Column("documents_seen", sa.Integer, server_default="0", nullable=False),
        sa.Column("documents_inserted", sa.Integer, server_default="0", nullable=False),
        sa.Column("documents_duplicate", sa.Integer, server_default="0", nullable=False),
        sa.Column("documents_rejected", sa.Integer, server_default="0", nullable=False),
        sa.Column("mentions_inserted", sa.Integer, server_default="0", nullable=False),
        sa.Column("warnings", postgresql.JSONB, server_default="{}", nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_loads")),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'partial', 'failed', 'interrupted')",
            name=op.f("ck_loads_status"),
        ),
    )

    op.create_table(
        "load_rejects",
        sa.Column("load_reject_id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("load_id", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("line_number", sa.Integer),
        sa.Column("record_number", sa.Integer),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary),
        _created_at(),
        sa.PrimaryKeyConstraint("load_reject_id", name=op.f("pk_load_rejects")),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["loads.load_id"],
            name=op.f("fk_load_rejects_load_id_loads"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_load_rejects_load_id"), "load_rejects", ["load_id"])

    op.create_table(
        "documents",
        sa.Column("document_id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("external_id", sa.Text),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("published_on", sa.Date),
        sa.Column("dateline", sa.Text),
        sa.Column("dateline_place", sa.Text),
        sa.Column("dateline_country", sa.Text),
        sa.Column("author", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("language", sa.Text, server_default="en", nullable=False),
        sa.Column("char_count", sa.Integer, nullable=False),
        sa.Column("word_count", sa.Integer, nullable=False),
        sa.Column("origin_path", sa.Text),
        sa.Column("origin_line", sa.Integer),
        sa.Column("load_id", sa.Integer),
        _created_at(),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR,
            sa.Computed(SEARCH_VECTOR, persisted=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_documents")),
        sa.UniqueConstraint("content_sha256", name=op.f("uq_documents_content_sha256")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.source_id"], name=op.f("fk_documents_source_id_sources")
        ),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["loads.load_id"],
            name=op.f("fk_documents_load_id_loads"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "content_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_documents_content_sha256_hex")
        ),
        sa.CheckConstraint(
            "char_count >= 0 AND word_count >= 0", name=op.f("ck_documents_counts_non_negative")
        ),
    )
    op.create_index(op.f("ix_documents_external_id"), "documents", ["external_id"])
    op.create_index(op.f("ix_documents_published_on"), "documents", ["published_on"])
    op.create_index(op.f("ix_documents_load_id"), "documents", ["load_id"])
    op.create_index(
        "ix_documents_source_id_published_on", "documents", ["source_id", "published_on"]
    )
    op.create_index(
        "ix_documents_search_vector", "documents", ["search_vector"], postgresql_using="gin"
    )

    op.create_table(
        "entities",
        sa.Column("entity_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("canonical_name", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text),
        sa.Column("description", sa.Text),
        _created_at(),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_entities")),
        sa.UniqueConstraint("kind", "canonical_name", name=op.f("uq_entities_kind_canonical_name")),
        sa.UniqueConstraint("entity_id", "kind", name=op.f("uq_entities_entity_id_kind")),
        sa.CheckConstraint(ENTITY_KINDS, name=op.f("ck_entities_kind")),
    )

    op.create_table(
        "entity_aliases",
        sa.Column("entity_alias_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("alias", sa.Text, nullable=False),
        sa.Column("normalised", sa.Text, nullable=False),
        sa.Column("origin", sa.Text),
        _created_at(),
        sa.PrimaryKeyConstraint("entity_alias_id", name=op.f("pk_entity_aliases")),
        sa.ForeignKeyConstraint(
            ["entity_id", "kind"],
            ["entities.entity_id", "entities.kind"],
            name=op.f("fk_entity_aliases_entity_id_entities"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.UniqueConstraint("kind", "normalised", name=op.f("uq_entity_aliases_kind_normalised")),
    )
    op.create_index("ix_entity_aliases_entity_id", "entity_aliases", ["entity_id"])

    op.create_table(
        "mentions",
        sa.Column("mention_id", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("document_id", sa.BigInteger, nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        sa.Column("surface", sa.Text, nullable=False),
        sa.Column("role", sa.Text, server_default="body", nullable=False),
        sa.Column("extractor", sa.Text, nullable=False),
        sa.Column("extractor_version", sa.Text, nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_mentions")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.document_id"],
            name=op.f("fk_mentions_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.entity_id"],
            name=op.f("fk_mentions_entity_id_entities"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "document_id",
            "start",
            "end",
            "entity_id",
            name=op.f("uq_mentions_document_id_start_end_entity_id"),
        ),
        sa.CheckConstraint('start >= 0 AND start < "end"', name=op.f("ck_mentions_span")),
        sa.CheckConstraint(
            "role IN ('body', 'title', 'byline', 'dateline')", name=op.f("ck_mentions_role")
        ),
    )
    op.create_index("ix_mentions_entity_id_document_id", "mentions", ["entity_id", "document_id"])


def downgrade() -> None:
    op.drop_table("mentions")
    op.drop_table("entity_aliases")
    op.drop_table("entities")
    op.drop_table("documents")
    op.drop_table("load_rejects")
    op.drop_table("loads")
    op.drop_table("sources")
