"""The error tree of the registry and its one wire shape, RFC 9457 problem details.

Services raise `RegistryError` subclasses with a message a person can act on; the
handlers registered here turn those, HTTP errors, request-parsing errors and database
conflicts into `application/problem+json`. No view builds an error response itself,
and no stack trace ever reaches a client.
"""

import logging
from typing import Any

from flask import Flask, Response, json
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from registry.edge import database

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class RegistryError(Exception):
    """Base of every error the registry reports to its users."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidInput(RegistryError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class MalformedCode(RegistryError):
    status, slug, title = 400, "malformed-code", "Not a certificate code"


class MistypedCode(RegistryError):
    status, slug, title = 400, "mistyped-code", "Mistyped certificate code"


class OutOfRange(RegistryError):
    status, slug, title = 400, "out-of-range", "Outside the log"


class Unauthorized(RegistryError):
    status, slug, title = 401, "unauthorized", "Authentication required"
    #: RFC 6750 section 3 challenge sent in WWW-Authenticate.
    challenge = 'Bearer realm="registry"'


class InvalidToken(Unauthorized):
    slug, title = "invalid-token", "Invalid token"
    challenge = 'Bearer realm="registry", error="invalid_token"'


class Forbidden(RegistryError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(RegistryError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(RegistryError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PayloadTooLarge(RegistryError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(RegistryError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unavailable(RegistryError):
    status, slug, title = 503, "unavailable", "Temporarily unavailable"


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


def from_registry_error(error: RegistryError) -> Response:
    headers = {"WWW-Authenticate": error.challenge} if isinstance(error, Unauthorized) else None
    return problem(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        errors=error.errors,
        headers=headers,
    )


def from_http_exception(error: HTTPException) -> Response:
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
    headers = dict(error.get_headers()) if status in (405,) else {}
    headers.pop("Content-Type", None)
    return problem(status, error.name, detail, headers=headers)


def _parsing_problem(messages: dict[str, Any], *, headers=None) -> Response:
    """webargs nests messages by location ({"json": {...}}, {"query": {...}})."""
    if list(messages) == ["json"] and messages["json"] == ["Invalid JSON body."]:
        return problem(
            400, "Malformed JSON", "The request body is not valid JSON.", slug="bad-json"
        )
    errors: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            errors.update(location_errors)
        else:
            errors.setdefault("_schema", []).extend(location_errors)
    if "json" not in messages:
        return problem(
            400,
            "Invalid parameters",
            "Some query or path parameters are not valid: " + _summary(errors),
            slug="invalid-parameters",
            errors=errors,
            headers=headers,
        )
    return problem(
        422,
        InvalidInput.title,
        "Some fields are not valid: " + _summary(errors),
        slug=InvalidInput.slug,
        errors=errors,
        headers=headers,
    )


def _summary(errors: dict[str, Any]) -> str:
    return ", ".join(sorted(str(k) for k in errors)) + "."


def invalid(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return problem(
        422,
        InvalidInput.title,
        "Some fields are not valid: " + _summary(messages),
        slug=InvalidInput.slug,
        errors=messages,
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(RegistryError, from_registry_error)
    app.register_error_handler(ValidationError, invalid)
    app.register_error_handler(HTTPException, from_http_exception)

    for refusal in _DATABASE_REFUSALS:
        app.register_error_handler(refusal, from_database_error)


# What the database refusing a write means to the client: the error it becomes, what to
# tell, how loud to log, extra headers.
_DATABASE_REFUSALS: dict[type[Exception], tuple[type[RegistryError], str, int, dict]] = {
    # A uniqueness rule caught after a concurrent write got in first.
    IntegrityError: (
        Conflict,
        "The change conflicts with a record written at the same time; reload and retry.",
        logging.INFO,
        {},
    ),
    # The schemas bound every value; this is the backstop if one slips past them.
    DataError: (
        InvalidInput,
        "A value is outside what the registry can store.",
        logging.WARNING,
        {},
    ),
    OperationalError: (
        Unavailable,
        "The database is busy or unreachable; retry shortly.",
        logging.WARNING,
        {"Retry-After": "2"},
    ),
}


def from_database_error(error: Exception) -> Response:
    """Roll back and answer a database refusal without showing its internals."""
    database.session().rollback()
    kind, detail, level, headers = next(
        value for cls, value in _DATABASE_REFUSALS.items() if isinstance(error, cls)
    )
    log.log(level, "database refused the request: %s", getattr(error, "orig", error))
    return problem(kind.status, kind.title, detail, slug=kind.slug, headers=headers)
