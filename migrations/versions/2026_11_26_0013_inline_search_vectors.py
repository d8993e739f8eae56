"""Keep each document's tsvector in its row, not in the TOAST table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

A document's `search_vector` (about 2.7 KB for a wire story) went out of line for 99.9% of the
documents: both it and the body are EXTENDED, and the toaster moves the larger one out first.
Every `@@` evaluated on a row (a phrase's position re-check, a page sample, a sequential scan)
then fetched it from TOAST: "oil prices" re-checked 182,000 candidates in 1.15 s at 1M articles.

- `search_vector` is stored MAIN: compressed in the row if need be, moved out only as a last
  resort; the body (EXTENDED) goes out first.
- `toast_tuple_target = 4080` (half a page): a row of metadata and a typical tsvector stays
  whole. Measured at 100,000 articles: the same insert time (27.1 s against 28.4 s), the same
  total size (548 against 520 MB), a phrase count twice as fast (77 against 148 ms).

Rows stored before keep their layout until rewritten (`VACUUM FULL documents` applies it).
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
    op.execute("ALTER TABLE documents SET (toast_tuple_target = 4080)")


def downgrade() -> None:
    op.execute("ALTER TABLE documents RESET (toast_tuple_target)")
    op.execute("ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE EXTENDED")
