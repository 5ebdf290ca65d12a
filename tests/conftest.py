"""Fixtures: a fresh database and a fresh key ring per test, on SQLite and, where
REGISTRY_TEST_DATABASE_URL names a server, on PostgreSQL too."""

import os
import secrets
import shutil
import threading
from pathlib import Path

import argon2
import pytest
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from registry import accounts, create_app, db, migrate
from registry.edge import database
from tests import factories

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes():
    """argon2id at its cheapest profile: the tests check who gets in, not what a guess
    costs, and the default profile takes a tenth of a second or more per password."""
    default = accounts.HASHER
    accounts.HASHER = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
    yield
    accounts.HASHER = default


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
def postgres_ready():
    """A database of this test run's own on the PostgreSQL server, migrated once.

    Made beside the database that REGISTRY_TEST_DATABASE_URL names and dropped at the
    end, so that test runs sharing a server never see each other's tables.
    """
    server = make_url(db.normalise_url(PG_URL))
    name = f"{server.database}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
        tables = ", ".join(f'"{t.name}"' for t in reversed(db.Base.metadata.sorted_tables))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("INSERT INTO log_head (id, size) VALUES (1, 0)"))
    engine.dispose()


@pytest.fixture
def settings() -> dict:
    """Settings of the `app` fixture beyond the usual ones: a test module that needs its
    own (other inspectorates, say) overrides this fixture."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, settings):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            # Pages answer a client that names no language in English here, so that tests
            # read the messages as the code writes them (Russian stays the deployed default,
            # tested on its own; tests of Russian pages ask for it).
            "BABEL_DEFAULT_LOCALE": "en",
            **settings,
        }
    )
    yield app
    app.extensions["registry.engine"].dispose()


@pytest.fixture
def env(database_url, tmp_path) -> dict[str, str]:
    """The `app` fixture's database, keys and address as the `registry` command reads them."""
    return {
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_KEYS_DIR": str(tmp_path / "keys"),
        "REGISTRY_PUBLIC_BASE_URL": "https://registry.test",
        "REGISTRY_GENERATE_KEY_ON_START": "false",
    }


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A session of the test's own, to look at the database beside the requests."""
    with app.app_context():
        db.declare_reading()
        yield database.session()


@pytest.fixture
def world(app) -> factories.World:
    """An admin, two makers with a maker account each, an inspector: all with tokens."""
    with app.app_context():
        return factories.world(database.session())


@pytest.fixture
def sql(database_url):
    """Statements run straight on the test's database, beside the registry: what someone
    who can write the database but not read the keys would do."""
    engine = create_engine(database_url)

    def run(statement: str, **parameters):
        with engine.begin() as connection:
            return connection.execute(text(statement), parameters)

    yield run
    engine.dispose()


@pytest.fixture
def live(app):
    """The app served over real HTTP on 127.0.0.1, for the auditor that knows only a URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
