"""portal passwords and log verifications

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_must_change",
                sa.Boolean(),
                nullable=False,
                server_default=sa.text("false"),
            )
        )
    op.create_table(
        "log_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoints", sa.Integer(), nullable=False),
        sa.Column("discrepancies", sa.Integer(), nullable=False),
        sa.Column("first", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_verification")),
    )
    with op.batch_alter_table("log_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_log_verification_checked_at"), ["checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("log_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_verification_checked_at"))
    op.drop_table("log_verification")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("password_must_change")
