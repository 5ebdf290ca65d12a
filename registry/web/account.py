"""Signing in and out, one's own password, and one's own API tokens."""

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext

from registry import accounts
from registry.edge import database, http_cache, limits
from registry.errors import InvalidInput, Unauthorized
from registry.web import forms, session
from schemas.accounts import PasswordChangeIn, SignInIn, TokenIn

bp = session.pages(Blueprint("account", __name__))


@bp.route("/login", methods=["GET", "POST"])
@database.reads
def login():
    """The sign-in form. Failures are counted per account and per client address."""
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
    key = session.fingerprint(data["email"].strip().lower())
    wait = limits.sign_in_wait(key, request.remote_addr)
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
        limits.sign_in_failed(key, request.remote_addr)
        message = gettext("Wrong e-mail address or password.")
        return _login_refused(email, target, {"_schema": [message]}, 422)
    session.begin(account)
    if account.password_must_change:
        return http_cache.private(redirect(url_for("account.password", next=target)))
    return http_cache.private(redirect(session.safe_next(target, session.home_of(account))))


def _login_refused(email: str, target: str | None, errors: dict, status: int):
    html = render_template("portal/login.html", next=target, email=email[:254], errors=errors)
    return http_cache.private((html, status))


@bp.post("/logout")
def logout():
    session.end()
    return http_cache.private(redirect(url_for("public.home")))


@bp.get("/account")
@session.portal()
def profile():
    """Who is signed in, and their API tokens."""
    return _profile()


def _profile(*, new_token: str | None = None, errors: dict | None = None, status: int = 200):
    tokens = accounts.tokens_of(database.session(), g.actor)
    html = render_template(
        "portal/profile.html", tokens=tokens, new_token=new_token, errors=errors or {}
    )
    return html, status


@bp.route("/account/password", methods=["GET", "POST"])
@session.portal()
def password():
    """Change one's password; a first or reset password must be changed here first."""
    target = request.args.get("next")
    if request.method == "GET":
        return render_template("portal/password.html", next=target)
    wait = limits.password_check_wait(g.actor.id)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = gettext(
            "Too many wrong passwords. Try again in %(minutes)d min.", minutes=minutes
        )
        html = render_template("portal/password.html", next=target, errors={"_schema": [message]})
        # RFC 9110 section 10.2.3: when the guesses come back.
        return html, 429, {"Retry-After": str(int(wait))}
    try:
        with forms.refusals(database.session()):
            data = forms.load(PasswordChangeIn(), request.form)
            try:
                accounts.change_password(database.session(), g.actor, data["current"], data["new"])
            except InvalidInput as refusal:
                if "current" in (refusal.errors or {}):
                    limits.password_check_failed(g.actor.id)  # a guess at the password
                raise
    except forms.Invalid as invalid:
        html = render_template("portal/password.html", next=target, errors=invalid.errors)
        return html, invalid.status
    database.session().commit()
    session.begin(g.actor)  # this session goes on; every other one ends
    return redirect(session.safe_next(target, session.home_of(g.actor)))


@bp.post("/account/tokens")
@session.portal()
def new_token():
    """Issue a token for the signed-in account; its secret is shown on this page once."""
    try:
        data = forms.load(TokenIn(), request.form)
    except forms.Invalid as invalid:
        return _profile(errors=invalid.errors, status=422)
    _token, secret = accounts.issue_token(
        database.session(), g.actor, name=data.get("name"), actor=g.actor
    )
    database.session().commit()
    return _profile(new_token=secret, status=201)


@bp.post("/account/tokens/<id:token_id>/revoke")
@session.portal()
def revoke_token(token_id: int):
    accounts.revoke_token(database.session(), token_id, actor=g.actor)
    database.session().commit()
    return redirect(url_for("account.profile"))
