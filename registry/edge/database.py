"""The database session of a request or a command, and whether its unit of work writes.

One engine and session factory per app; one session per request, or per app context
outside requests (not per thread), removed when it ends. A request with a safe method
(GET, HEAD, OPTIONS) is said to read, so on SQLite it never queues for the write lock;
so is a view marked `@reads` (signing in posts a form, but only reads). Every other
request, and every command, is a writer unless it says otherwise.
"""

from collections.abc import Callable

from flask import Flask, current_app, g, has_request_context, request
from flask.globals import app_ctx, request_ctx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from registry import db

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _context_id() -> int:
    # _get_current_object is werkzeug's documented way to reach what a proxy stands for;
    # flask types these proxies as the contexts themselves.
    if has_request_context():
        return id(request_ctx._get_current_object())  # type: ignore[attr-defined]
    return id(app_ctx._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    engine = db.make_engine(app.config["DATABASE_URL"])
    # A request run inside a test's or a command's app context still gets its own session.
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    factory = scoped_session(maker, scopefunc=_context_id)
    app.extensions["registry.db"] = factory
    app.extensions["registry.sessionmaker"] = maker
    app.extensions["registry.engine"] = engine

    # Registered before every other hook, so that it runs first and its teardown last.
    @app.before_request
    def _say_whether_writing() -> None:
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        writes = request.method not in _SAFE_METHODS and not _reads(view)
        g.registry_writing = db.writing(writes)

    @app.teardown_request
    def _end_request(_exc) -> None:
        factory.remove()
        token = g.pop("registry_writing", None)
        if token is not None:
            db.done_writing(token)

    @app.teardown_appcontext
    def _end_context(_exc) -> None:
        factory.remove()


def reads(view: Callable) -> Callable:
    """Mark a view that only reads whatever its method: its transaction begins deferred
    on SQLite, so it is served while a writer (a long import) holds the write lock.

    Such a view must not write. Should it ever have to, it ends its reading transaction
    first (`end_session`) and writes after `db.writing(True)`: SQLite refuses, rather
    than waits, a deferred transaction that turns to writing once another writer got in.
    """
    _READING_VIEWS.add(view)
    return view


# The views that `reads` marked, found again through any decorators applied over it.
_READING_VIEWS: set[Callable] = set()


def _reads(view: Callable | None) -> bool:
    while view is not None:
        if view in _READING_VIEWS:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def end_session() -> None:
    """End the current context's session (and its transaction) before the context ends."""
    current_app.extensions["registry.db"].remove()


def session() -> Session:
    """The session of the current request, or of the app context outside requests."""
    return current_app.extensions["registry.db"]()


def engine() -> Engine:
    return current_app.extensions["registry.engine"]
