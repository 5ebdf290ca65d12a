"""Fixtures: a fresh database and a fresh key ring per test, on SQLite and, where
REGISTRY_TEST_DATABASE_URL names a server, on PostgreSQL too."""

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from registry import create_app, db, migrate
from tests import factories

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The public test vectors beside the repository (../shared/vectors)."""
    path = SHARED / "vectors"
    if not path.is_dir():
        pytest.fail(f"test vectors missing: {path} (the repo expects ../shared beside it)")
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each)."""
    path = tmp_path_factory.mktemp("template") / "registry.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    """The test PostgreSQL database, emptied and migrated once for the session."""
    url = db.normalise_url(PG_URL)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "registry.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_ready")
    yield url
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(
            f'"{t.name}"' for t in reversed(db.Base.metadata.sorted_tables)
        )
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
        }
    )
    yield app
    db_engine = app.extensions["registry.db"].get_bind()
    app.extensions["registry.db"].remove()
    db_engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session()


@pytest.fixture
def world(app) -> factories.World:
    """An admin, two makers with a maker account each, an inspector: all with tokens."""
    with app.app_context():
        return factories.world(db.session())
