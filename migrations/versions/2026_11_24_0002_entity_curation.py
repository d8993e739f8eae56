"""Entity curation: ignored surfaces, merge redirects, context-dependent aliases, catalogue imports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    # An ambiguous alias ("Georgia", "Jordan") counts only in documents that also contain one of
    # these terms; NULL means it always counts.
    op.add_column("entity_aliases", sa.Column("context_terms", postgresql.ARRAY(sa.Text)))

    op.create_table(
        "ignored_surfaces",
        sa.Column("ignored_surface_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column("surface", sa.Text, nullable=False),
        sa.Column("normalised", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        _created_at(),
        sa.PrimaryKeyConstraint("ignored_surface_id", name=op.f("pk_ignored_surfaces")),
        sa.UniqueConstraint("normalised", name=op.f("uq_ignored_surfaces_normalised")),
    )

    # After `entities merge A B`, A's (kind, name) points at B so re-seeding does not bring A back.
    op.create_table(
        "entity_redirects",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("canonical_name", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("kind", "canonical_name", name=op.f("pk_entity_redirects")),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.entity_id"],
            name=op.f("fk_entity_redirects_entity_id_entities"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_entity_redirects_entity_id"), "entity_redirects", ["entity_id"])

    op.create_table(
        "catalogue_imports",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("entities", sa.Integer, nullable=False),
        sa.Column("aliases", sa.Integer, nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_catalogue_imports")),
    )


def downgrade() -> None:
    op.drop_table("catalogue_imports")
    op.drop_table("entity_redirects")
    op.drop_table("ignored_surfaces")
    op.drop_column("entity_aliases", "context_terms")
