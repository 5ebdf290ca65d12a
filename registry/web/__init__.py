"""The pages people read: server-rendered, Russian and English, no script: the public
verification page and showcase, and the portals of makers, inspectors and the office."""

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import get_locale, get_translations
from markupsafe import Markup, escape

from registry import numbers, words
from registry.edge import i18n, signing
from schemas import standards

STATIC = Path(__file__).resolve().parent.parent / "static"
SITE_CSS = STATIC / "site.css"
#: The portals' and showcase's own rules, inlined after site.css on every page but the
#: verification pages, which stay as small as they can for a phone on a slow connection.
PORTAL_CSS = STATIC / "portal.css"
#: The one script, placed by a photo's file field: its size checked before sending.
PHOTO_CHECK_JS = STATIC / "photo_check.js"


def init_app(app: Flask) -> None:
    from registry.web import (
        account,
        admin,
        forms,
        inspector,
        maker,
        owner,
        public,
        reports,
        session,
        shop,
        verification,
    )

    css, portal_css = stylesheets()
    # Our own stylesheets from the package, never user input: safe to place unescaped.
    inline_css = Markup(css)  # noqa: S704
    inline_portal_css = Markup(portal_css)  # noqa: S704
    (photo_check,) = scripts()
    inline_photo_check = Markup(photo_check)  # noqa: S704

    @app.context_processor
    def _page_globals():
        locale = str(get_locale())
        translations = get_translations()
        return {
            "site_css": inline_css,
            "portal_css": inline_portal_css,
            "locale": locale,
            "gettext": _page_gettext(translations.gettext),
            "L": _words(locale, translations),
        }

    # The vocabularies, for pages to list and name them: L[words.KINDS[kind]].
    app.jinja_env.globals.update(
        words=words, standards=standards, in_language=_in_language, grams=_grams
    )
    # A global, not a context value: the form macros are imported without the context.
    app.jinja_env.globals["photo_check_js"] = inline_photo_check
    app.add_template_filter(_day_filter, "day")
    app.add_template_filter(_zip_words, "zip_words")
    app.add_template_filter(lambda errors: forms.flat(errors).items(), "flat_errors")
    app.add_template_filter(_moment_filter, "moment")
    app.add_template_filter(_stone_filter, "stone_name")
    app.add_template_filter(_in_locale, "in_locale")
    # A service's message (English) in the page's language: registry.messages.
    app.add_template_filter(i18n.explained, "explained")
    session.init_app(app)
    for blueprint in (verification, public, account, maker, inspector, admin, owner, reports, shop):
        app.register_blueprint(blueprint.bp)


def scripts() -> list[str]:
    """The scripts the pages inline (the CSP allows exactly these, by their hashes): each
    only helps a form that works without it."""
    return [PHOTO_CHECK_JS.read_text(encoding="utf-8")]


def stylesheets() -> list[str]:
    """The stylesheets the pages inline: a phone on a slow connection gets the page in one
    round trip, and the CSP (registry.edge.headers) allows exactly these by their hashes."""
    return [path.read_text(encoding="utf-8") for path in (SITE_CSS, PORTAL_CSS)]


def _in_language(code: str) -> str:
    """This page's address in another language: its query kept, `lang` replaced."""
    if not request.query_string:
        return f"?lang={code}"
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode([*query, ("lang", code)])


def _zip_words(values, table: dict[str, str], words_: dict) -> list[tuple[str, str]]:
    """(value, its word in the page's language) for a select of a vocabulary."""
    return [(value, words_[table[value]]) for value in values]


def _stone_filter(stone: dict) -> str:
    """A stone named in the page's language (registry.words.stone_name)."""
    return words.stone_name(stone, get_translations().gettext)


def _in_locale(name) -> str:
    """A name signed in both languages ({"ru", "en"}) in the page's. A name kept in one
    (an attestation's inspectorate, and certificates before schema version 3) is shown
    in the page's language where it is a configured inspectorate's, else as it is."""
    if isinstance(name, str):
        known = signing.issuer().inspectorate(name) if name else None
        if known is None:
            return name
        name = known.names()
    return name.get(str(get_locale())) or name.get("en") or ""


def _grams(weight) -> str:
    """A weight in grams, two decimals, in the page's digits: 3.40 or 3,40."""
    return numbers.number(weight, 2, str(get_locale()))


def _day_filter(moment) -> str:
    """A date as the pages show it: in the regions' time zone, in the page's language."""
    from registry.web import verification

    return verification.day(moment, str(get_locale()))


def _moment_filter(moment) -> str:
    """A date and time to the minute, in the regions' time zone and the page's language."""
    from registry.web import verification

    return verification.moment(moment, str(get_locale()))


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _words(locale: str, translations) -> dict[str, Markup]:
    """The pages' fixed words in one language, translated once (the catalog is the
    same for every request in that language)."""
    return _Words({word: escape(translations.gettext(word)) for word in words.every_word()})


class _Words(dict):
    """A word the table lacks shows as it is, never as nothing (a test lists them all)."""

    def __missing__(self, word: str) -> str:
        return word


def _page_gettext(translate: Callable[[str], str]) -> Callable[..., Markup]:
    """`_()` for one page render, bound to its catalog once.

    Flask-Babel looks the catalog up again on every `_()` (tens of microseconds each, and
    a page has dozens); this is the same newstyle gettext Jinja installs, without the
    lookup: the message is trusted markup from our catalog, its variables are escaped.
    """

    def gettext(message: str, **variables) -> Markup:
        markup = Markup(translate(message))  # noqa: S704 (our catalog; variables escaped)
        return markup % variables if variables else markup

    return gettext
