"""The shops' portal: their sales, newest first, the form to record one by a code typed
or scanned, and the page shown once after a sale with its claim code and slip.

The claim code is never stored: the page after the sale is the only place it and the
slip are shown, so the slip is in that page itself (a download link holding the PDF),
not behind an address that could be opened again.
"""

import base64
from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from registry import sales, slips
from registry.api import sales as sales_api
from registry.edge import database
from registry.errors import Conflict, Forbidden, MalformedCode, MistypedCode, NotFound
from registry.web import session
from schemas.standards import Role

bp = session.pages(Blueprint("shop", __name__, url_prefix="/shop"))

_REFUSED = (Conflict, Forbidden, MalformedCode, MistypedCode, NotFound)


@bp.get("/")
@session.portal(Role.SHOP)
def home():
    """The shop's sales, newest first, and the form to record another."""
    return _home()


@bp.post("/sales")
@session.portal(Role.SHOP)
def record():
    """Record a sale by the code typed or scanned; the answer shows the claim code and
    offers the slip, this once."""
    typed = request.form.get("code", "")
    printing = sales_api.fonts()
    try:
        recorded = sales.record(database.session(), _code_of(typed), g.actor)
    except _REFUSED as error:
        database.session().rollback()
        return _home(typed=typed[:100], refusal=_refusal(error), status=error.status)
    database.session().commit()
    pdf = sales_api.slip_of(recorded, printing)
    html = render_template(
        "shop/sold.html",
        recorded=recorded,
        claim_url=slips.claim_url(current_app.config["PUBLIC_BASE_URL"], recorded.claim_code),
        slip=base64.b64encode(pdf).decode("ascii"),
        slip_name=f"slip-{recorded.certificate.printed_code}.pdf",
    )
    return html, 201


@bp.post("/sales/<code>/cancel")
@session.portal(Role.SHOP)
def cancel(code: str):
    """Cancel one of the shop's sales (a return) within the window."""
    try:
        sales.cancel(database.session(), code, g.actor, window=_window())
    except _REFUSED as error:
        database.session().rollback()
        if isinstance(error, NotFound | MalformedCode | MistypedCode):
            raise
        return _home(refusal=_refusal(error), status=error.status)
    database.session().commit()
    flash(gettext("The sale is cancelled: its claim code no longer works."))
    return redirect(url_for("shop.home"), code=303)


def _home(*, typed: str = "", refusal: str | None = None, status: int = 200):
    listed = sales.of_seller(database.session(), g.actor, window=_window())
    html = render_template(
        "shop/home.html",
        shop=g.actor.shop,
        listed=listed,
        typed=typed,
        refusal=refusal,
        days=current_app.config["SALE_CANCEL_DAYS"],
    )
    return html, status


def _window() -> timedelta:
    return sales_api.window()


def _code_of(typed: str) -> str:
    """The code in what was typed or scanned: a scanner reading the piece's QR code
    types its whole verification address, `<base>/v/<code>`."""
    text = typed.strip()
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0]
    return text


def _refusal(error: Exception) -> str:
    """Why the sale was refused, in the page's language (the services explain in
    English, which an English page shows as it is)."""
    if str(get_locale()) == "en" and hasattr(error, "detail"):
        return error.detail
    if isinstance(error, MistypedCode):
        return gettext("This code has a typing error. Check the code and type it again.")
    if isinstance(error, MalformedCode):
        return gettext("This is not a certificate code: codes look like YS-XXXX-XXXX-XXX-XXX.")
    if isinstance(error, NotFound):
        return gettext("The registry never issued this code, or the piece is not yours to sell.")
    if isinstance(error, Conflict):
        return gettext(
            "This piece cannot be sold or its sale cancelled now: its certificate is not "
            "valid, it is already sold, or the time to cancel has passed."
        )
    return gettext("Your account cannot do this.")
