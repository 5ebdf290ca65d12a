"""Bearer tokens at the HTTP edge: who is calling, and may they; and the last-use times
of tokens and portal sessions, written after the response."""

import functools
from collections.abc import Callable

from flask import Flask, g, request
from sqlalchemy import Update, update
from sqlalchemy.exc import SQLAlchemyError

from registry import accounts, db
from registry.edge import database
from registry.models import ApiToken, PortalSession, utcnow

# How long recording a token's or a session's last use may wait for the write lock.
_TOUCH_WAIT_MS = 250


def require_role(*roles: str) -> Callable:
    """Authenticate the request (401) and require one of `roles` (403) before the view.

    It runs before the body is parsed, so an unauthenticated caller learns nothing
    about the shape of the input.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            token = accounts.authenticate(database.session(), request.headers.get("Authorization"))
            accounts.require(token.account, *roles)
            g.actor = token.account
            if accounts.touch_due(token):
                g.touch_token_id = token.id
            return view(*args, **kwargs)

        _ROLES[wrapped] = roles
        return wrapped

    return decorator


# The roles each guarded view admits, by the wrapper `require_role` made for it.
_ROLES: dict[Callable, tuple[str, ...]] = {}


def roles_of(view: Callable | None) -> tuple[str, ...]:
    """The roles a view admits, through any decorators applied over `require_role`;
    () for a public view. What the API's authorization tests read."""
    while view is not None:
        if view in _ROLES:
            return _ROLES[view]
        view = getattr(view, "__wrapped__", None)
    return ()


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _record_last_use(_exc):
        token_id = g.pop("touch_token_id", None)
        session_id = g.pop("touch_session_id", None)  # set by registry.web.session
        if token_id is None and session_id is None:
            return
        database.end_session()  # the request's own transaction must not hold the lock
        if token_id is not None:
            _touch(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))
        if session_id is not None:
            _touch(
                update(PortalSession)
                .where(PortalSession.id == session_id)
                .values(last_seen_at=utcnow())
            )


def _touch(statement: Update) -> None:
    """Write a token's last-used (or a session's last-seen) time after the request, best
    effort and briefly.

    Informational only: a write lock held by someone else (a long import) makes it skip
    after a quarter of a second, rather than hold up the response's worker.
    """
    engine = database.engine()
    try:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            raw = connection.connection.dbapi_connection
            if sqlite and raw is not None:
                raw.execute(f"PRAGMA busy_timeout = {_TOUCH_WAIT_MS}")
            else:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_TOUCH_WAIT_MS}ms'")
            try:
                connection.execute(statement)
                connection.commit()
            finally:
                if sqlite and raw is not None:
                    raw.execute(f"PRAGMA busy_timeout = {db.SQLITE_BUSY_TIMEOUT_MS}")
    except SQLAlchemyError:
        pass
