"""The schema exists only through migrations, and they match the models exactly."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from registry import db, migrate


def test_migrations_build_exactly_the_models_schema(app):
    engine = app.extensions["registry.engine"]
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.Base.metadata) == []


def test_downgrade_to_nothing_and_back(database_url, tmp_path):
    engine = db.make_engine(database_url)
    config = migrate.alembic_config(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert {"maker", "piece", "certificate", "event"} <= set(inspect(engine).get_table_names())
    engine.dispose()
