"""The sale slip: an A6 PDF the seller prints for the buyer at the sale, in Russian and
English side by side, holding the piece, the seller, the date, and the one-time
ownership claim code in groups beside the QR code of the claim address.

The claim code is never stored (only its hash), so a slip can be made only in the
request that recorded the sale. Pure rendering, on the certificate card's page and
helpers (registry/cards.py): the same fonts, frame, QR drawing and bilingual words (from
the pages' catalog); no Flask, no database.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from registry import cards, qr, sales, words
from registry.words import N_

#: The slip's own words; each printed in Russian (from the catalog) and in English.
WORDS = {
    "slip": N_("Sale slip"),
    "piece": N_("Piece"),
    "certificate": N_("Certificate code"),
    "seller": N_("Sold by"),
    "date": N_("Date of sale"),
    "claim": N_("Ownership claim code"),
    "how": N_("Scan the QR code, or open {site} and type the code, to register as the owner."),
    "once": N_("The code works once. Keep this slip private: whoever holds the code can claim."),
}


@dataclass(frozen=True)
class Slip:
    """What a sale slip shows. `seller` is (Russian, English) names; `claim_url` is what
    the QR code encodes (claim_url())."""

    brand: str
    title: str
    kind: str
    metal: str
    fineness: int
    certificate_code: str  # printed, in groups
    seller: tuple[str, str]
    city: str
    address: str | None
    sold_at: datetime
    claim_code: str  # printed, in groups
    claim_url: str


def claim_url(base_url: str, code: str) -> str:
    """The claim address a slip's QR code carries: the ownership claim page, the code
    in its canonical form (no dashes)."""
    return f"{base_url.rstrip('/')}/own/claim?{urlencode({'code': code})}"


def of(recorded: sales.Recorded, *, brand: str, base_url: str) -> Slip:
    """What the slip of a sale just recorded shows."""
    sale, piece = recorded.sale, recorded.piece
    shop = sale.shop
    if shop is not None:
        seller, city, address = (shop.name_ru, shop.name_en), shop.city, shop.address
    else:
        maker = piece.maker
        seller, city, address = (maker.name_ru, maker.name_en), maker.city, None
    return Slip(
        brand=brand,
        title=piece.title,
        kind=piece.kind,
        metal=piece.metal,
        fineness=piece.fineness,
        certificate_code=recorded.certificate.printed_code,
        seller=seller,
        city=city,
        address=address,
        sold_at=sale.sold_at,
        claim_code=recorded.printed_claim_code,
        claim_url=claim_url(base_url, recorded.claim_code),
    )


def slip(content: Slip, *, fonts: cards.Fonts, timezone: str = "Asia/Krasnoyarsk") -> bytes:
    """The slip as one A6 portrait page. Raises FileNotFoundError when a font is missing."""
    with cards._document(fonts, cards._A6) as pdf:
        _draw(pdf, content, timezone)
        return bytes(pdf.output())


def _pair(word: str) -> tuple[str, str]:
    return cards._in_both(WORDS[word])


def _both(word: str) -> str:
    return " / ".join(_pair(word))


def _draw(pdf, content: Slip, timezone: str) -> None:
    margin, width, height = cards._MARGIN, *cards._A6
    inner = width - 2 * margin
    sold = content.sold_at.astimezone(ZoneInfo(timezone))
    pdf.set_title(f"{_both('slip')} {content.certificate_code}")
    pdf.set_subject(_both("slip"))
    pdf.set_author(content.brand)
    pdf.set_lang("ru")
    pdf.set_creation_date(content.sold_at)
    pdf.add_page()
    pdf.set_draw_color(*cards._GOLD)
    pdf.set_line_width(0.35)
    inset = cards._FRAME_INSET
    pdf.rect(inset, inset, width - 2 * inset, height - 2 * inset)

    # 1. The heading: brand and what this is.
    y = margin
    pdf.set_text_color(*cards._INK)
    cards._text(pdf, "B", 14, content.brand, margin, y, inner, 6.0, align="C")
    y += 6.2
    pdf.set_text_color(*cards._MUTED)
    cards._text(pdf, "", 7.5, " · ".join(_pair("slip")), margin, y, inner, 3.6, align="C")
    y += 5.0
    pdf.set_line_width(0.25)
    pdf.line(margin + 20, y, width - margin - 20, y)
    y += 3.0

    # 2. The piece, the seller and the date.
    kind = cards._named(words.KINDS, content.kind)
    metal = cards._named(words.METALS, content.metal)
    seller = content.seller[0] if content.seller[0] == content.seller[1] else None
    seller_text = seller or " / ".join(content.seller)
    place = ", ".join(part for part in (content.city, content.address) if part)
    rows = [
        (_both("piece"), [content.title, f"{kind} · {metal} {content.fineness}"]),
        (_both("certificate"), [content.certificate_code]),
        (_both("seller"), [seller_text, place]),
        (_both("date"), [sold.date().isoformat()]),
    ]
    for label, values in rows:
        pdf.set_text_color(*cards._MUTED)
        y = cards._paragraph(pdf, "", cards._LABEL_PT, label, margin, y, inner, 2.8, 1)
        pdf.set_text_color(*cards._INK)
        for value in values:
            y = cards._paragraph(pdf, "", 8.2, value, margin, y, inner, 3.7, 2)
        y += 1.6

    # 3. The claim: the code in groups, large, then the QR code of the claim address.
    y += 1.0
    pdf.set_draw_color(*cards._GOLD)
    pdf.line(margin, y, width - margin, y)
    y += 2.5
    pdf.set_text_color(*cards._MUTED)
    cards._text(pdf, "", 6.5, _both("claim"), margin, y, inner, 3.0, align="C")
    y += 3.6
    pdf.set_text_color(*cards._INK)
    size = min(15.0, inner / cards._MM_PER_PT / (0.6 * len(content.claim_code)))
    pdf.set_font(cards._CODE_FONT, "B", size)
    pdf.set_xy(margin, y)
    pdf.cell(inner, size * cards._MM_PER_PT * 1.3, content.claim_code, align="C")
    y += size * cards._MM_PER_PT * 1.3 + 1.5

    # How to claim, across the page; then the QR code, centred at the foot.
    site = content.claim_url.split("://", 1)[-1].split("?", 1)[0]
    pdf.set_text_color(*cards._MUTED)
    for phrase in _pair("how"):
        y = cards._paragraph(pdf, "", 6.3, phrase.format(site=site), margin, y, inner, 2.8, 2)
    y += 0.8
    pdf.set_text_color(*cards._INK)
    for phrase in _pair("once"):
        y = cards._paragraph(pdf, "B", 6.3, phrase, margin, y, inner, 2.8, 2)
    qr_side = min(30.0, height - margin - y - 2.0)
    modules = qr.modules(content.claim_url, border=cards._QUIET_ZONE)
    cards._draw_qr(pdf, modules, (width - qr_side) / 2, height - margin - qr_side, qr_side)
