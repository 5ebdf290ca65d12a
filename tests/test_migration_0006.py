"""Revision 0006 gives every photo stored before it the hash of the thumbnail it holds."""

import hashlib

from alembic import command
from sqlalchemy import text

from registry import db, migrate


def test_photos_stored_before_get_their_thumbnails_hash(database_url):
    engine = db.make_engine(database_url)
    config = migrate.alembic_config(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    thumbs = {"a" * 64: b"first thumbnail", "b" * 64: b"second thumbnail"}
    with engine.begin() as connection:
        for sha, thumb in thumbs.items():
            connection.execute(
                text(
                    "INSERT INTO photo (sha256, media_type, width, height, data, thumb_width,"
                    " thumb_height, thumb, created_at) VALUES (:sha, 'image/jpeg', 1, 1, :data,"
                    " 1, 1, :thumb, CURRENT_TIMESTAMP)"
                ),
                {"sha": sha, "data": b"photo", "thumb": thumb},
            )

    migrate.upgrade(engine)

    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT sha256, thumb_sha256 FROM photo")).all())
    assert rows == {sha: hashlib.sha256(thumb).hexdigest() for sha, thumb in thumbs.items()}
    engine.dispose()
