"""entry MACs and certificate state seals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Log entries carry a MAC, and certificates a seal of their status, under keys derived from
the key directory's commitment key (registry/log/proofs.py). A migration cannot read
that directory, so rows stored before have neither: `registry init`, which can, gives
them theirs (registry/log/adopt.py), for entries only as far as a checkpoint the
registry signed covers them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_seal", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_column("state_seal")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("mac")
