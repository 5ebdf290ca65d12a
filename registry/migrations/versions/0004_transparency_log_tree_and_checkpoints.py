"""transparency log: entry indices, the Merkle tree's nodes and head, checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Events recorded before this revision become the log's first entries, in the order they
were stored; their tree is built here. The first write afterwards signs a checkpoint.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("made_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_checkpoint_tree_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint")),
    )
    op.create_index(op.f("ix_checkpoint_tree_size"), "checkpoint", ["tree_size"])
    head = op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_log_head_single_row")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_log_head_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    nodes = op.create_table(
        "log_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_log_node")),
    )
    with op.batch_alter_table("event") as batch_op:
        batch_op.add_column(sa.Column("log_index", sa.BigInteger(), nullable=True))

    connection = op.get_bind()
    event = sa.table(
        "event", sa.column("id", sa.Integer), sa.column("log_index"), sa.column("entry")
    )
    # RFC 9162 hashing, written out here so that this revision never changes with the code.
    edge: list[bytes] = []
    size = 0
    rows = connection.execute(sa.select(event.c.id, event.c.entry).order_by(event.c.id))
    for event_id, entry in rows.all():
        connection.execute(event.update().where(event.c.id == event_id).values(log_index=size))
        current = hashlib.sha256(b"\x00" + bytes(entry)).digest()
        completed = [{"level": 0, "index": size, "hash": current}]
        level = 0
        while (size >> level) & 1:
            current = hashlib.sha256(b"\x01" + edge.pop() + current).digest()
            level += 1
            completed.append({"level": level, "index": size >> level, "hash": current})
        edge.append(current)
        connection.execute(nodes.insert(), completed)
        size += 1
    connection.execute(head.insert().values(id=1, size=size))

    with op.batch_alter_table("event") as batch_op:
        batch_op.alter_column("log_index", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_event_log_index"), ["log_index"])
        batch_op.create_check_constraint(
            batch_op.f("ck_event_log_index_not_negative"), "log_index >= 0"
        )
        batch_op.create_index("ix_event_actor_id", ["actor_id"])
        batch_op.create_index("ix_event_certificate_id_action", ["certificate_id", "action"])
        batch_op.create_index("ix_event_occurred_at", ["occurred_at"])


def downgrade() -> None:
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_index("ix_event_occurred_at")
        batch_op.drop_index("ix_event_certificate_id_action")
        batch_op.drop_index("ix_event_actor_id")
        batch_op.drop_constraint(batch_op.f("ck_event_log_index_not_negative"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_event_log_index"), type_="unique")
        batch_op.drop_column("log_index")
    op.drop_table("log_node")
    op.drop_table("log_head")
    op.drop_index(op.f("ix_checkpoint_tree_size"), table_name="checkpoint")
    op.drop_table("checkpoint")
