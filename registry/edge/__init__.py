"""The HTTP edge: where requests meet the rules, and the only Flask the services never see.

Below the edge, services take a session and raise `registry.errors`; above it, the API
(registry.api) and the pages (registry.web) load, call, commit and answer. The edge is
what both share, one module per job:

- `database`: the session of a request or a command, and whether its unit of work
  writes (a safe method reads; on SQLite it never queues for the write lock);
- `auth`: bearer tokens, `@require_role`, and the token's last use recorded afterwards;
- `problems`: where errors become HTTP: problem JSON (RFC 9457) for the API, a page in
  the visitor's language for the web, decided per request; no blueprint has its own;
- `signing`: the key ring and the issuer, built once per app;
- `log_signer`: the signer of the log's checkpoints, watching the app's sessions;
- `limits`: the public allowance per client (`@limits.public`) and the sign-in limits;
- `http_cache`: Cache-Control and ETag for the public answers;
- `headers`: the security headers (CSP with the pages' stylesheets by hash, HSTS) and
  the trust placed in proxies in front;
- `i18n`: the pages' language, from the visitor's choice or the browser;
- `bodies`: the request body limit, held for chunked bodies too (413, never cut short);
- `scans`: the public scans counted in each worker, flushed after an answer is sent,
  and the copy caution the verdict reads (registry/scans.py).
- `answers`: the scans' answers kept ready, per worker, while their verdict stands;
- `direct`: the scans answered below Flask's request machinery, the rest handed on.
"""

from flask import Flask

from registry.edge import (
    answers,
    auth,
    bodies,
    database,
    direct,
    headers,
    i18n,
    limits,
    log_signer,
    problems,
    scans,
    signing,
)


def init_app(app: Flask, *, inline_css: list[str], inline_js: list[str]) -> None:
    """Wire the edge into `app`; `inline_css` are the stylesheets the pages inline.

    The order matters: the database's before_request must run first (and its teardown
    last), and the log's signer needs the key ring and the sessions.
    """
    database.init_app(app)
    bodies.init_app(app)
    auth.init_app(app)
    problems.init_app(app)
    signing.init_app(app)
    log_signer.init_app(app)
    limits.init_app(app)
    direct.init_app(app)  # inside the headers' and the proxy fix's middleware
    headers.init_app(app, inline_css=inline_css, inline_js=inline_js)
    i18n.init_app(app)
    scans.init_app(app)
    answers.init_app(app)
