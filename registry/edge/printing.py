"""The printables of this app's configuration: its card fonts, and a certificate's card
as the maker prints it and the buyer downloads it (registry/cards.py draws them)."""

from typing import Any

from flask import current_app

from registry import cards, codes, photos, qr
from registry.edge import database


def fonts() -> cards.Fonts:
    """REGISTRY_CARD_FONT and REGISTRY_CARD_FONT_BOLD."""
    config = current_app.config
    return cards.Fonts(regular=config["CARD_FONT"], bold=config["CARD_FONT_BOLD"])


def card(payload: dict[str, Any], code: str) -> bytes:
    """The A6 certificate card (Russian and English) of a certificate's signed payload,
    with the signed photo and the QR code of its verification address (canonical code)."""
    photo_jpeg = None
    signed_photo = payload["piece"].get("photo")
    if signed_photo:
        photo_jpeg = photos.image(database.session(), signed_photo["sha256"]).data
    config = current_app.config
    return cards.card(
        payload,
        printed_code=codes.printed(code),
        url=qr.url(config["PUBLIC_BASE_URL"], code),
        photo_jpeg=photo_jpeg,
        fonts=fonts(),
        timezone=config["DISPLAY_TIMEZONE"],
    )
