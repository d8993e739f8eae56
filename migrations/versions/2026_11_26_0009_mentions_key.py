"""Mentions are keyed by what they are: (document, start, end, entity).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

The mentions table had two unique indexes: the surrogate `mention_id` primary key and the
natural key (document_id, start, end, entity_id) the loader deduplicates on. The natural key
becomes the primary key and the surrogate index goes: one index less to maintain for every
mention written (14 million at a million articles), and a key that leads with `document_id`,
which Citus requires of a table distributed on that column (see SCALING.md). `mention_id` stays
as a column with its identity default: it still numbers mentions in the report views.

Frozen history: never import from dbapp here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE mentions DROP CONSTRAINT pk_mentions")
    # One statement: never a moment without the key the loader's ON CONFLICT needs. The index
    # is built again (about a minute at 14 million mentions).
    op.execute(
        "ALTER TABLE mentions DROP CONSTRAINT uq_mentions_document_id_start_end_entity_id, "
        'ADD CONSTRAINT pk_mentions PRIMARY KEY (document_id, start, "end", entity_id)'
    )


def downgrade() -> None:
    op.execute("ALTER TABLE mentions DROP CONSTRAINT pk_mentions")
    op.execute(
        "ALTER TABLE mentions "
        "ADD CONSTRAINT uq_mentions_document_id_start_end_entity_id "
        'UNIQUE (document_id, start, "end", entity_id), '
        "ADD CONSTRAINT pk_mentions PRIMARY KEY (mention_id)"
    )
