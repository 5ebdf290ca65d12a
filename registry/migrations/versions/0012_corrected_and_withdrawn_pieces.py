"""corrected and withdrawn pieces

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

A maker may withdraw a piece before it is certified: a piece's status may be
`withdrawn`.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BEFORE = "status IN ('awaiting_assay', 'certified', 'assay_failed', 'revoked')"
_AFTER = "status IN ('awaiting_assay', 'certified', 'assay_failed', 'revoked', 'withdrawn')"


def _status_check(condition: str) -> None:
    # On SQLite, a copy of the table (registry.migrate turns foreign keys off for it).
    with op.batch_alter_table("piece", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_piece_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_piece_status"), condition)


def upgrade() -> None:
    _status_check(_AFTER)


def downgrade() -> None:
    op.execute("UPDATE piece SET status = 'awaiting_assay' WHERE status = 'withdrawn'")
    _status_check(_BEFORE)
