"""Signing in and out, one's own password, sessions and API tokens."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from registry import accounts
from registry.edge import database, http_cache
from registry.errors import Forbidden, InvalidInput, Unauthorized
from registry.web import forms, session
from schemas.accounts import PasswordChangeIn, SignInIn, TokenIn

bp = session.pages(Blueprint("account", __name__))


@bp.route("/login", methods=["GET", "POST"])
@database.reads
def login():
    """The sign-in form. Failures are limited per account and client together, by a
    growing delay and a cap per account (`accounts.sign_in_wait`)."""
    target = request.args.get("next")
    if request.method == "GET":
        account = session.current()
        if account is not None and not account.password_must_change:
            return http_cache.private(redirect(session.safe_next(target, session.home_of(account))))
        return http_cache.private(render_template("portal/login.html", next=target))
    email = request.form.get("email", "").strip().lower()
    try:
        data = forms.load(SignInIn(), request.form)
    except forms.Invalid as invalid:
        return _login_refused(email, target, invalid.errors, 422)
    wait = session.sign_in_wait(data["email"])
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = gettext(
            "Too many failed sign-ins. Try again in %(minutes)d min.", minutes=minutes
        )
        response = _login_refused(email, target, {"_schema": [message]}, 429)
        response.headers["Retry-After"] = str(int(wait))
        return response
    try:
        account = accounts.sign_in(database.session(), data["email"], data["password"])
    except Unauthorized:
        with session.writing() as unit:
            session.sign_in_failed(unit, data["email"])
        message = gettext("Wrong e-mail address or password.")
        return _login_refused(email, target, {"_schema": [message]}, 422)
    except Forbidden:
        message = gettext("This account is deactivated. Ask the brand office.")
        return _login_refused(email, target, {"_schema": [message]}, 403)
    session.begin(account)
    if account.password_must_change:
        return http_cache.private(redirect(url_for("account.password", next=target)))
    return http_cache.private(redirect(session.safe_next(target, session.home_of(account))))


def _login_refused(email: str, target: str | None, errors: dict, status: int):
    html = render_template("portal/login.html", next=target, email=email[:254], errors=errors)
    return http_cache.private((html, status))


@bp.post("/logout")
def logout():
    """Sign out: the session ends for good, here and for any copy of its cookie."""
    session.end()
    return http_cache.private(redirect(url_for("public.home")))


@bp.get("/account")
@session.portal()
def profile():
    """Who is signed in, where, and their API tokens."""
    return _profile()


def _profile(*, new_token: str | None = None, errors: dict | None = None, status: int = 200):
    tokens = accounts.tokens_of(database.session(), g.actor)
    sessions = accounts.sessions_of(database.session(), g.actor)
    html = render_template(
        "portal/profile.html",
        tokens=tokens,
        sessions=sessions,
        this_session=session.current_session(),
        browser=session.browser,
        new_token=new_token,
        errors=errors or {},
    )
    return html, status


@bp.post("/account/sessions/<id:session_id>/end")
@session.portal()
def end_session(session_id: int):
    """End one of one's own sessions (a browser left signed in elsewhere)."""
    ended = accounts.end_own_session(database.session(), g.actor, session_id)
    database.session().commit()
    this = session.current_session()
    if this is not None and ended.id == this.id:
        session.end()
        return redirect(url_for("account.login"))
    flash(gettext("The session is ended; that browser is signed out."))
    return redirect(url_for("account.profile"))


@bp.route("/account/password", methods=["GET", "POST"])
@session.portal()
def password():
    """Change one's password; a first or reset password must be changed here first.
    Every other session ends, and every token minted in the portal is revoked."""
    target = request.args.get("next")
    if request.method == "GET":
        return render_template("portal/password.html", next=target)
    wait = session.sign_in_wait(g.actor.email)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = gettext(
            "Too many wrong passwords. Try again in %(minutes)d min.", minutes=minutes
        )
        html = render_template("portal/password.html", next=target, errors={"_schema": [message]})
        # RFC 9110 section 10.2.3: when the guesses come back.
        return html, 429, {"Retry-After": str(int(wait))}
    unit = database.session()
    guessed = False
    try:
        with forms.refusals(unit):
            data = forms.load(PasswordChangeIn(), request.form)
            try:
                revoked = accounts.change_password(
                    unit,
                    g.actor,
                    data["current"],
                    data["new"],
                    keep_session=session.current_session(),
                )
            except InvalidInput as refusal:
                guessed = "current" in (refusal.errors or {})  # a guess at the password
                raise
    except forms.Invalid as invalid:
        if guessed:
            session.sign_in_failed(unit, g.actor.email)
            unit.commit()
        html = render_template("portal/password.html", next=target, errors=invalid.errors)
        return html, invalid.status
    unit.commit()
    flash(
        ngettext(
            "Your password is changed. Every other session is ended, and %(num)d API token "
            "made in the portal is revoked.",
            "Your password is changed. Every other session is ended, and %(num)d API tokens "
            "made in the portal are revoked.",
            revoked,
        )
    )
    return redirect(session.safe_next(target, session.home_of(g.actor)))


@bp.post("/account/tokens")
@session.portal()
def new_token():
    """Issue a token for the signed-in account; its secret is shown on this page once.
    It records the session it was made in: a change of password revokes it."""
    try:
        data = forms.load(TokenIn(), request.form)
    except forms.Invalid as invalid:
        return _profile(errors=invalid.errors, status=422)
    _token, secret = accounts.issue_token(
        database.session(),
        g.actor,
        name=data.get("name"),
        actor=g.actor,
        portal_session=session.current_session(),
    )
    database.session().commit()
    return _profile(new_token=secret, status=201)


@bp.post("/account/tokens/<id:token_id>/revoke")
@session.portal()
def revoke_token(token_id: int):
    accounts.revoke_token(database.session(), token_id, actor=g.actor)
    database.session().commit()
    return redirect(url_for("account.profile"))
