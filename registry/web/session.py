"""Signing in to the portals: the session cookie, CSRF, and who may open which page.

The session is Flask's signed cookie holding the account's id and a fingerprint of its
password hash, so a new password ends every older session. Every form carries a CSRF
token (Flask-WTF); the API, which takes bearer tokens and no cookies, is not affected.
"""

import functools
import hashlib
import os
import secrets
import unicodedata
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from registry import accounts
from registry.edge import database, http_cache, problems
from registry.models import Account
from schemas.standards import Role

#: The blueprints whose forms need a CSRF token (every page blueprint with a form).
_PROTECTED: set[str] = set()
_csrf = CSRFProtect()


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS (with
    PROXY_HOPS set, as the proxy says), not only when configured so."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(app: Flask) -> None:
    config = app.config
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(Path(config["KEYS_DIR"]))
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config["SESSION_HOURS"])
    # The cookie is sent only when the session changes (sign-in, a form's CSRF token), so
    # a public page a signed-in person opens never carries it into a shared cache.
    config["SESSION_REFRESH_EACH_REQUEST"] = False
    # Checked only on the portals' forms (below): the API authenticates by bearer token.
    config["WTF_CSRF_CHECK_DEFAULT"] = False
    config["WTF_CSRF_TIME_LIMIT"] = config["SESSION_HOURS"] * 3600
    # The token is the defence; Flask-WTF's extra Referer check over HTTPS would refuse
    # every form, since the pages send no Referer (Referrer-Policy: no-referrer).
    config["WTF_CSRF_SSL_STRICT"] = False
    app.session_interface = _SessionInterface()
    _csrf.init_app(app)

    @app.before_request
    def _check_csrf() -> None:
        if request.method == "POST" and request.blueprint in _PROTECTED:
            _csrf.protect()

    @app.context_processor
    def _portal_globals():
        return {"account": g.get("portal_account")}


def pages(bp: Blueprint, *, forms: bool = True) -> Blueprint:
    """Make `bp` a blueprint of pages: errors as pages in the visitor's language (never
    problem JSON; `registry.edge.problems` makes them), and, with `forms`, a CSRF token
    required on every POST."""
    if forms:
        _PROTECTED.add(bp.name)
    return problems.portal_pages(bp)


def current() -> Account | None:
    """The account signed in with this request's session cookie, if any."""
    if "portal_account" in g:
        return g.portal_account
    account = None
    account_id = session.get("account")
    if isinstance(account_id, int):
        account = database.session().get(Account, account_id)
        if account is None or session.get("stamp") != accounts.session_stamp(account):
            session.clear()  # the account is gone or its password changed since
            account = None
    g.portal_account = account
    return account


def begin(account: Account) -> None:
    """Start a session for `account` (after a sign-in or a change of password)."""
    session.clear()
    session.permanent = True
    session["account"] = account.id
    session["stamp"] = accounts.session_stamp(account)
    g.portal_account = account


def end() -> None:
    session.clear()
    g.portal_account = None


def home_of(account: Account) -> str:
    """Where an account lands after signing in."""
    homes: dict[str, str] = {Role.MAKER: "maker.dashboard", Role.INSPECTOR: "inspector.queue"}
    return url_for(homes.get(account.role, "admin.makers"))


def portal(*roles: str) -> Callable:
    """The view is for signed-in accounts of `roles`: others are sent to sign in, or
    shown a 403 page. Its answers are private, never stored by a cache."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            account = current()
            if account is None:
                return http_cache.private(redirect(url_for("account.login", next=_here())))
            if account.password_must_change and request.endpoint != "account.password":
                return http_cache.private(redirect(url_for("account.password", next=_here())))
            if roles and account.role not in roles:
                return http_cache.private(_page("portal/error.html", 403, kind="forbidden"))
            g.actor = account
            return http_cache.private(current_app.make_response(view(*args, **kwargs)))

        return wrapped

    return decorator


def safe_next(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site; `fallback` for anything else (an open
    redirect to another site would lend it the registry's address)."""
    if target and _on_this_site(target):
        return target
    return fallback


# How many times a path may have been percent-encoded; deeper than any this site makes.
_ENCODINGS = 3


def _on_this_site(target: str) -> bool:
    """Whether a browser, sent to `target`, stays on this site: a path with one leading
    slash, in every form it can take on the way.

    Browsers drop tabs and newlines anywhere in an address and read a backslash as a
    slash (so `/<tab>/evil.example` is `//evil.example`, another site), and a proxy or a
    second redirect may decode the path again: so no control, format or white-space
    character and no backslash is accepted anywhere, and the path is judged again after
    each percent-decoding. The query and fragment cannot move the browser to another
    site, and are only checked for characters no header may carry.
    """
    if any(_refused(character) for character in target):
        return False
    path = target.partition("?")[0].partition("#")[0]
    for _ in range(_ENCODINGS + 1):
        if not path.startswith("/") or path.startswith("//"):
            return False
        if any(_refused(character) for character in path):
            return False
        decoded = urllib.parse.unquote(path)
        if decoded == path:
            return True
        path = decoded
    return False


def _refused(character: str) -> bool:
    # Unicode categories C (control, format, surrogate, private use, unassigned) and Z
    # (spaces and line or paragraph separators), with the backslash.
    return character == "\\" or unicodedata.category(character)[0] in "CZ"


def _here() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def _page(template: str, status: int, **context):
    return current_app.make_response((render_template(template, **context), status))


def _secret_key(folder: Path) -> str:
    """The key that signs session cookies: REGISTRY_SECRET_KEY, or else one generated
    once beside the signing keys (every worker of the machine then shares it; several
    machines must be given the same REGISTRY_SECRET_KEY)."""
    path = folder / "session-secret"
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside, then linked into place: a worker starting at the same moment
        # reads either no file or the whole key, never half of one.
        draft = folder / f".session-secret.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_urlsafe(48) + "\n", encoding="ascii")
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


def fingerprint(value: str) -> str:
    """A short, stable name for a private value in rate-limit keys and logs."""
    return hashlib.sha256(value.encode()).hexdigest()[:24]
