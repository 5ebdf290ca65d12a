"""Per-client rate limits on the public endpoints (Flask-Limiter, and `limits` under it).

One shared allowance per client across every view marked `@limits.public`, so a client
cannot multiply it by spreading requests over the page, the API and the QR codes.
Counters live in memory (each worker its own) unless RATELIMIT_STORAGE_URI names a
Redis server, which every worker and machine then shares.

Flask-Limiter holds the configuration (RATELIMIT_STORAGE_URI, RATELIMIT_STRATEGY,
RATELIMIT_KEY_PREFIX, RATELIMIT_ENABLED), the storage and the strategy; the check itself
is made here, one `hit` on the one allowance. Flask-Limiter's own per-request check
resolves application, blueprint, route and exemption limits generically, and measured
about 300 µs a request: more than a whole bare Flask request, to find a single limit.
"""

import functools
import logging
import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

_MEMORY = "memory://"
_INLINE_MEMORY = "registry-memory://"
_SCOPE = "public"


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


@functools.lru_cache(maxsize=8)
def _allowance(text: str) -> RateLimitItem:
    return parse(text)


def init_app(app: Flask) -> Limiter:
    # A limiter per app: tests build many apps in one process, and must not share counters.
    uri = app.config["RATELIMIT_STORAGE_URI"]
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=_INLINE_MEMORY if uri == _MEMORY else uri,
        # Not on every answer: public answers are cached and shared, counters are not.
        headers_enabled=False,
    )
    # Flask-Limiter's own check has no limits to find: it is told so at once.
    limiter.request_filter(lambda: True)
    app.extensions["registry.limiter"] = limiter

    @app.before_request
    def _count() -> None:
        view = app.view_functions.get(request.endpoint)
        if not limiter.enabled or not getattr(view, "_public_rate_limit", False):
            return
        allowance = _allowance(current_app.config["PUBLIC_RATE_LIMIT"])
        identifiers = (app.config.get("RATELIMIT_KEY_PREFIX", ""), _SCOPE, get_remote_address())
        try:
            if limiter.limiter.hit(allowance, *identifiers):
                return
            reset_at = limiter.limiter.get_window_stats(allowance, *identifiers).reset_time
        except limiter.storage.base_exceptions as exc:
            # A buyer's check matters more than the limit: without counters, let it through.
            log.warning("rate-limit storage unreachable, request not counted: %s", exc)
            return
        g.registry_retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests("This client has made too many requests; wait and try again.")

    @app.after_request
    def _retry_after(response: Response) -> Response:
        # RFC 9110 §10.2.3: tell a refused client when its allowance comes back.
        seconds = g.get("registry_retry_after")
        if response.status_code == 429 and seconds is not None:
            response.headers["Retry-After"] = str(seconds)
        return response

    return limiter
