"""The database layer: the declarative base, engines, and the prepared reads of the
busiest requests. It knows nothing of HTTP: whether a unit of work writes is said by its
caller (`writing`), and the session of a request or command is kept at the edge
(registry/edge/database.py).

Transactions are owned by the caller (a view or a CLI command); services only flush.
"""

import fcntl
import functools
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    MetaData,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

# Named constraints, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: How long a SQLite writer waits for another's lock before giving up (a 503).
SQLITE_BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def normalise_url(url: str) -> str:
    """A plain `postgresql://` URL means the psycopg 3 driver, which is the one installed."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and real transactions."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_use_lifo=True
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, begin transactions (so SAVEPOINT works).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives a power cut too. With NORMAL the last commits may be lost
        # after a checkpoint of them was served, and the log would then fork.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()
        # SQLite's own lower() folds ASCII only: searching "тыва" would miss "Тыва", as
        # PostgreSQL would not. Python's folds every script.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    queue = _WriterQueue.of(engine)

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        # A writer takes the write lock at BEGIN: in WAL mode a deferred transaction
        # that read first and writes later fails at once when another writer got in
        # between, instead of waiting its turn. Reads stay deferred so they never queue.
        if not _writes.get():
            connection.exec_driver_sql("BEGIN")
        elif queue is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            queue.begin(connection)

    return engine


class _WriterQueue:
    """Writers of a SQLite database taking turns at its write lock, told through a file
    beside it.

    SQLite's own wait for the lock (its busy handler) retries ever more slowly, every
    100 ms after the first quarter second, so that a writer meeting a steady stream of
    short writes (a maker's burst, the checkpoint signer meeting the workers) can wait
    for seconds while the lock is free between them. Here a writer that finds the lock
    taken holds a shared lock of the file while it waits and looks again every
    millisecond; a writer that finds someone waiting lets it in first; and a long write
    (registry/chunks.py) pauses between its chunks only when someone waits.
    """

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def of(cls, engine: Engine) -> "_WriterQueue | None":
        database = engine.url.database
        if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
            return None
        return cls(f"{database}-writers")

    def begin(self, connection) -> None:
        if self.waiting():
            time.sleep(_LET_IN_S)
        # How long this connection waits: its own setting (a scan flush waits 0.1 s).
        patience = connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            if self._began(connection):
                return
            deadline = time.monotonic() + patience / 1000
            with self._held(fcntl.LOCK_SH):
                while True:
                    time.sleep(_LOOK_AGAIN_S)
                    if self._began(connection):
                        return
                    if time.monotonic() > deadline:
                        connection.exec_driver_sql("BEGIN IMMEDIATE")  # raises: locked
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(patience)}")

    @staticmethod
    def _began(connection) -> bool:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            return False
        return True

    def waiting(self) -> bool:
        """Whether a writer waits for the write lock now."""
        try:
            with self._held(fcntl.LOCK_EX | fcntl.LOCK_NB):
                return False
        except BlockingIOError:
            return True

    @contextmanager
    def _held(self, how: int) -> Iterator[None]:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, how)
            yield
        finally:
            os.close(descriptor)  # and the lock with it


#: How often a writer waiting for SQLite's write lock looks again, and how long one that
#: finds another waiting lets it in first.
_LOOK_AGAIN_S = 0.001
_LET_IN_S = 0.003


def writers_waiting(engine: Engine) -> bool:
    """Whether another writer waits for the write lock of this SQLite database (always
    False for another database, where writers do not queue for one lock)."""
    if engine.dialect.name != "sqlite":
        return False
    queue = _WriterQueue.of(engine)
    return queue is not None and queue.waiting()


def _lower(text):
    return text.lower() if isinstance(text, str) else text


#: Whether the units of work begun in this context write; writers unless said otherwise.
_writes: ContextVar[bool] = ContextVar("registry_writes", default=True)


def writing(writes: bool) -> Token[bool]:
    """Say whether the units of work begun from now on in this context write.

    On SQLite a writer takes the write lock when it begins, and a reader must not (it
    would queue behind every writer). Returns the token that `done_writing` takes back.
    """
    return _writes.set(writes)


def done_writing(token: Token[bool]) -> None:
    """Restore what was said before `writing` gave `token`."""
    _writes.reset(token)


def declare_reading() -> None:
    """Begin SQLite transactions deferred in this context from now on.

    For a session that mostly reads alongside others that write (a test's inspection
    session, a report): it must not hold the write lock while it looks.
    """
    _writes.set(False)


class Prepared:
    """A read compiled once per database dialect and run on a pooled DB-API connection.

    For the busiest request there is, the public verification: there SQLAlchemy's own
    connection, transaction and result machinery cost some 20 times the read itself
    (measured about 600 µs against 30 µs on SQLite). The statement is still written
    with Core, its SQL is SQLAlchemy's, and its values pass through the columns' own
    type processing; only the plumbing around them is skipped. One statement, no
    transaction: SQLite reads in autocommit, other databases roll back on return.
    """

    def __init__(self, statement):
        self._statement = statement
        self._compiled: dict[str, tuple] = {}

    def _for(self, dialect) -> tuple:
        prepared = self._compiled.get(dialect.name)
        if prepared is None:
            compiled = self._statement.compile(dialect=dialect)
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self._statement.selected_columns
            ]
            names = [column.key for column in self._statement.selected_columns]
            prepared = (compiled, str(compiled), processors, names)
            self._compiled[dialect.name] = prepared
        return prepared

    def one_or_none(self, bind: "Engine | Session | Reader", **parameters) -> dict | None:
        """The one row the read finds, by column name, or None."""
        rows = self._run(bind, parameters, many=False)
        return rows[0] if rows else None

    def all(self, bind: "Engine | Session | Reader", **parameters) -> list[dict]:
        """Every row the read finds, by column name."""
        return self._run(bind, parameters, many=True)

    def _run(self, bind, parameters: dict, *, many: bool) -> list[dict]:
        borrowed = bind if isinstance(bind, Reader) else None
        engine = borrowed.engine if borrowed else _engine_of(bind)
        compiled, sql, processors, names = self._for(engine.dialect)
        bound = compiled.construct_params(parameters)
        if compiled.positional:
            bound = tuple(bound[name] for name in compiled.positiontup)
        dbapi_error = engine.dialect.loaded_dbapi.Error
        try:
            connection = borrowed.connection() if borrowed else engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(sql, bound)
                rows = cursor.fetchall() if many else cursor.fetchmany(1)
                cursor.close()
            finally:
                if not borrowed:
                    connection.close()
        except dbapi_error as exc:
            # As SQLAlchemy would raise it, so that errors.py answers it the same way.
            raise DBAPIError.instance(sql, bound, exc, dbapi_error) from exc
        return [
            {
                name: process(value) if process else value
                for name, process, value in zip(names, processors, row, strict=True)
            }
            for row in rows
        ]


def _engine_of(bind: Engine | Session) -> Engine:
    found = bind.get_bind() if isinstance(bind, Session) else bind
    return found if isinstance(found, Engine) else found.engine


class Reader:
    """Several Prepared reads on one pooled connection, taken on the first and given
    back at the end: a scan makes two or three, and each checkout costs about as much
    as a read."""

    def __init__(self, bind: Engine | Session):
        self.engine = _engine_of(bind)
        self._connection: PoolProxiedConnection | None = None

    def connection(self) -> PoolProxiedConnection:
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        return self._connection

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *_exc) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def new_ids(session: Session, model: type[Base], count: int) -> list[int]:
    """Ids for `count` rows of a model's table about to be inserted together, taken
    before the insert so that nothing is read back after it. A read back by any column
    but the key leans on the planner's statistics, which a table filled in bulk has not
    got yet: on PostgreSQL it became a scan of the whole table per chunk, ever slower as
    the registry grew. PostgreSQL hands them out from the table's sequence; on SQLite
    the writer holds the database's one write lock from its BEGIN, so the ids past the
    largest are its own, as SQLite would have chosen them."""
    if count <= 0:
        return []
    table = model.__table__
    if session.connection().dialect.name == "postgresql":
        drawn = session.scalars(
            sql_text(
                "SELECT nextval(pg_get_serial_sequence(:name, 'id')) FROM generate_series(1, :n)"
            ),
            {"name": model.__tablename__, "n": count},
        )
        return list(drawn)
    largest = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(largest + 1, largest + 1 + count))


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows of a model's table in the session's transaction, each row naming
    the same columns: on PostgreSQL by COPY (one stream for the lot, where an executemany
    sends a statement a row) when there are many, otherwise by one executemany. Column
    defaults are not applied: the rows give every value."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or len(rows) < _COPY_FROM_ROWS:
        # Into the table, not the model: the ORM's bulk insert splits rows into a
        # statement per run whose None values fall in the same columns.
        session.execute(insert(model.__table__), rows)  # type: ignore[arg-type]
        return
    table = model.__table__
    table_name = model.__tablename__
    names = list(rows[0])
    # Binary where no column is JSON (psycopg writes a dict there only as text): each
    # value goes as its type's bytes, not as text the server parses, about 40% less
    # time for the rows of a certificate or a log entry.
    binary = not any(isinstance(table.c[name].type, JSON) for name in names)
    processors = [_copied(table.c[name].type, dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    raw = connection.connection.driver_connection
    assert raw is not None  # noqa: S101 - a connection in use has its driver's
    statement = f"COPY {quote(table_name)} ({columns}) FROM STDIN"
    with raw.cursor() as cursor:
        kinds = _column_types(cursor, table_name, names) if binary else None
        with cursor.copy(statement + (" (FORMAT BINARY)" if binary else "")) as copy:
            if kinds is not None:
                copy.set_types(kinds)
            for row in rows:
                copy.write_row(
                    [
                        value if process is None or value is None else process(value)
                        for process, value in zip(
                            processors, (row[column] for column in names), strict=True
                        )
                    ]
                )


# The PostgreSQL types (their oids) of our tables' columns, as a binary COPY names them.
_COLUMN_TYPES: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}


def _column_types(cursor: Any, table_name: str, names: list[str]) -> list[int]:
    key = (cursor.connection.info.dbname, table_name, tuple(names))
    kinds = _COLUMN_TYPES.get(key)
    if kinds is None:
        found = dict(
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute"
                " WHERE attrelid = CAST(%s AS regclass) AND attname = ANY(%s)",
                (table_name, names),
            ).fetchall()
        )
        kinds = _COLUMN_TYPES[key] = [found[name] for name in names]
    return kinds


def set_column(session: Session, model: type[Base], column: str, values: dict[int, Any]) -> None:
    """Set one column of many rows, by primary key (`values`: id to value), in the
    session's transaction: on PostgreSQL by one UPDATE … FROM (VALUES …), where an
    executemany sends a statement a row; elsewhere by one executemany. The session's
    objects are not told: the caller sets what it holds of them."""
    if not values:
        return
    table = model.__table__
    target = table.c[column]
    if session.connection().dialect.name != "postgresql":
        statement = (
            update(table)  # type: ignore[arg-type]  # a mapped class's Table
            .where(table.c.id == bindparam("row_id"))
            .values({column: bindparam("new_value")})
        )
        session.execute(
            statement, [{"row_id": key, "new_value": value} for key, value in values.items()]
        )
        return
    # Two arrays, unnested side by side: one short statement, whatever the rows (the
    # names are our own tables' and columns').
    quote = session.connection().dialect.identifier_preparer.quote
    kind = "integer" if isinstance(target.type, Integer) else "text"
    name = quote(model.__tablename__)
    session.execute(
        sql_text(
            f"UPDATE {name} SET {quote(column)} = given.value"  # noqa: S608
            f" FROM unnest(CAST(:ids AS integer[]), CAST(:values AS {kind}[]))"
            f" AS given(id, value) WHERE {name}.id = given.id"
        ),
        {"ids": list(values), "values": list(values.values())},
    )


#: Fewer rows go by executemany: a COPY costs more round trips than a row or two (a single
#: write's entry and nodes).
_COPY_FROM_ROWS = 20


def _copied(kind, dialect):
    """How a value of a column of type `kind` is written into COPY: as the statement
    would bind it, and JSON as its text (psycopg adapts no dict or list there)."""
    if isinstance(kind, JSON):
        return functools.partial(json.dumps, separators=(",", ":"))
    return kind.bind_processor(dialect)
