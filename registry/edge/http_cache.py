"""Cache headers: public responses that phones and CDNs can keep, and private ones that
no cache may."""

import hashlib
from typing import Any

from flask import Response, current_app, request

from registry.edge import i18n


def public(
    response: Response, *, max_age: int, immutable: bool = False, etag: str | None = None
) -> Response:
    """Let anyone cache `response` for `max_age` seconds; give it `etag`, or a hash of
    its body, and answer a matching If-None-Match with 304.

    Lighter than werkzeug's make_conditional, which also weighs Range and dates: these
    answers are small, whole, and versioned by their ETag alone.
    """
    control = f"public, max-age={max_age}" + (", immutable" if immutable else "")
    response.headers["Cache-Control"] = control
    if not 200 <= response.status_code < 300:
        # Refusals are cached as briefly, but only a success is validated (RFC 9110 §13.1.2).
        return response
    if etag is None:
        etag = hashlib.sha1(response.get_data(), usedforsecurity=False).hexdigest()
    response.headers["ETag"] = f'"{etag}"'
    if (
        request.method in ("GET", "HEAD")
        and "HTTP_IF_NONE_MATCH" in request.environ
        and etag in request.if_none_match
    ):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    return response


def private(response: Any) -> Response:
    """A page for one person (a portal's page, or an error met there): no cache keeps
    it, and a ?lang= choice sticks. Takes whatever a view may return."""
    response = current_app.make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return i18n.remember(response)
