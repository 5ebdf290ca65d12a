"""Schema migrations through Alembic: the only way the schema is created or changed."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

# Beside this module, so that they are installed with the package (as package data).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there already."""
    with _migrating(engine) as (cfg, _):
        command.upgrade(cfg, "head")


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (operators, and the tests of the migrations)."""
    with _migrating(engine) as (cfg, _):
        command.downgrade(cfg, revision)


@contextlib.contextmanager
def _migrating(engine: Engine) -> Iterator[tuple[Config, Connection]]:
    """One transaction for the migrations. SQLite changes a table's constraints by copying
    the table, which the rows that refer to it would refuse as the old one is dropped: so
    its foreign keys are off while the migrations run (which SQLite allows only outside a
    transaction) and every row is checked against them before the commit."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On the driver's connection, before SQLAlchemy begins a transaction on it.
        driver: Any = connection.connection.driver_connection
        if sqlite:
            driver.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                yield cfg, connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys = ON")
