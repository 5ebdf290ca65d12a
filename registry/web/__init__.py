"""The pages people read: server-rendered, Russian and English, no script."""

from pathlib import Path

from flask import Flask
from flask_babel import get_locale
from markupsafe import Markup

from registry import headers, i18n

SITE_CSS = Path(__file__).resolve().parent.parent / "static" / "site.css"


def init_app(app: Flask) -> None:
    from registry.web import verification

    css = SITE_CSS.read_text(encoding="utf-8")
    # Our own stylesheet from the package, never user input: safe to place unescaped.
    inline_css = Markup(css)  # noqa: S704
    # Inline: a phone on a slow connection gets the page in one round trip; the CSP
    # allows exactly this stylesheet by its hash.
    headers.init_app(app, inline_css=css)
    i18n.init_app(app)

    @app.context_processor
    def _page_globals():
        return {"site_css": inline_css, "locale": str(get_locale())}

    app.register_blueprint(verification.bp)
