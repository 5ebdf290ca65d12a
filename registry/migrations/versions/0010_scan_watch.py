"""scan watch

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The certificates whose copy caution a scan must read (registry/scans.py): those seen
from more networks in the caution's window than the lowest limit. Certificates counted
before it are watched if they were scanned from any network in the last week, which a
scan then reads as before.
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_watch",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_scan_watch_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_scan_watch")),
    )
    with op.batch_alter_table("scan_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_watch_last_day"), ["last_day"], unique=False)
    # A day more than the window, for any time zone.
    since = date.today() - timedelta(days=8)
    op.execute(
        sa.text(
            "INSERT INTO scan_watch (certificate_id, last_day)"
            " SELECT certificate_id, max(day) FROM scan_day WHERE day >= :since"
            " GROUP BY certificate_id HAVING sum(networks) > 0"
        ).bindparams(sa.bindparam("since", since, type_=sa.Date()))
    )


def downgrade() -> None:
    with op.batch_alter_table("scan_watch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_watch_last_day"))
    op.drop_table("scan_watch")
