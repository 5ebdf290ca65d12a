"""witnesses

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08

The witnesses' cosignatures of checkpoints, what the registry knows of each witness,
and each checkpoint's count of cosignatures (its proofs need a quorum).
"""

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cosignatures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("cosigned", sa.Text(), nullable=True))
    op.create_table(
        "cosignature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("signed_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
            name=op.f("fk_cosignature_checkpoint_id_checkpoint"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cosignature")),
        sa.UniqueConstraint("checkpoint_id", "witness", name=op.f("uq_cosignature_checkpoint_id")),
    )
    with op.batch_alter_table("cosignature", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cosignature_checkpoint_id"), ["checkpoint_id"], unique=False
        )
    op.create_table(
        "witness_state",
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("cosigned_size", sa.BigInteger(), nullable=False),
        sa.Column("cosigned_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("last_refusal", sa.Text(), nullable=True),
        sa.Column("last_refusal_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("witness", name=op.f("pk_witness_state")),
    )


def downgrade() -> None:
    op.drop_table("witness_state")
    with op.batch_alter_table("cosignature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cosignature_checkpoint_id"))
    op.drop_table("cosignature")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_column("cosigned")
        batch_op.drop_column("cosignatures")
