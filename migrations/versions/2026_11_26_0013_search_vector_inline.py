"""The search vector kept in the row, beside the article's other columns.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

- `documents.search_vector` is stored MAIN instead of EXTENDED. A phrase ('oil prices') is
  checked against each candidate article's word positions: with the tsvector out of line
  (~2.6 KB, over the 2 KB TOAST threshold, and not compressible) every candidate cost a TOAST
  index lookup and two chunk reads, ~3.2 us; in the row it costs ~1.3 us. The body goes out of
  line in its place (it is read only to show or export an article).
- Only rows written from now on are laid out this way; `VACUUM FULL documents` rewrites the
  older ones (it locks the table while it runs).

Frozen history: never import from dbapp here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE MAIN")


def downgrade() -> None:
    op.execute("ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE EXTENDED")
