"""log verification jobs

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Verifications of the log asked for in the inspectors' portal, run by
`registry log verify-jobs`.
"""

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_verification_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("verification_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_log_verification_job_state"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["account.id"],
            name=op.f("fk_log_verification_job_requested_by_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["verification_id"],
            ["log_verification.id"],
            name=op.f("fk_log_verification_job_verification_id_log_verification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_verification_job")),
    )
    with op.batch_alter_table("log_verification_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_verification_job_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_verification_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_verification_job_state"))
    op.drop_table("log_verification_job")
