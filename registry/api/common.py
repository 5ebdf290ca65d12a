"""Decorators shared by the API blueprints."""

from collections.abc import Callable

from flask_smorest import Blueprint

from registry.auth import require_role


def guarded(bp: Blueprint, *roles: str) -> Callable:
    """Require a bearer token of one of `roles`, and say so in the OpenAPI document."""

    def decorator(view: Callable) -> Callable:
        view = require_role(*roles)(view)
        view = bp.alt_response(401, response="UNAUTHORIZED")(view)
        view = bp.alt_response(403, response="FORBIDDEN")(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorator
