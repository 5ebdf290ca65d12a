"""Per-client rate limits on the public endpoints (Flask-Limiter).

One shared allowance per client across every view marked `@limits.public`, so a client
cannot multiply it by spreading requests over the page, the API and the QR codes.
Counters live in memory (each worker its own) unless RATELIMIT_STORAGE_URI names a
Redis server, which every worker and machine then shares.
"""

import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

_MEMORY = "memory://"
_INLINE_MEMORY = "registry-memory://"


class InlineExpiryMemory(MemoryStorage):
    """limits' in-memory counters, with expired ones cleared inline, once a second.

    The original starts a timer thread on a write whenever the previous timer has run
    (every 10 ms under load), and each start waits until the new thread holds the GIL:
    in a busy worker that is up to the 5 ms switch interval, and it was the largest
    single cost of a verification. Reading a counter already drops it when expired, so
    the clean-up only bounds memory, and need not run in a thread of its own.
    """

    STORAGE_SCHEME = ["registry-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_clean_up = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (overrides limits' own)
        now = time.monotonic()
        if now >= self._next_clean_up:
            self._next_clean_up = now + 1.0
            self._MemoryStorage__expire_events()


def public(view: Callable) -> Callable:
    """Count the view's requests against the client's public allowance."""
    view._public_rate_limit = True
    return view


def _exempt() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "_public_rate_limit", False)


def init_app(app: Flask) -> Limiter:
    # A limiter per app: tests build many apps in one process, and must not share counters.
    uri = app.config["RATELIMIT_STORAGE_URI"]
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=_INLINE_MEMORY if uri == _MEMORY else uri,
        application_limits=[lambda: current_app.config["PUBLIC_RATE_LIMIT"]],
        application_limits_exempt_when=_exempt,
        # Not on every answer: public answers are cached and shared, counters are not.
        headers_enabled=False,
    )
    app.extensions["registry.limiter"] = limiter

    @app.after_request
    def _retry_after(response: Response) -> Response:
        # RFC 9110 §10.2.3: tell a refused client when its allowance comes back.
        current = limiter.current_limit
        if response.status_code == 429 and current is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(current.reset_at - time.time())))
        return response

    return limiter
