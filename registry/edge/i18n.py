"""Languages of the pages: Russian and English, from the visitor's choice or browser.

The choice made with the switch (`?lang=`) is kept in a cookie; otherwise the browser's
Accept-Language decides, and Russian when it names neither.
"""

from flask import Flask, Response, current_app, request
from flask_babel import Babel, get_locale, get_translations

from registry import messages

LANGUAGES = ("ru", "en")
_COOKIE = "lang"
_YEAR = 365 * 24 * 3600


def chosen() -> str | None:
    """The language picked with the switch: in this request's URL, or kept from before."""
    environ = request.environ
    # Parse the query and the cookies only when there are any (most scans have neither).
    asked = request.args.get(_COOKIE) if environ.get("QUERY_STRING") else None
    kept = request.cookies.get(_COOKIE) if environ.get("HTTP_COOKIE") else None
    for value in (asked, kept):
        if value in LANGUAGES:
            return value
    return None


def select_locale() -> str:
    return (
        chosen()
        or request.accept_languages.best_match(LANGUAGES)
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def remember(response: Response) -> Response:
    """Keep a language picked in the URL; the answer then is for this visitor only."""
    picked = request.args.get(_COOKIE)
    if picked in LANGUAGES and request.cookies.get(_COOKIE) != picked:
        response.set_cookie(
            _COOKIE,
            picked,
            max_age=_YEAR,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
        response.cache_control.public = False
        response.cache_control.private = True
    if "Vary" in response.headers:
        response.vary.update(("Accept-Language", "Cookie"))
    else:
        response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def explained(message: str) -> str:
    """A service's or schema's message (English) in the page's language
    (registry.messages): as it is where the catalog lacks it."""
    return messages.translate(message, get_translations())


def explained_or_none(message: str | None) -> str | None:
    """`explained`, or None where the page is not in English and the catalog lacks the
    message: a page keeps to its own language rather than show English in it."""
    if not message:
        return None
    said = explained(message)
    return said if said != message or str(get_locale()) == "en" else None


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
