"""Rejects keep their true size and digest when their raw bytes are capped; loads get a
liveness lock key nobody can guess.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

load_rejects.raw holds at most a capped prefix of a huge record; raw_size and raw_sha256 say
what the whole record was, so a truncated reject is never mistaken for the input. loads.lock_key
is a random 63-bit advisory lock key a running load holds: a login that can read the ledger
cannot take a future load's lock first (load ids are predictable, this key is not). A unique
index keeps one reject per bad record across re-runs and concurrent loads.

Frozen history: never import from dbapp here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("load_rejects", sa.Column("raw_size", sa.BigInteger(), nullable=True))
    op.add_column("load_rejects", sa.Column("raw_sha256", sa.String(64), nullable=True))
    op.execute(
        "UPDATE load_rejects SET raw_size = length(raw), "
        "raw_sha256 = encode(sha256(raw), 'hex') WHERE raw IS NOT NULL"
    )
    op.create_index("ix_load_rejects_raw_sha256", "load_rejects", ["raw_sha256"])
    # One row per bad record, however often (or however concurrently) it is loaded: the
    # first reject of a record stays, later copies go.
    op.execute(
        "DELETE FROM load_rejects r USING load_rejects f "
        "WHERE f.load_reject_id < r.load_reject_id AND f.path = r.path "
        "AND f.line_number IS NOT DISTINCT FROM r.line_number "
        "AND f.record_number IS NOT DISTINCT FROM r.record_number "
        "AND f.error_code = r.error_code AND f.raw_sha256 IS NOT DISTINCT FROM r.raw_sha256"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_load_rejects_record ON load_rejects (md5(path), "
        "coalesce(line_number, -1), coalesce(record_number, -1), error_code, "
        "coalesce(raw_sha256, ''))"
    )
    op.add_column("loads", sa.Column("lock_key", sa.BigInteger(), nullable=True))
    op.execute("COMMENT ON COLUMN load_rejects.raw_size IS 'Size in bytes of the whole record.'")
    op.execute(
        "COMMENT ON COLUMN load_rejects.raw_sha256 IS "
        "'SHA-256 of the whole record (raw may hold only its first bytes).'"
    )


def downgrade() -> None:
    op.drop_column("loads", "lock_key")
    op.drop_index("uq_load_rejects_record", table_name="load_rejects")
    op.drop_index("ix_load_rejects_raw_sha256", table_name="load_rejects")
    op.drop_column("load_rejects", "raw_sha256")
    op.drop_column("load_rejects", "raw_size")
