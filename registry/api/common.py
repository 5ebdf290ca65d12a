"""Decorators and URL converters shared by the API blueprints."""

from collections.abc import Callable

from flask_smorest import Blueprint
from marshmallow import Schema
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from registry.edge.auth import require_role
from schemas.common import MAX_ID


def guarded(bp: Blueprint, *roles: str) -> Callable:
    """Require a bearer token of one of `roles`, and say so in the OpenAPI document."""

    def decorator(view: Callable) -> Callable:
        view = require_role(*roles)(view)
        view = bp.alt_response(401, response="UNAUTHORIZED")(view)
        view = bp.alt_response(403, response="FORBIDDEN")(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorator


def json_body(bp: Blueprint, schema: type[Schema]) -> Callable:
    """Load the JSON body with `schema` (422 when it does not validate), and document
    the answers to a body that does not parse: 400 (not JSON), 415 (not sent as JSON)."""

    def decorator(view: Callable) -> Callable:
        view = bp.arguments(schema)(view)
        view = bp.alt_response(400, response="BAD_REQUEST")(view)
        return bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")(view)

    return decorator


class RowId(IntegerConverter):
    """`<id:name>`: a row id, 1 to MAX_ID (the range of an INTEGER key on PostgreSQL).

    An id outside it is a 404 instead of an overflow in the database driver (a 500), and
    flask-smorest documents the bounds in the OpenAPI document.
    """

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            # Not werkzeug's "try the next rule": when a rule of another method comes
            # first for the path, that becomes a 405 for one method and a 404 for another.
            raise NotFound() from None
