"""Bearer tokens at the HTTP edge: who is calling, and may they."""

import functools
from collections.abc import Callable

from flask import g, request

from registry import accounts, db


def require_role(*roles: str) -> Callable:
    """Authenticate the request (401) and require one of `roles` (403) before the view.

    It runs before the body is parsed, so an unauthenticated caller learns nothing
    about the shape of the input.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            actor = accounts.authenticate(db.session(), request.headers.get("Authorization"))
            accounts.require(actor, *roles)
            g.actor = actor
            return view(*args, **kwargs)

        wrapped._roles = roles  # read by the OpenAPI security documentation
        return wrapped

    return decorator
