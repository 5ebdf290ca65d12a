"""Cache headers: public responses that phones and CDNs can keep, and private ones that
no cache may."""

import hashlib
from typing import Any

from flask import Response, current_app, request
from werkzeug.http import parse_etags

from registry.edge import i18n


def public(
    response: Response, *, max_age: int, immutable: bool = False, etag: str | None = None
) -> Response:
    """Let anyone cache `response` for `max_age` seconds; give it `etag`, or a hash of
    its body, and answer a matching If-None-Match with 304.

    Lighter than werkzeug's make_conditional, which also weighs Range and dates: these
    answers are small, whole, and versioned by their ETag alone.
    """
    response.headers["Cache-Control"] = _control(max_age, immutable)
    if not 200 <= response.status_code < 300:
        # Refusals are cached as briefly, but only a success is validated (RFC 9110 §13.1.2).
        return response
    if etag is None:
        etag = _etag(response.get_data())
    response.headers["ETag"] = f'"{etag}"'
    if request.method in ("GET", "HEAD") and _matches(request.environ, etag):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    return response


def public_answer(
    environ: dict[str, Any], body: bytes, content_type: str, *, max_age: int
) -> tuple[str, list[tuple[str, str]], bytes]:
    """`public` for a successful GET or HEAD answered below Flask (registry/edge/direct.py):
    its status line, headers and body, as Flask would send them."""
    etag = _etag(body)
    control = ("Cache-Control", _control(max_age, False))
    if _matches(environ, etag):
        return "304 NOT MODIFIED", [control, ("ETag", f'"{etag}"')], b""
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        control,
        ("ETag", f'"{etag}"'),
    ]
    return "200 OK", headers, body


def _control(max_age: int, immutable: bool) -> str:
    return f"public, max-age={max_age}" + (", immutable" if immutable else "")


def _etag(body: bytes) -> str:
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def _matches(environ: dict[str, Any], etag: str) -> bool:
    """Whether the request's If-None-Match names `etag` (RFC 9110 §13.1.2)."""
    asked = environ.get("HTTP_IF_NONE_MATCH")
    return asked is not None and etag in parse_etags(asked)


def private(response: Any) -> Response:
    """A page for one person (a portal's page, or an error met there): no cache keeps
    it, and a ?lang= choice sticks. Takes whatever a view may return."""
    response = current_app.make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return i18n.remember(response)
