"""The owner's pages: claim a piece with the code on the sale slip, then, with the owner
key, report it stolen or lost, withdraw that report, or hand it over.

No account and no script. The owner key is a secret that must never reach an access log
or another site, so it travels only in POST bodies: the key form, and a hidden field of
every button on the owner's page. The "private link" given at the claim is
`/own#key=<key>`: a browser never sends the fragment, so the server and its logs never
see it, and the page it opens asks for the key (the link holds it, to copy). Every answer
is kept by no cache; the app sends Referrer-Policy: no-referrer on every response.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale, gettext

from registry import ownership, slips
from registry.edge import database, http_cache, limits
from registry.errors import RegistryError
from registry.models import Ownership, Piece
from registry.web import forms, session

bp = session.pages(Blueprint("owner", __name__, url_prefix="/own"))

_FRAGMENT = "#key="


@bp.get("/claim")
@limits.public
def claim_form():
    """The claim form, filled in from the address the slip's QR code carries."""
    typed = request.args.get("code", "").strip()[:64]
    return _private(render_template("owner/claim.html", typed=typed, errors={}))


@bp.post("/claim")
@limits.public
def claim():
    """Claim the piece: the owner key is shown on the answer, once."""
    typed = request.form.get("claim_code", "").strip()[:64]
    try:
        claimed = ownership.claim(database.session(), typed)
    except RegistryError as error:
        database.session().rollback()
        errors = forms.refused(error).errors
        html = render_template("owner/claim.html", typed=typed, errors=errors)
        return _private((html, error.status))
    database.session().commit()
    base = current_app.config["PUBLIC_BASE_URL"]
    html = render_template(
        "owner/claimed.html",
        owner_key=claimed.owner_key,
        private_link=f"{base}/own{_FRAGMENT}{claimed.owner_key}",
        **_piece_view(claimed.ownership, claimed.piece),
    )
    return _private((html, 201))


@bp.get("")
@limits.public
def key_form():
    """The owner key form (a private link opens it: its key stays in the fragment)."""
    return _private(render_template("owner/key.html", errors={}))


@bp.post("")
@limits.public
@database.reads
def page():
    """The owner's page for the key sent: the piece, since when, and what they can do."""
    key = _key_sent()
    try:
        owned = ownership.owned(database.session(), key)
    except RegistryError as error:
        return _refused_key(error)
    return _private(_owner_page(key, owned.ownership, owned.piece))


@bp.post("/report")
@limits.public
def report():
    """Report the piece stolen or lost, or withdraw the report; the owner's page again."""
    key = _key_sent()
    kind = request.form.get("kind", "")
    try:
        owned = ownership.report(database.session(), key, kind)
    except RegistryError as error:
        database.session().rollback()
        return _refused(key, error)
    database.session().commit()
    done = {
        "stolen": gettext("The piece is reported stolen: every code of it now says so, in red."),
        "lost": gettext("The piece is reported lost: every code of it now says so."),
        "found": gettext("Your report is withdrawn: the piece's codes no longer show it."),
    }[kind]
    return _private(_owner_page(key, owned.ownership, owned.piece, done=done))


@bp.post("/handover")
@limits.public
def handover():
    """A claim code for the next owner, shown once; the key works until it is claimed."""
    key = _key_sent()
    try:
        issued = ownership.handover(database.session(), key)
    except RegistryError as error:
        database.session().rollback()
        return _refused(key, error)
    database.session().commit()
    base = current_app.config["PUBLIC_BASE_URL"]
    html = render_template(
        "owner/handover.html",
        claim_code=issued.printed,
        claim_url=slips.claim_url(base, issued.code),
    )
    return _private((html, 201))


def _key_sent() -> str:
    """The owner key of the form, also when the whole private link was pasted."""
    text = request.form.get("owner_key", "").strip()
    return text.rpartition(_FRAGMENT)[2] if _FRAGMENT in text else text


def _refused_key(error: RegistryError):
    """The key form again: the same words for a key never issued and one no longer valid
    (registry.ownership), or for text that is no key at all."""
    errors = {"owner_key": [gettext("This owner key is not, or no longer, valid.")]}
    return _private((render_template("owner/key.html", errors=errors), error.status))


def _refused(key: str, error: RegistryError):
    """A refused action: the key form when the key opens nothing, else the owner's page
    again, saying why."""
    try:
        owned = ownership.owned(database.session(), key)
    except RegistryError as gone:
        return _refused_key(gone)
    # English pages say the service's whole explanation, others its translated words.
    messages = forms.refused(error).errors
    texts = messages.get("_schema") or [m for field in messages.values() for m in field]
    refusal = " ".join(texts)
    html = _owner_page(key, owned.ownership, owned.piece, refusal=refusal)
    return _private((html, error.status))


def _owner_page(key: str, owned: Ownership, piece: Piece, **extra) -> str:
    return render_template(
        "owner/page.html",
        owner_key=key,
        report=owned.report,
        **_piece_view(owned, piece),
        **extra,
    )


def _piece_view(owned: Ownership, piece: Piece) -> dict:
    locale = str(get_locale())
    return {
        "piece": piece,
        "maker_name": piece.maker.name_en if locale == "en" else piece.maker.name_ru,
        "certificate": piece.current_certificate,
        "since": month(owned.since, locale),
    }


def month(moment: datetime, locale: str) -> str:
    """A month and year in the regions' time zone, as "since <month year>" reads it:
    "November 2026", "ноября 2026" (the genitive the sentence needs in Russian)."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return format_date(moment.astimezone(zone).date(), "MMMM y", locale=locale)


def _private(response):
    return http_cache.private(response)
