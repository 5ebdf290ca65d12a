"""The schema exists only through migrations, and they match the models exactly."""

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
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert {"maker", "piece", "certificate", "event"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_newest_migrations_keep_every_row_of_a_history(app, client, world, database_url):
    """Down past the migrations that copy tables (0011, 0012) and up again, over a
    database holding pieces, certificates, sales and events that refer to them."""
    from sqlalchemy import text

    from tests.factories import bearer, certify

    _, certificate = certify(client, world)
    sold = client.post(
        f"/api/v1/certificates/{certificate['code']}/sale", json={}, headers=bearer(world.shop)
    )
    assert sold.status_code == 201, sold.json
    tables = ("maker", "account", "piece", "certificate", "sale", "event")
    engine = app.extensions["registry.engine"]

    def counts():
        with engine.connect() as connection:
            return {t: connection.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables}  # noqa: S608

    before = counts()
    migrate.downgrade(engine, "0010")
    migrate.upgrade(engine)
    assert counts() == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"
