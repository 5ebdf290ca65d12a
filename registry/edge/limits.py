"""Per-client rate limits on the public endpoints, counted with `limits`.

One shared allowance per client across every view marked `@limits.public`, so a client
cannot multiply it by spreading requests over the page, the API and the QR codes.
Counters live in memory (each worker its own) unless RATELIMIT_STORAGE_URI names a
Redis server, which every worker and machine then shares.

`limits` is the library under Flask-Limiter, with the same storage URIs and strategies;
the check is one `hit` made here. Flask-Limiter itself resolves application, blueprint,
route and exemption limits generically on every request, which measured some 300 µs a
request (more than a whole bare Flask request) to find the one limit there is.
"""

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse, storage, strategies
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

_MEMORY = "memory://"
_INLINE_MEMORY = "registry-memory://"
_SCOPE = "public"
#: In the environ of a request once counted (`spend_public`): True when allowed, else the
#: seconds to wait.
_COUNTED = "registry.limits.counted"
_REDIS_TIMEOUT_S = 0.2


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
            # limits' own clean-up, a private method: setup.cfg keeps limits below its
            # next major release, which must be checked before allowing it.
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def public(view: Callable) -> Callable:
    """Count the view's requests against the client's public allowance."""
    _PUBLIC_VIEWS.add(view)
    return view


# The views that `public` marked, found again through any decorators applied over it.
_PUBLIC_VIEWS: set[Callable] = set()


def spend(setting: str, *, scope: str) -> None:
    """Count one request of this client against the allowance the setting `setting` names,
    kept apart from the public one under `scope` (a tighter limit on one kind of write, such
    as buyers' reports); raise TooManyRequests (429, with Retry-After) once it is spent."""
    config = current_app.config
    address = request.remote_addr
    if not config["RATELIMIT_ENABLED"] or not address:
        return
    counter: Counter = current_app.extensions["registry.limiter"]
    wait = counter.hit(_allowance(config[setting]), address, scope=scope)
    if wait is not None:
        g.registry_retry_after = wait
        raise TooManyRequests("This client has sent too many of these; wait and try again.")


def spend_public(environ: dict) -> bool:
    """Count the request against the client's public allowance, once however many times
    it is asked (a request answered below Flask, registry/edge/direct.py, may be handed
    on to a view marked `public`); False once the allowance is spent. The outcome is
    noted in the environ: True, or the seconds to wait."""
    counted = environ.get(_COUNTED)
    if counted is None:
        config = current_app.config
        address = environ.get("REMOTE_ADDR")
        if not config["RATELIMIT_ENABLED"] or not address:
            # Without an address (a socket with no proxy naming the client), counting
            # every request as one client would let one refuse everyone.
            return True
        counter: Counter = current_app.extensions["registry.limiter"]
        wait = counter.hit(_allowance(config["PUBLIC_RATE_LIMIT"]), address)
        counted = environ[_COUNTED] = True if wait is None else wait
    return counted is True


def _is_public(view: Callable | None) -> bool:
    while view is not None:
        if view in _PUBLIC_VIEWS:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


@functools.lru_cache(maxsize=8)
def _allowance(text: str) -> RateLimitItem:
    return parse(text)


class Counter:
    """The public allowance of each client, counted in the configured storage."""

    def __init__(self, storage_uri: str, *, strategy: str, key_prefix: str):
        options = {}
        if storage_uri == _MEMORY:
            storage_uri = _INLINE_MEMORY
        elif storage_uri.startswith("redis"):
            # A Redis that does not answer must not hold up a buyer: give up quickly.
            options = {
                "socket_timeout": _REDIS_TIMEOUT_S,
                "socket_connect_timeout": _REDIS_TIMEOUT_S,
            }
        self.storage = storage.storage_from_string(storage_uri, **options)
        self._strategy = strategies.STRATEGIES[strategy](self.storage)
        self._prefix = key_prefix

    def hit(self, allowance: RateLimitItem, address: str, *, scope: str = _SCOPE) -> float | None:
        """Count one request from `address`; None when allowed, else seconds to wait.

        A storage that cannot be reached counts nothing: a buyer's check matters more.
        """
        identifiers = (self._prefix, scope, client_of(address))
        try:
            if self._strategy.hit(allowance, *identifiers):
                return None
            return self._until_reset(allowance, identifiers)
        except self.storage.base_exceptions as exc:
            log.warning("rate-limit storage unreachable, request not counted: %s", exc)
            return None

    def _until_reset(self, allowance: RateLimitItem, identifiers: tuple) -> float:
        reset_at = self._strategy.get_window_stats(allowance, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def client_of(address: str) -> str:
    """Who is counted: an IPv4 address, or the /64 network of an IPv6 one (a single
    subscriber's allocation, whose addresses one client can rotate through freely)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)
    except ValueError:
        return address


def init_app(app: Flask) -> Counter:
    # A counter per app: tests build many apps in one process, and must not share counts.
    for setting in (
        "PUBLIC_RATE_LIMIT",
        "LOGIN_RATE_LIMIT_ACCOUNT",
        "LOGIN_RATE_LIMIT_ACCOUNT_CLIENT",
        "LOGIN_RATE_LIMIT_CLIENT",
        "REPORT_RATE_LIMIT",
    ):
        try:
            _allowance(app.config[setting])
        except ValueError as exc:
            raise ValueError(
                f"REGISTRY_{setting} {app.config[setting]!r} is not a rate limit such as "
                "'300 per minute'"
            ) from exc
    counter = Counter(
        app.config["RATELIMIT_STORAGE_URI"],
        strategy=app.config["RATELIMIT_STRATEGY"],
        key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
    )
    app.extensions["registry.limiter"] = counter
    public_endpoints: dict[str, bool] = {}

    @app.before_request
    def _count() -> None:
        endpoint = request.endpoint
        if endpoint is None:
            return
        is_public = public_endpoints.get(endpoint)
        if is_public is None:
            is_public = _is_public(app.view_functions.get(endpoint))
            public_endpoints[endpoint] = is_public
        if not is_public:
            return
        if not spend_public(request.environ):
            _refuse(request.environ[_COUNTED])

    @app.after_request
    def _retry_after(response: Response) -> Response:
        # RFC 9110 §10.2.3: tell a refused client when its allowance comes back.
        if response.status_code == 429 and "registry_retry_after" in g:
            response.headers["Retry-After"] = str(g.registry_retry_after)
        return response

    return counter


def _refuse(wait: float) -> None:
    g.registry_retry_after = wait
    raise TooManyRequests("This client has made too many requests; wait and try again.")
