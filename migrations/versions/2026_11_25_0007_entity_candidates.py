"""Candidate entities that NER proposed and a person (or a threshold) accepts or rejects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

entity_candidates holds one row per normalised name NER found that the catalogue did not know:
its kind (the label NER gave it most often), its status ('new', 'accepted', 'rejected'), the
entity it became, and a few example contexts. candidate_sightings records each document it was
seen in, with the label it had there, so re-running discovery over the same documents counts
nothing twice. Candidates are not mentions.

Frozen history: never import from dbapp here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entity_candidates",
        sa.Column("candidate_id", sa.Integer, sa.Identity(always=False), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("normalised", sa.Text, nullable=False),
        sa.Column("status", sa.Text, server_default="new", nullable=False),
        sa.Column(
            "entity_id",
            sa.Integer,
            sa.ForeignKey(
                "entities.entity_id",
                ondelete="SET NULL",
                name="fk_entity_candidates_entity_id_entities",
            ),
        ),
        sa.Column("examples", postgresql.JSONB, server_default="[]", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('new', 'accepted', 'rejected')", name="ck_entity_candidates_status"
        ),
        sa.CheckConstraint(
            "kind IN ('PERSON', 'ORG', 'GPE', 'LOC', 'NORP', 'EVENT', 'MISC')",
            name="ck_entity_candidates_kind",
        ),
        sa.UniqueConstraint("normalised", name="uq_entity_candidates_normalised"),
    )
    op.create_table(
        "candidate_sightings",
        sa.Column(
            "candidate_id",
            sa.Integer,
            sa.ForeignKey(
                "entity_candidates.candidate_id",
                ondelete="CASCADE",
                name="fk_candidate_sightings_candidate_id_entity_candidates",
            ),
            primary_key=True,
        ),
        sa.Column(
            "document_id",
            sa.BigInteger,
            sa.ForeignKey(
                "documents.document_id",
                ondelete="CASCADE",
                name="fk_candidate_sightings_document_id_documents",
            ),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_candidate_sightings_document_id", "candidate_sightings", ["document_id"])
    op.execute(
        "COMMENT ON TABLE entity_candidates IS 'Names NER proposed that the catalogue lacks; "
        "`dbapp entities accept` turns one into an entity. Candidates are not mentions.'"
    )


def downgrade() -> None:
    op.drop_index("ix_candidate_sightings_document_id", table_name="candidate_sightings")
    op.drop_table("candidate_sightings")
    op.drop_table("entity_candidates")
