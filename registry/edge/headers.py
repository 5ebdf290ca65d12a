"""Security headers on every response, and the trust placed in proxies in front.

The pages run no script and load nothing from elsewhere; their one stylesheet is inline
and allowed by its hash, so the policy can forbid everything else.
"""

import base64
import hashlib

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Public JSON that other sites' pages may read (verification apps, other registries).
_SHARED_PREFIXES = ("/api/v1/verify/", "/api/v1/certificates/", "/.well-known/", "/log/")
#: The pages with a photo's file field, whose policy allows the inline script that checks
#: its size (registry/static/photo_check.js); every other page runs no script at all.
_SCRIPTED_PREFIXES = ("/maker/", "/report")


def style_hash(text: str) -> str:
    """The CSP source that allows exactly this inline stylesheet or script."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


class _SecurityHeaders:
    """WSGI middleware adding the fixed headers to every response as it starts.

    At this level they are appended as they are; through werkzeug's Headers each one
    would be validated and searched for on every response, which measured a few
    percent of a scan. No view sets any of these headers itself.
    """

    def __init__(self, app, fixed: list[tuple[str, str]], scripted: list[tuple[str, str]]):
        self._app = app
        self._fixed = fixed
        self._scripted = scripted

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        extra = list(self._scripted if path.startswith(_SCRIPTED_PREFIXES) else self._fixed)
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


def init_app(app: Flask, *, inline_css: list[str], inline_js: list[str]) -> None:
    directives = [
        "default-src 'none'",
        "img-src 'self'",
        f"style-src {' '.join(style_hash(css) for css in inline_css)}",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
    policy = "; ".join(directives)
    scripts = f"script-src {' '.join(style_hash(js) for js in inline_js)}"
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
    scripted = [("Content-Security-Policy", "; ".join([*directives, scripts])), *fixed[1:]]
    app.wsgi_app = _SecurityHeaders(  # type: ignore[method-assign]
        app.wsgi_app, fixed, scripted
    )
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
