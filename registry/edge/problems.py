"""Where errors become HTTP: every error, for the API and the pages alike.

What can go wrong, and who raises it: services raise `registry.errors.RegistryError`s;
the schemas raise marshmallow's `ValidationError`; werkzeug, flask-smorest's parser, the
rate limiter and Flask-WTF raise `HTTPException`s (404, 405, 413, 415, 429, a refused
CSRF token, and the 500 that Flask makes of any other exception); the database refuses
a write with IntegrityError, DataError or OperationalError (busy, deadlocked, disk full
or unreachable: each told apart) and loses its connection with InterfaceError.

The handlers registered here are the only ones in the app: no blueprint has its own.
Each looks at the request to choose the answer:

- in a portal blueprint (`portal_pages`): the portal's error page, in the visitor's
  language, kept by no cache; another maker's object is "not found", like an unknown one;
- on the verification pages (`verification_pages`): a page of their own for 429 and for a
  database that cannot answer; any other error as below;
- anywhere else: RFC 9457 problem JSON, except that an HTTP error outside the API (an
  unknown address) which a browser asked for, preferring HTML, gets the error page.

Marshmallow's ValidationError is problem JSON wherever it is raised. No stack trace or
database message ever reaches a client.
"""

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, json, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, TooManyRequests

from registry import errors
from registry.edge import database, http_cache, i18n

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Blueprint names whose errors are pages (filled as their modules are imported).
_PORTAL: set[str] = set()
_VERIFICATION: set[str] = set()


def portal_pages(bp: Blueprint) -> Blueprint:
    """Answer every error in `bp` with the portal's error page, never problem JSON."""
    _PORTAL.add(bp.name)
    return bp


def verification_pages(bp: Blueprint) -> Blueprint:
    """Answer 429 and an unreachable database in `bp` with the verification pages' own
    pages; other errors as outside the pages."""
    _VERIFICATION.add(bp.name)
    return bp


def init_app(app: Flask) -> None:
    app.register_error_handler(errors.RegistryError, _registry_error)
    app.register_error_handler(ValidationError, _invalid)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    for refusal in _DATABASE_REFUSALS:
        app.register_error_handler(refusal, _database_refused)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 response (section 3.1 members, plus `errors` for field messages)."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _in_portal() -> bool:
    return request.blueprint in _PORTAL


def _in_verification() -> bool:
    return request.blueprint in _VERIFICATION


# The registry's own errors.


def _registry_error(error: errors.RegistryError) -> Response:
    if _in_portal():
        # Another maker's piece is "not found", as an unknown one: a guessed id tells nothing.
        hidden = error.status == 403
        status = 404 if hidden else error.status
        kind = "not_found" if status == 404 else "refused"
        detail = None if hidden else i18n.explained_or_none(error.detail)
        return http_cache.private(_page("portal/error.html", status, kind=kind, detail=detail))
    # RFC 6750 section 3: a refused bearer token is answered with its challenge.
    headers = (
        {"WWW-Authenticate": error.challenge} if isinstance(error, errors.Unauthorized) else None
    )
    return problem(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        errors=error.errors,
        headers=headers,
    )


def _invalid(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return _invalid_fields(messages)


def _invalid_fields(found: dict[str, Any], *, headers: dict[str, str] | None = None) -> Response:
    """422 naming every field that did not validate, with its messages."""
    found = _named(found)
    return problem(
        422,
        errors.InvalidInput.title,
        "Some fields are not valid: " + _summary(found),
        slug=errors.InvalidInput.slug,
        errors=found,
        headers=headers,
    )


def _named(found: dict[Any, Any]) -> dict[str, Any]:
    """The messages by field name as JSON can name them: a form field sent without a
    usable name (a name of control characters only) may be reported under None, which
    a JSON object cannot hold; it is the unnamed field, ""."""
    named: dict[str, Any] = {}
    for key, messages in found.items():
        name = "" if key is None else str(key)
        held = named.get(name)
        if isinstance(held, list) and isinstance(messages, list):
            named[name] = held + [m for m in messages if m not in held]
        elif held is None:
            named[name] = messages
    return named


# HTTP errors: werkzeug's, the parser's, the rate limiter's, Flask-WTF's.


def _http_error(error: HTTPException) -> Response:
    if _in_portal():
        return _portal_http_error(error)
    if _in_verification() and isinstance(error, TooManyRequests):
        return _too_many_requests()
    # Raised outside the pages' blueprints (an unknown address, an id out of range): the
    # API answers problem JSON; a browser, which asks for HTML first, a page.
    api = request.path.startswith(("/api/", "/.well-known/"))
    wants = request.accept_mimetypes.best_match(("application/json", "text/html"))
    if api or wants != "text/html":
        return _http_problem(error)
    return _portal_http_error(error)


def _csrf_error(error: CSRFError) -> Response:
    if not _in_portal():
        return _http_error(error)
    log.info("form refused: %s", error.description)
    return http_cache.private(_page("portal/error.html", 400, kind="csrf"))


def _http_problem(error: HTTPException) -> Response:
    """Problem JSON for an HTTP error, including webargs' request-parsing failures."""
    status = error.code or 500
    if status >= 500:
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled error", exc_info=original)
        return problem(500, "Internal error", "The registry failed; the error was logged.")
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        return _parsing_problem(messages, headers=data.get("headers"))
    detail = {
        404: "There is nothing at this address.",
        405: "This address does not accept that method.",
        413: "The request body is larger than the registry accepts.",
        415: "Send the body as application/json.",
    }.get(status, error.description or error.name)
    # RFC 9110 section 15.5.6: a 405 lists the methods the address accepts in Allow.
    headers = dict(error.get_headers()) if status in (405,) else {}
    headers.pop("Content-Type", None)
    return problem(status, error.name, detail, headers=headers)


def _parsing_problem(messages: dict[str, Any], *, headers=None) -> Response:
    """webargs nests messages by location ({"json": {...}}, {"query": {...}})."""
    if list(messages) == ["json"] and messages["json"] == ["Invalid JSON body."]:
        return problem(
            400, "Malformed JSON", "The request body is not valid JSON.", slug="bad-json"
        )
    found: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            found.update(location_errors)
        else:
            found.setdefault("_schema", []).extend(location_errors)
    if "json" not in messages:
        return problem(
            400,
            "Invalid parameters",
            "Some query or path parameters are not valid: " + _summary(found),
            slug="invalid-parameters",
            errors=found,
            headers=headers,
        )
    return _invalid_fields(found, headers=headers)


def _summary(messages: dict[str, Any]) -> str:
    return ", ".join(sorted(str(k) for k in messages)) + "."


def _portal_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    kind = {403: "forbidden", 404: "not_found", 413: "too_large", 429: "too_many"}.get(
        status, "failed" if status >= 500 else "refused"
    )
    response = _page("portal/error.html", status, kind=kind)
    if status == 429 and "registry_retry_after" in g:
        response.headers["Retry-After"] = str(g.registry_retry_after)
    return http_cache.private(response)


def _too_many_requests() -> Response:
    """The verification pages' 429, in the visitor's language."""
    html = render_template("too_many_requests.html")
    return i18n.remember(current_app.make_response((html, 429)))


# What the database refusing a write means to the client: the error it becomes, what to
# tell, how loud to log, extra headers.
_DATABASE_REFUSALS: dict[type[Exception], tuple[type[errors.RegistryError], str, int, dict]] = {
    # A uniqueness rule caught after a concurrent write got in first.
    IntegrityError: (
        errors.Conflict,
        "The change conflicts with a record written at the same time; reload and retry.",
        logging.INFO,
        {},
    ),
    # The schemas bound every value; this is the backstop if one slips past them.
    DataError: (
        errors.InvalidInput,
        "A value is outside what the registry can store.",
        logging.WARNING,
        {},
    ),
    # The database could not do it at all: which of `_UNAVAILABLE` it was is read from
    # the driver's error (`_unavailable`). InterfaceError: the driver lost its connection.
    OperationalError: (errors.Unavailable, "", logging.WARNING, {}),
    InterfaceError: (errors.Unavailable, "", logging.WARNING, {}),
}


@dataclass(frozen=True)
class _Unavailable:
    """One reason the database could not answer: its problem type, what to tell, how
    loud to log, and when to retry (RFC 9110 section 10.2.3; None: retrying soon won't
    help, so no Retry-After)."""

    slug: str
    detail: str
    level: int
    retry_after: str | None


_BUSY = _Unavailable(
    "database-busy",
    "The database is busy with other writes and timed out waiting for them; nothing was "
    "stored. Retry shortly.",
    logging.WARNING,
    "2",
)
_DEADLOCK = _Unavailable(
    "database-deadlock",
    "The change collided with another written at the same time (a deadlock or a "
    "serialization failure), and the database undid it; nothing was stored. Retry it.",
    logging.WARNING,
    "1",
)
_FULL = _Unavailable(
    "database-full",
    "The database's disk is full: nothing was stored, and nothing more can be until the "
    "operators free space. Reading still works.",
    logging.CRITICAL,
    None,
)
_UNREACHABLE = _Unavailable(
    "database-unreachable",
    "The registry cannot reach its database; nothing was stored. Retry in a few seconds.",
    logging.ERROR,
    "5",
)
_OTHER = _Unavailable(
    "unavailable",
    "The database could not carry out the request; nothing was stored. Retry shortly.",
    logging.ERROR,
    "2",
)

# PostgreSQL's SQLSTATEs (Appendix A of its manual), by class or by code; psycopg gives
# them as `sqlstate`, psycopg2 as `pgcode`.
_BY_SQLSTATE = {
    "40P01": _DEADLOCK,  # deadlock_detected
    "40001": _DEADLOCK,  # serialization_failure
    "55P03": _BUSY,  # lock_not_available (lock_timeout)
    "57014": _BUSY,  # query_canceled (statement_timeout)
    "53100": _FULL,  # disk_full
    "53200": _FULL,  # out_of_memory: no room either, and as loud
    "57P01": _UNREACHABLE,  # admin_shutdown
    "57P02": _UNREACHABLE,  # crash_shutdown
    "57P03": _UNREACHABLE,  # cannot_connect_now (starting up, in recovery)
}
_BY_SQLSTATE_CLASS = {"08": _UNREACHABLE, "40": _DEADLOCK, "53": _FULL}
# What the drivers say when no SQLSTATE is at hand (SQLite has none; a connection that
# never opened has none either), lower-cased, first match wins.
_BY_MESSAGE = (
    ("deadlock", _DEADLOCK),
    ("database or disk is full", _FULL),  # SQLite's SQLITE_FULL
    ("no space left on device", _FULL),
    ("could not extend file", _FULL),
    ("database is locked", _BUSY),  # SQLite's SQLITE_BUSY
    ("database table is locked", _BUSY),  # SQLite's SQLITE_LOCKED
    ("database is busy", _BUSY),
    ("lock timeout", _BUSY),
    ("connection refused", _UNREACHABLE),
    ("could not connect", _UNREACHABLE),
    ("connection failed", _UNREACHABLE),
    ("server closed the connection", _UNREACHABLE),
    ("connection is closed", _UNREACHABLE),
    ("could not translate host name", _UNREACHABLE),
    ("timeout expired", _UNREACHABLE),
    ("unable to open database file", _UNREACHABLE),  # SQLite's SQLITE_CANTOPEN
)


def _unavailable(error: Exception) -> _Unavailable:
    """Which reason `error` (an OperationalError or InterfaceError) is, from the driver's
    SQLSTATE where it gives one, else from its message."""
    orig = getattr(error, "orig", None) or error
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        found = _BY_SQLSTATE.get(sqlstate) or _BY_SQLSTATE_CLASS.get(sqlstate[:2])
        if found is not None:
            return found
    message = str(orig).lower()
    for words, reason in _BY_MESSAGE:
        if words in message:
            return reason
    if getattr(error, "connection_invalidated", False) or isinstance(error, InterfaceError):
        return _UNREACHABLE
    return _OTHER


def _database_refused(error: Exception) -> Response:
    """Roll back and answer a database refusal without showing its internals."""
    database.session().rollback()
    kind, detail, level, headers = next(
        value for cls, value in _DATABASE_REFUSALS.items() if isinstance(error, cls)
    )
    slug = kind.slug
    if kind is errors.Unavailable:
        reason = _unavailable(error)
        slug, detail, level = reason.slug, reason.detail, reason.level
        headers = {"Retry-After": reason.retry_after} if reason.retry_after else {}
    log.log(level, "database refused the request (%s): %s", slug, getattr(error, "orig", error))
    if _in_portal():
        page = {503: "unavailable", 409: "conflict"}.get(kind.status, "refused")
        # In the page's language, where the catalog has it.
        detail_shown = i18n.explained_or_none(detail) if kind is errors.Unavailable else None
        response = _page("portal/error.html", kind.status, kind=page, detail=detail_shown)
        response.headers.update(headers)
        return http_cache.private(response)
    if _in_verification() and isinstance(error, OperationalError | InterfaceError):
        # The database cannot answer: a page saying so, in the visitor's language.
        response = current_app.make_response((render_template("unavailable.html"), kind.status))
        response.headers.update(headers)
        return i18n.remember(response)
    return problem(kind.status, kind.title, detail, slug=slug, headers=headers)


def _page(template: str, status: int, **context) -> Response:
    return current_app.make_response((render_template(template, **context), status))
