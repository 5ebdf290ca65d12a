"""Cache headers for the public responses, so that phones and CDNs can keep them."""

from flask import Response, request


def public(response: Response, *, max_age: int, immutable: bool = False) -> Response:
    """Let anyone cache `response` for `max_age` seconds; give it an ETag (a hash of the
    body, unless it has one) and answer a matching If-None-Match with 304."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if immutable:
        response.cache_control.immutable = True
    if response.get_etag()[0] is None:
        response.add_etag()
    return response.make_conditional(request)
