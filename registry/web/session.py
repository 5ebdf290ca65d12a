"""Signing in to the portals: the session, CSRF, and who may open which page.

A signed-in session is a row in the database (`accounts.start_session`); the cookie
(Flask's signed one) carries its random id, and the form's CSRF token. Signing out, or
ending the session from the account page or by a password change, ends the row, so a
copy of the cookie opens nothing afterwards, on any worker or machine. Every form
carries a CSRF token (Flask-WTF); the API, which takes bearer tokens and no cookies, is
not affected.

Signing in only reads, but for two short writes apart from its reading: the new
session, or the failure counted (`writing`).
"""

import contextlib
import functools
import os
import re
import secrets
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
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
from limits import parse
from sqlalchemy.orm import Session

from registry import accounts, db
from registry.edge import database, http_cache, limits, problems
from registry.models import Account, PortalSession, utcnow
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


# How often a session's last-seen time is written: on every request it would turn each
# page into a write.
_SEEN_EVERY = timedelta(minutes=1)


def current() -> Account | None:
    """The account signed in with this request's session cookie, if any."""
    if "portal_account" in g:
        return g.portal_account
    row = None
    secret = session.get("sid")
    if isinstance(secret, str):
        row = accounts.open_session(database.session(), secret)
    if row is None and session.get("sid", session.get("account")) is not None:
        # Ended, expired, or a cookie from before sessions were kept in the database.
        session.clear()
    if row is not None and utcnow() - row.last_seen_at > _SEEN_EVERY:
        g.touch_session_id = row.id  # written after the response (registry.edge.auth)
    g.portal_session = row
    g.portal_account = row.account if row is not None else None
    return g.portal_account


def current_session() -> PortalSession | None:
    """The portal session of this request, if it is signed in."""
    current()
    return g.portal_session


def begin(account: Account) -> None:
    """Start a session for `account` after its sign-in: a new random id in a cookie
    emptied first (whatever the browser held before is dropped: no session fixation).
    The row is written in a short transaction of its own."""
    with writing() as unit:
        row, secret = accounts.start_session(
            unit,
            account,
            hours=current_app.config["SESSION_HOURS"],
            client=client(),
            user_agent=request.user_agent.string,
        )
    session.clear()
    session.permanent = True
    session["sid"] = secret
    g.portal_account = account
    g.portal_session = row


def end() -> None:
    """Sign out: the session ends in the database, and the cookie is emptied."""
    row = current_session()
    if row is not None:
        accounts.end_session(database.session(), row)
        database.session().commit()
    session.clear()
    g.portal_account = None
    g.portal_session = None


@contextlib.contextmanager
def writing() -> Iterator[Session]:
    """A short unit of work that writes, from a view that reads (`@database.reads`): the
    request's reading transaction ends first, then the write takes the lock, commits and
    lets go at once. Objects read before stay usable, as they were loaded."""
    database.end_session()
    token = db.writing(True)
    try:
        unit = database.session()
        yield unit
        unit.commit()
    finally:
        database.end_session()
        db.done_writing(token)


def client() -> str:
    """Who signs in, as sign-in limits count clients: the address (an IPv6 one by its
    /64), or "" when served without one."""
    return limits.client_of(request.remote_addr or "")


def sign_in_limits() -> accounts.SignInLimits | None:
    """The configured limits on failed sign-ins, or None when rate limits are off."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return None

    def limit(setting: str) -> tuple[int, int]:
        item = parse(config[setting])
        return item.amount, item.get_expiry()

    return accounts.SignInLimits(
        account_client=limit("LOGIN_RATE_LIMIT_ACCOUNT_CLIENT"),
        client=limit("LOGIN_RATE_LIMIT_CLIENT"),
        account=limit("LOGIN_RATE_LIMIT_ACCOUNT"),
        delay_after=int(config["LOGIN_DELAY_AFTER"]),
        delay_max=int(config["LOGIN_DELAY_MAX_SECONDS"]),
    )


def sign_in_wait(email: str) -> float | None:
    """Seconds before this client may try `email`'s password again, or None. Reads."""
    rules = sign_in_limits()
    if rules is None:
        return None
    return accounts.sign_in_wait(database.session(), email, client(), rules)


def sign_in_failed(unit: Session, email: str) -> None:
    """Count a wrong password for `email` from this client, in `unit` (committed by the
    caller): the sign-in form's failures and the change of password's wrong current
    passwords are one count."""
    rules = sign_in_limits()
    if rules is not None:
        accounts.sign_in_failed(unit, email, client(), rules)


_BROWSERS = (
    ("YaBrowser/", "Yandex Browser"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def browser(user_agent: str | None) -> str:
    """A short name of the browser and system a User-Agent header tells, for the list of
    one's sessions ("Firefox, Windows"); the first words of anything else."""
    text = user_agent or ""
    found = [
        next((name for mark, name in table if mark in text), None)
        for table in (_BROWSERS, _SYSTEMS)
    ]
    named = [name for name in found if name]
    if named:
        return ", ".join(named)
    return re.sub(r"\s+", " ", text)[:40].strip() or "?"


def home_of(account: Account) -> str:
    """Where an account lands after signing in."""
    homes: dict[str, str] = {
        Role.MAKER: "maker.dashboard",
        Role.INSPECTOR: "inspector.queue",
        Role.SHOP: "shop.home",
    }
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
