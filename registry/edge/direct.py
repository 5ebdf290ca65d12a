"""Routes answered below Flask's request machinery: the public scan, the busiest request
there is.

A verification's own work (one read, the seals, the count, a ready answer or its
rendering) took about 300 µs in one process; Flask's request context, session, URL
matching, hooks and response object took as long again, where a bare Flask app spends
60 µs on a whole request. So a route registered here is tried first, with an
application context only, and answers when it can answer exactly what the Flask view
would. Otherwise it hands the request on to Flask unchanged, with what it already did
noted in the environ (the client counted against its allowance, the scan read and
counted: `limits.spend_public`, `scans.hand_on`), so that nothing is done twice.

No error is answered here: a refusal, a code that is mistyped or unknown, a database
that cannot answer all go on to Flask, where registry/edge/problems.py answers them as
it answers every other. Only GET and HEAD are tried; the security headers, the proxy
fix and the front are outside this layer, so they apply to its answers alike.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

#: A direct answer: the status line, the headers, the body (sent for GET, not HEAD).
Answer = tuple[str, list[tuple[str, str]], bytes]
#: A route's handler: (environ, the path's last segment) -> an Answer, or None to hand
#: the request on to Flask.
Handler = Callable[[dict[str, Any], str], "Answer | None"]

_KEY = "registry.direct"


class _Direct:
    """WSGI middleware: the registered prefixes first, then Flask."""

    def __init__(self, app: Flask, inner: Callable):
        self.app = app
        self.inner = inner
        self.routes: list[tuple[str, Handler]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            for prefix, handler in self.routes:
                if path.startswith(prefix):
                    segment = path[len(prefix) :]
                    # What Flask's default converter takes: one segment, not empty.
                    if segment and "/" not in segment:
                        try:
                            with self.app.app_context():
                                answer = handler(environ, segment)
                        except Exception as exc:  # Flask answers it, as any other error
                            log.warning("%s%s handed on after %r", prefix, segment, exc)
                            answer = None
                        if answer is not None:
                            status, headers, body = answer
                            start_response(status, headers)
                            return [b""] if method == "HEAD" else [body]
                    break
        return self.inner(environ, start_response)


def init_app(app: Flask) -> None:
    """Put the layer right around Flask's own WSGI call (before any other middleware)."""
    layer = _Direct(app, app.wsgi_app)
    # Wrapping wsgi_app is Flask's documented middleware hook; mypy sees a method there.
    app.wsgi_app = layer  # type: ignore[method-assign]
    app.extensions[_KEY] = layer


def route(app: Flask, prefix: str, handler: Handler) -> None:
    """Try `handler` for GET and HEAD requests of `prefix` + one path segment."""
    app.extensions[_KEY].routes.append((prefix, handler))


def flask_only(app: Flask) -> Callable:
    """The app's WSGI call without this layer (the same middleware outside it): what
    answers when a route hands a request on, for tests comparing the two."""
    return app.extensions[_KEY].inner
