"""Security headers on every response, and the trust placed in proxies in front.

The pages run no script and load nothing from elsewhere; their one stylesheet is inline
and allowed by its hash, so the policy can forbid everything else.
"""

import base64
import hashlib

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Public JSON that other sites' pages may read (verification apps, other registries).
_SHARED_PREFIXES = ("/api/v1/verify/", "/api/v1/certificates/", "/.well-known/")


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline stylesheet."""
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


class _SecurityHeaders:
    """WSGI middleware adding the fixed headers to every response as it starts.

    At this level they are appended as they are; through werkzeug's Headers each one
    would be validated and searched for on every response, which measured a few
    percent of a scan. No view sets any of these headers itself.
    """

    def __init__(self, app, fixed: list[tuple[str, str]]):
        self._app = app
        self._fixed = fixed

    def __call__(self, environ, start_response):
        extra = list(self._fixed)
        if environ.get("wsgi.url_scheme") == "https":
            extra.append(("Strict-Transport-Security", "max-age=63072000"))
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and environ.get(
            "PATH_INFO", ""
        ).startswith(_SHARED_PREFIXES):
            extra.append(("Access-Control-Allow-Origin", "*"))

        def start(status, headers, exc_info=None):
            headers.extend(extra)
            return start_response(status, headers, exc_info)

        return self._app(environ, start)


def init_app(app: Flask, *, inline_css: list[str]) -> None:
    policy = "; ".join(
        [
            "default-src 'none'",
            "img-src 'self'",
            f"style-src {' '.join(style_hash(css) for css in inline_css)}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )
    fixed = [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    # Inside the proxy fix, so that it sees the scheme the client used (for HSTS).
    # Wrapping wsgi_app is Flask's documented middleware hook; mypy sees a method there.
    app.wsgi_app = _SecurityHeaders(app.wsgi_app, fixed)  # type: ignore[method-assign]
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
