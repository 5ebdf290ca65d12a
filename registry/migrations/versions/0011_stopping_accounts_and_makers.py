"""stopping accounts and makers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

The brand office deactivates accounts and suspends makers, and keeps a maker's public
contacts for the showcase.
"""

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deactivated_at", registry.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("maker", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("website", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column("suspended_at", registry.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("suspension_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN, never a copy of the table: SQLite would refuse to drop a
    # table that others refer to while it holds foreign keys.
    with op.batch_alter_table("maker", schema=None, recreate="never") as batch_op:
        for column in ("suspension_reason", "suspended_at", "website", "email", "phone"):
            batch_op.drop_column(column)
    with op.batch_alter_table("account", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("deactivated_at")
