"""The brand's public pages: the home page, the maker directory, each maker's showcase.

Public like the verification page: no account, the same for every visitor in a language,
so a CDN may keep them for a minute (a revoked piece leaves the showcase as fast as its
verification page changes); rate-limited with the verification's allowance.
"""

from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale
from werkzeug.exceptions import BadRequest

from registry import makers, showcase
from registry.edge import database, http_cache, i18n, limits, signing
from registry.errors import InvalidInput
from registry.web import forms, session

bp = session.pages(Blueprint("public", __name__), forms=False)
#: The largest `after` a showcase link may hold: 18 digits.
_LARGEST_AFTER = 10**18 - 1


@bp.get("/")
@limits.public
def home():
    """What the brand is, a code to check, and its three regions with their makers."""
    html = render_template("public/home.html", regions=showcase.regions(database.session()))
    return _public(html)


@bp.get("/makers")
@limits.public
def directory():
    """The brand's makers, of one region or all, with how many pieces each has on show."""
    region = request.args.get("region") or None
    try:
        listed = showcase.directory(
            database.session(), region=region, locale=_locale(), distrust=_distrust()
        )
    except InvalidInput:
        html = render_template(
            "public/makers.html", region=None, listed=None, unknown=(region or "")[:32]
        )
        return _public((html, 400))
    return _public(render_template("public/makers.html", region=region, listed=listed))


@bp.get("/makers/<slug>")
@limits.public
def maker(slug: str):
    """A maker's showcase: who they are, then their certified pieces, newest first.

    An unknown or suspended maker is a 404 page (makers.get raises NotFound).
    """
    try:
        after = forms.cursor(request.args.get("after"), largest=_LARGEST_AFTER)
    except ValueError:
        raise BadRequest("The page's `after` must be a number from a link of this page.") from None
    found = makers.get(database.session(), slug, public=True)
    distrust = _distrust()
    items, next_after = showcase.pieces(
        database.session(), found, after=after, limit=showcase.PAGE_SIZE, distrust=distrust
    )
    html = render_template(
        "public/maker.html",
        maker=found,
        items=items,
        total=showcase.on_show(database.session(), found, distrust=distrust),
        sellers=showcase.sellers(database.session(), found),
        next_after=next_after,
        paged=after is not None,
    )
    return _public(html)


def _distrust():
    return showcase.distrusted(signing.keyring())


def _locale() -> str:
    return str(get_locale())


def _public(page):
    response = current_app.make_response(page)
    response = http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])
    return i18n.remember(response)
