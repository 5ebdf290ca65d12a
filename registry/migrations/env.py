"""Alembic environment: the URL comes from the registry's configuration."""

from alembic import context

from registry import db, models  # noqa: F401 - models register the tables on the metadata

config = context.config
target_metadata = db.Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # registry.migrate.alembic_config sets it; a hand-made config may not
        raise RuntimeError("The Alembic configuration names no sqlalchemy.url.")
    engine = db.make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()


run_migrations()
