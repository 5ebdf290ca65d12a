"""The brand office's portal: admitting makers, keeping their details, suspending them,
creating and deactivating accounts, and handing over their first or reset passwords and
their API tokens.

A password or token made here is shown on the answering page once and never again: the
office hands it over, and a password must be changed by its owner at the first sign-in.
"""

import collections

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from registry import accounts, makers, ownership, shops, slips
from registry.edge import database
from registry.web import forms, session
from registry.web import reports as report_pages
from schemas.accounts import AccountIn, TokenIn
from schemas.makers import MakerDetailsIn, MakerIn, SuspendIn
from schemas.ownership import ResetIn
from schemas.shops import ShopIn
from schemas.standards import Role

bp = session.pages(Blueprint("admin", __name__, url_prefix="/admin"))
# Buyers' reports: the queue, shared with the inspectors' portal.
report_pages.queue_pages(bp, Role.ADMIN)


@bp.get("/makers", endpoint="makers")
@session.portal(Role.ADMIN)
def maker_list():
    """The makers admitted to the brand, and the form to admit another."""
    return _makers_page()


@bp.post("/makers")
@session.portal(Role.ADMIN)
def admit():
    """Admit a maker of Krasnoyarsk Krai, Khakassia or Tuva to the brand."""
    try:
        with forms.refusals(database.session()):
            maker = makers.admit(
                database.session(), forms.load(MakerIn(), request.form), actor=g.actor
            )
    except forms.Invalid as invalid:
        return _makers_page(errors=invalid.errors, status=invalid.status)
    database.session().commit()
    name = maker.name_en if _english() else maker.name_ru
    flash(gettext("%(name)s is admitted to the brand.", name=name))
    return redirect(url_for("admin.makers"))


@bp.get("/makers/<slug>", endpoint="maker")
@session.portal(Role.ADMIN)
def maker_page(slug: str):
    """One maker: their public details to change, and their suspension."""
    return _maker_page(makers.get(database.session(), slug))


@bp.post("/makers/<slug>")
@session.portal(Role.ADMIN)
def change_maker(slug: str):
    """Change a maker's names, city and showcase contacts; a contact left blank is removed."""
    dbs = database.session()
    maker = makers.get(dbs, slug)
    try:
        with forms.refusals(dbs):
            data = forms.load(MakerDetailsIn(), request.form)
            cleared = {name: None for name in ("phone", "email", "website") if name not in data}
            changed = makers.update(dbs, maker, {**cleared, **data}, actor=g.actor)
    except forms.Invalid as invalid:
        return _maker_page(maker, errors=invalid.errors, status=invalid.status)
    dbs.commit()
    if changed:
        flash(gettext("The details of %(name)s are saved.", name=_name(maker)))
    else:
        flash(gettext("Nothing was changed."))
    return redirect(url_for("admin.maker", slug=maker.slug))


@bp.post("/makers/<slug>/suspend")
@session.portal(Role.ADMIN)
def suspend_maker(slug: str):
    """Suspend a maker, with a reason kept private."""
    dbs = database.session()
    maker = makers.get(dbs, slug)
    try:
        with forms.refusals(dbs):
            data = forms.load(SuspendIn(), request.form)
            makers.suspend(dbs, maker, data["reason"], actor=g.actor)
    except forms.Invalid as invalid:
        return _maker_page(maker, suspend_errors=invalid.errors, status=invalid.status)
    dbs.commit()
    flash(gettext("%(name)s is suspended.", name=_name(maker)))
    return redirect(url_for("admin.maker", slug=maker.slug))


@bp.post("/makers/<slug>/reinstate")
@session.portal(Role.ADMIN)
def reinstate_maker(slug: str):
    """End a maker's suspension."""
    dbs = database.session()
    maker = makers.get(dbs, slug)
    try:
        with forms.refusals(dbs):
            makers.reinstate(dbs, maker, actor=g.actor)
    except forms.Invalid as invalid:
        return _maker_page(maker, suspend_errors=invalid.errors, status=invalid.status)
    dbs.commit()
    flash(gettext("%(name)s is reinstated.", name=_name(maker)))
    return redirect(url_for("admin.maker", slug=maker.slug))


def _maker_page(
    maker, *, errors: dict | None = None, suspend_errors: dict | None = None, status: int = 200
):
    html = render_template(
        "admin/maker.html",
        maker=maker,
        errors=errors or {},
        suspend_errors=suspend_errors or {},
        values=request.form if errors else {},
    )
    return html, status


def _name(maker) -> str:
    return maker.name_en if _english() else maker.name_ru


def _makers_page(*, errors: dict | None = None, status: int = 200):
    session_ = database.session()
    counts = collections.Counter(a.maker_id for a in accounts.listing(session_) if a.maker_id)
    html = render_template(
        "admin/makers.html",
        makers=makers.directory(session_),
        counts=counts,
        errors=errors or {},
        values=request.form if errors else {},
    )
    return html, status


@bp.get("/shops", endpoint="shops")
@session.portal(Role.ADMIN)
def shop_list():
    """The shops admitted to the brand, and the form to admit another."""
    return _shops_page()


@bp.post("/shops")
@session.portal(Role.ADMIN)
def admit_shop():
    """Admit a shop: the Jewellery Centre, a maker's own shop, an authorised retailer."""
    try:
        with forms.refusals(database.session()):
            shop = shops.admit(
                database.session(), forms.load(ShopIn(), request.form), actor=g.actor
            )
    except forms.Invalid as invalid:
        return _shops_page(errors=invalid.errors, status=invalid.status)
    database.session().commit()
    name = shop.name_en if _english() else shop.name_ru
    flash(gettext("%(name)s is admitted to the brand.", name=name))
    return redirect(url_for("admin.shops"))


def _shops_page(*, errors: dict | None = None, status: int = 200):
    session_ = database.session()
    counts = collections.Counter(a.shop_id for a in accounts.listing(session_) if a.shop_id)
    html = render_template(
        "admin/shops.html",
        shops=shops.directory(session_),
        makers=makers.directory(session_),
        counts=counts,
        errors=errors or {},
        values=request.form if errors else {},
    )
    return html, status


@bp.get("/accounts", endpoint="accounts")
@session.portal(Role.ADMIN)
def account_list():
    """Every account, and the form to create one."""
    return _accounts_page()


@bp.post("/accounts")
@session.portal(Role.ADMIN)
def create_account():
    """Create an account with a temporary password, shown on the answering page once."""
    try:
        with forms.refusals(database.session()):
            data = forms.load(AccountIn(), request.form)
            account = accounts.create(database.session(), data, actor=g.actor)
    except forms.Invalid as invalid:
        return _accounts_page(errors=invalid.errors, status=invalid.status)
    password = accounts.temporary_password()
    accounts.set_password(database.session(), account, password, actor=g.actor)
    database.session().commit()
    return _accounts_page(handed=_Handed("created", account, password), status=201)


@bp.post("/accounts/<id:account_id>/password")
@session.portal(Role.ADMIN)
def reset_password(account_id: int):
    """Give an account a new temporary password: the old one and every session end."""
    account = accounts.get(database.session(), account_id)
    if account.id == g.actor.id:
        # Your own password is changed knowing the current one, never reset unseen.
        message = gettext("Change your own password on your account page, not here.")
        return _accounts_page(refusal=message, status=409)
    password = accounts.temporary_password()
    accounts.set_password(database.session(), account, password, actor=g.actor)
    database.session().commit()
    return _accounts_page(handed=_Handed("reset", account, password))


@bp.post("/accounts/<id:account_id>/deactivate")
@session.portal(Role.ADMIN)
def deactivate(account_id: int):
    """Deactivate an account: signed out everywhere, its tokens revoked."""
    account = accounts.get(database.session(), account_id)
    refused = _account_step(accounts.deactivate, account)
    if refused:
        return refused
    flash(gettext("%(email)s is deactivated.", email=account.email))
    return redirect(url_for("admin.accounts"))


@bp.post("/accounts/<id:account_id>/reactivate")
@session.portal(Role.ADMIN)
def reactivate(account_id: int):
    """Let a deactivated account sign in again."""
    account = accounts.get(database.session(), account_id)
    refused = _account_step(accounts.reactivate, account)
    if refused:
        return refused
    flash(gettext("%(email)s can sign in again.", email=account.email))
    return redirect(url_for("admin.accounts"))


def _account_step(step, account):
    """Take `step` on the account and commit; the accounts page with the refusal, if any."""
    dbs = database.session()
    try:
        with forms.refusals(dbs):
            step(dbs, account, actor=g.actor)
    except forms.Invalid as invalid:
        message = " ".join(m for texts in invalid.errors.values() for m in texts)
        return _accounts_page(refusal=message, status=invalid.status)
    dbs.commit()
    return None


@bp.post("/accounts/<id:account_id>/tokens")
@session.portal(Role.ADMIN)
def issue_token(account_id: int):
    """Issue an API token for an account; its secret is shown on the answering page once."""
    account = accounts.get(database.session(), account_id)
    try:
        data = forms.load(TokenIn(), request.form)
    except forms.Invalid as invalid:
        message = " ".join(m for texts in invalid.errors.values() for m in texts)
        return _accounts_page(refusal=message, status=422)
    _token, secret = accounts.issue_token(
        database.session(), account, name=data.get("name"), actor=g.actor
    )
    database.session().commit()
    return _accounts_page(handed=_Handed("token", account, secret), status=201)


@bp.get("/ownership/reset")
@session.portal(Role.ADMIN)
def owner_reset_form():
    """Reset a lost owner key, on evidence: the form."""
    return _owner_reset_page()


@bp.post("/ownership/reset")
@session.portal(Role.ADMIN)
def owner_reset():
    """Reset a lost owner key: the owner key stops working, and a claim code for the
    owner is shown on the answering page once."""
    try:
        with forms.refusals(database.session()):
            data = forms.load(ResetIn(), request.form)
            issued = ownership.reset(
                database.session(), data["code"], note=data["note"], actor=g.actor
            )
    except forms.Invalid as invalid:
        return _owner_reset_page(errors=invalid.errors, status=invalid.status)
    database.session().commit()
    base = current_app.config["PUBLIC_BASE_URL"]
    handed = {"code": issued.printed, "url": slips.claim_url(base, issued.code)}
    return _owner_reset_page(handed=handed, status=201)


def _owner_reset_page(*, errors: dict | None = None, handed: dict | None = None, status=200):
    html = render_template(
        "admin/owner_reset.html",
        errors=errors or {},
        values=request.form if errors else {},
        handed=handed,
    )
    return html, status


_Handed = collections.namedtuple("_Handed", "kind account secret")
"""A secret to hand over: a new account's password, a reset one, or a token."""


def _accounts_page(
    *,
    errors: dict | None = None,
    handed: _Handed | None = None,
    refusal: str | None = None,
    status: int = 200,
):
    session_ = database.session()
    html = render_template(
        "admin/accounts.html",
        accounts=accounts.listing(session_),
        makers=makers.directory(session_),
        shops=shops.directory(session_),
        errors=errors or {},
        values=request.form if errors else {},
        handed=handed,
        refusal=refusal,
    )
    return html, status


def _english() -> bool:
    return str(get_locale()) == "en"
