"""Security headers on every response, and the trust placed in proxies in front.

The pages run no script and load nothing from elsewhere; their one stylesheet is inline
and allowed by its hash, so the policy can forbid everything else.
"""

import base64
import hashlib

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Public JSON that other sites' pages may read (verification apps, other registries).
_SHARED_PREFIXES = ("/api/v1/verify/", "/api/v1/certificates/", "/.well-known/")


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline stylesheet."""
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def init_app(app: Flask, *, inline_css: str) -> None:
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    policy = "; ".join(
        [
            "default-src 'none'",
            "img-src 'self'",
            f"style-src {style_hash(inline_css)}",
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
    names = {name.lower() for name, _value in fixed}

    @app.after_request
    def _secure(response: Response) -> Response:
        # Appended in one step, after one pass over the few headers there are: asking
        # werkzeug for each absent header raises and catches an exception every time.
        if names.intersection(key.lower() for key in response.headers.keys()):
            for name in names:
                response.headers.pop(name, None)
        response.headers.extend(fixed)
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=63072000"
        if request.method in ("GET", "HEAD") and request.path.startswith(_SHARED_PREFIXES):
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response
