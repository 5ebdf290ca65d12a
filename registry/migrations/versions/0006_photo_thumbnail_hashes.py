"""photo thumbnail hashes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

A photo's thumbnail is served only if its bytes hash to `thumb_sha256`. A photo stored
before gets the hash of the thumbnail it holds now: the log never recorded one for it,
and the thumbnail cannot be made again from the photo (it was made from the upload), so
what is stored is all there is to hold later changes to.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_photo = sa.table(
    "photo",
    sa.column("id", sa.Integer()),
    sa.column("thumb", sa.LargeBinary()),
    sa.column("thumb_sha256", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thumb_sha256", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    ids = connection.scalars(sa.select(_photo.c.id).order_by(_photo.c.id)).all()
    for photo_id in ids:  # one thumbnail in memory at a time
        thumb = connection.execute(
            sa.select(_photo.c.thumb).where(_photo.c.id == photo_id)
        ).scalar_one()
        connection.execute(
            sa.update(_photo)
            .where(_photo.c.id == photo_id)
            .values(thumb_sha256=hashlib.sha256(thumb).hexdigest())
        )
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.alter_column("thumb_sha256", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.drop_column("thumb_sha256")
