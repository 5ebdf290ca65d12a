"""Demo data for a first look: makers in all three regions, their pieces, most of them
certified, one revoked, one failed and one still awaiting assay; every piece with a
photo, drawn here, so that the demo certificates sign photo hashes too."""

import io
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from registry import (
    accounts,
    assays,
    certificates,
    codes,
    inspection,
    makers,
    ownership,
    photos,
    pieces,
    sales,
    scans,
    shops,
)
from registry.models import Account, Maker, Piece
from schemas.assays import AssayIn
from schemas.makers import MakerIn
from schemas.pieces import PieceIn
from schemas.shops import ShopIn
from schemas.standards import (
    AssayResult,
    CertificateStatus,
    Kind,
    Metal,
    OwnerReport,
    RevocationReason,
    Role,
    ShopKind,
)

MAKERS = [
    {
        "slug": "yenisey-gold",
        "name_ru": "Енисейское золото",
        "name_en": "Yenisey Gold",
        "region": "RU-KYA",
        "city": "Красноярск",
        "mark": "КЯ12",
    },
    {
        "slug": "sayan-silver",
        "name_ru": "Саянское серебро",
        "name_en": "Sayan Silver",
        "region": "RU-KK",
        "city": "Абакан",
        "mark": "АБ07",
    },
    {
        "slug": "tuva-ornament",
        "name_ru": "Тувинский орнамент",
        "name_en": "Tuvan Ornament",
        "region": "RU-TY",
        "city": "Кызыл",
        "mark": "КЗ03",
    },
]

#: Reference, kind, title, metal, fineness, weight in grams, stones.
DemoPiece = tuple[str, Kind, str, Metal, int, str, list[dict[str, Any]]]

PIECES: dict[str, list[DemoPiece]] = {
    "yenisey-gold": [
        (
            "YG-001",
            Kind.RING,
            "Кольцо «Енисей»",
            Metal.GOLD,
            585,
            "3.42",
            [{"type": "diamond", "count": 3, "carat": "0.15"}],
        ),
        ("YG-002", Kind.EARRINGS, "Серьги «Столбы»", Metal.GOLD, 750, "5.10", []),
        (
            "YG-003",
            Kind.PENDANT,
            "Подвеска «Кедр»",
            Metal.GOLD,
            585,
            "2.05",
            [{"type": "chrysolite", "count": 1, "carat": "0.80"}],
        ),
    ],
    "sayan-silver": [
        ("SS-101", Kind.BRACELET, "Браслет «Саяны»", Metal.SILVER, 925, "18.30", []),
        (
            "SS-102",
            Kind.BROOCH,
            "Брошь «Абакан»",
            Metal.SILVER,
            925,
            "7.75",
            [{"type": "nephrite", "count": 1, "carat": "4.20"}],
        ),
        ("SS-103", Kind.CHAIN, "Цепь «Хакасия»", Metal.SILVER, 875, "12.00", []),
    ],
    "tuva-ornament": [
        ("TO-201", Kind.NECKLACE, "Ожерелье «Тыва»", Metal.SILVER, 960, "24.60", []),
        ("TO-202", Kind.CUFFLINKS, "Запонки «Агальматолит»", Metal.GOLD, 585, "6.40", []),
        ("TO-203", Kind.RING, "Кольцо «Улуг-Хем»", Metal.PLATINUM, 950, "4.90", []),
    ],
}

#: The demo accounts' portal password: demo data is for a developer's own machine only.
DEMO_PASSWORD = "yenisey-demo-2026"  # noqa: S105


def load(
    session: Session,
    ring: keys.KeyRing,
    issuer: certificates.Issuer,
    *,
    zone: str = "Asia/Krasnoyarsk",
) -> str:
    """Create the demo records through the services (so the log records them too); `zone`
    is the regions' time zone, the day the demo's scan counts fall on."""
    admin = accounts.create(
        session, {"email": "office@demo.yenisey.example", "role": Role.ADMIN}, actor=None
    )
    inspector = accounts.create(
        session,
        {
            "email": "inspector@demo.yenisey.example",
            "role": Role.INSPECTOR,
            "display_name": "Demo Inspector",
        },
        actor=admin,
    )
    people = [admin, inspector]
    created = []
    for maker_data in MAKERS:
        maker = makers.admit(session, MakerIn().load(maker_data), actor=admin)
        account = accounts.create(
            session,
            {
                "email": f"{maker.slug}@demo.yenisey.example",
                "role": Role.MAKER,
                "maker": maker.slug,
            },
            actor=admin,
        )
        people.append(account)
        for ref, kind, title, metal, fineness, weight, stones in PIECES[maker.slug]:
            data = PieceIn().load(
                {
                    "reference": ref,
                    "kind": kind,
                    "title": title,
                    "metal": metal,
                    "fineness": fineness,
                    "weight_g": weight,
                    "stones": stones,
                }
            )
            piece = pieces.register(session, maker, data, actor=account)
            image = photo(kind, metal, stones, backdrop=BACKDROPS[maker.region])
            photos.attach(session, piece.id, image, actor=account)
            created.append(piece)

    awaiting, failed, revoked = created[-1], created[-2], created[0]
    for piece in created:
        if piece is awaiting:
            continue
        result = AssayResult.FAILED if piece is failed else AssayResult.PASSED
        assays.attest(
            session,
            ring,
            piece.id,
            AssayIn().load(
                {
                    "result": result,
                    "metal": piece.metal,
                    "fineness": piece.fineness,
                    "assay_mark": f"{piece.fineness}-KRS",
                    "inspectorate": inspection.INSPECTORATE,
                }
            ),
            issuer=issuer,
            actor=inspector,
        )
    certificate = revoked.current_certificate
    assert certificate is not None  # noqa: S101 - it passed its assay above: it was certified
    certificates.revoke(
        session,
        certificate.code,
        reason=RevocationReason.DATA_ERROR,
        note="Weight recorded wrongly at registration.",
        actor=inspector,
    )
    shop_account, after_sale = _after_the_sale(
        session, ring, issuer, created[1:5], admin=admin, inspector=inspector, zone=zone
    )
    people.append(shop_account)
    for person in people:
        accounts.set_password(session, person, DEMO_PASSWORD, actor=None, must_change=False)
    session.flush()
    return summary(session, issuer.url) or ""


#: The demo's pieces that show what comes after a sale, by (maker, reference), and what
#: each shows: `_after_the_sale` makes them of the 2nd to 5th pieces registered.
_AFTER_SALE = (
    "sold",
    "sold and owned",
    "reported stolen by its owner",
    "sold, with a copy caution",
)


def summary(session: Session, base_url: str) -> str | None:
    """What the demo holds, to open and to sign in with: every piece with its address,
    each verdict after a sale, and every account by its e-mail. Read from the database,
    so that `make run` prints it on every start; None when the demo was never loaded."""
    office = select(Account.id).where(Account.email == "office@demo.yenisey.example")
    if session.scalar(office) is None:
        return None
    wanted = [(m["slug"], ref) for m in MAKERS for ref, *_ in PIECES[m["slug"]]]
    found = {
        (piece.maker.slug, piece.reference): piece
        for piece in session.scalars(
            select(Piece).join(Maker).where(Maker.slug.in_([m["slug"] for m in MAKERS]))
        )
    }
    demo_pieces = [found[key] for key in wanted if key in found]
    lines = [f"demo: {len(MAKERS)} makers, {len(demo_pieces)} pieces"]
    for piece in demo_pieces:
        line = f"  {piece.maker.slug:14} {piece.reference:7} {piece.status:15}"
        code = piece.current_certificate_code
        if code:
            line += f" {codes.printed(code)}  {base_url}/v/{code}"
        lines.append(line.rstrip())
    lines.append("after the sale:")
    for what, piece in zip(_AFTER_SALE, demo_pieces[1:5], strict=False):
        lines.append(f"  {what:34} {base_url}/v/{piece.current_certificate_code}")
        if what.startswith("reported stolen"):
            for older in piece.certificates:
                if older.status == CertificateStatus.SUPERSEDED:
                    lines.append(
                        f"  {'  (its superseded certificate)':34} {base_url}/v/{older.code}"
                    )
    lines.append(f"accounts (password {DEMO_PASSWORD}; sign in at {base_url}/login):")
    people = [
        ("office@demo.yenisey.example", "the brand office"),
        ("inspector@demo.yenisey.example", "an assay inspector"),
        ("shop@demo.yenisey.example", "the Yenisey Jewellery Centre (a shop)"),
        *(
            (f"{maker_data['slug']}@demo.yenisey.example", f"a maker: {maker_data['name_en']}")
            for maker_data in MAKERS
        ),
    ]
    lines.extend(f"  {email:36} {who}" for email, who in people)
    lines.append("a token for the API: registry tokens create --email EMAIL")
    return "\n".join(lines)


def _after_the_sale(
    session: Session,
    ring: keys.KeyRing,
    issuer: certificates.Issuer,
    certified: list,
    *,
    admin,
    inspector,
    zone: str,
) -> tuple[Any, list[tuple[str, str]]]:
    """A shop, and a piece of each verdict that comes after a sale: sold, owned, reported
    stolen by its owner (with a superseded older certificate), and sold with a copy
    caution. The shop's account, and (what, code) of each."""
    shop = shops.admit(
        session,
        ShopIn().load(
            {
                "slug": "jewellery-centre",
                "name_ru": "Ювелирный центр «Енисей»",
                "name_en": "Yenisey Jewellery Centre",
                "kind": ShopKind.JEWELLERY_CENTRE,
                "region": "RU-KYA",
                "city": "Красноярск",
                "address": "проспект Мира, 10",
            }
        ),
        actor=admin,
    )
    account = accounts.create(
        session,
        {"email": "shop@demo.yenisey.example", "role": Role.SHOP, "shop": shop.slug},
        actor=admin,
    )
    sold, owned, stolen, copied = certified
    claim_codes = {
        piece.id: sales.record(session, piece.current_certificate_code, account).claim_code
        for piece in (sold, owned, copied)
    }
    shown = [("sold", sold.current_certificate_code)]
    ownership.claim(session, claim_codes[owned.id])
    shown.append(("sold and owned", owned.current_certificate_code))
    older = stolen.current_certificate_code
    certificates.reissue(
        session,
        ring,
        older,
        {
            "title": f"{stolen.title} II",
            "note": "Title corrected at the owner's request.",
        },
        issuer=issuer,
        actor=inspector,
    )
    recorded = sales.record(session, stolen.current_certificate_code, account)
    key = ownership.claim(session, recorded.claim_code).owner_key
    ownership.report(session, key, OwnerReport.STOLEN)
    shown.append(("reported stolen by its owner", stolen.current_certificate_code))
    shown.append(("  (its superseded certificate)", older))
    # Scanned from more networks in a few days than a sold piece would be.
    today = datetime.now(ZoneInfo(zone)).date()
    certificate = copied.current_certificate
    scans.add_days(
        session,
        certificate.id,
        (
            scans.Daily(today - timedelta(days=days_ago), scans_made, networks)
            for days_ago, scans_made, networks in ((2, 9, 3), (1, 7, 2), (0, 5, 2))
        ),
    )
    shown.append(("sold, with a copy caution", copied.current_certificate_code))
    return account, shown


# --- the demo photos ------------------------------------------------------------------
# Drawn, not shipped: a soft backdrop, a shadow and the piece in its metal's colours. The
# same piece gets the same bytes each time (with the same Pillow), so the same SHA-256.

PHOTO_SIZE = (1200, 900)
_SUPERSAMPLE = 2  # drawn at twice the size and reduced: smooth edges, cheaply

#: Backdrop gradients (top, bottom) by region.
BACKDROPS = {
    "RU-KYA": ((246, 240, 230), (208, 192, 172)),
    "RU-KK": ((236, 241, 246), (186, 198, 214)),
    "RU-TY": ((242, 238, 246), (200, 188, 208)),
}
#: Metal colours: (shade, light).
_METALS: dict[str, tuple] = {
    Metal.GOLD: ((140, 98, 24), (255, 230, 150)),
    Metal.SILVER: ((112, 116, 126), (248, 249, 252)),
    Metal.PLATINUM: ((128, 130, 134), (238, 240, 238)),
    Metal.PALLADIUM: ((108, 108, 102), (228, 226, 218)),
}
_STONES = {"diamond": (214, 236, 255), "chrysolite": (150, 198, 52), "nephrite": (46, 112, 72)}

Box = tuple[float, float, float, float]
Colour = tuple[int, int, int]


def photo(kind: str, metal: str, stones: list[dict], *, backdrop: tuple) -> bytes:
    """A deterministic 1200×900 JPEG of a piece of `kind` in `metal`, with its stones."""
    width, height = PHOTO_SIZE
    top, bottom = backdrop
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE, Image.Resampling.BILINEAR)
    image = ImageOps.colorize(gradient, top, bottom).convert("RGBA")

    big = (width * _SUPERSAMPLE, height * _SUPERSAMPLE)
    # Premultiplied alpha: drawn opaque on transparent black, it is so already, and
    # reducing it needs no conversion of twice the pixels there and back.
    piece = Image.new("RGBa", big)
    draw = ImageDraw.Draw(piece)
    shade, light = _METALS[metal]
    anchors = _SHAPES.get(kind, _other)(draw, big, shade, light)
    _set_stones(draw, anchors, stones, scale=big[0] / 1200)
    piece = piece.reduce(_SUPERSAMPLE).convert("RGBA")

    # A soft shadow: the piece's outline, darkened, blurred at a quarter size, offset.
    small = piece.getchannel("A").reduce(4).filter(ImageFilter.GaussianBlur(6))
    shadow = Image.new("RGBA", PHOTO_SIZE, (40, 30, 20, 0))
    shadow.putalpha(small.resize(PHOTO_SIZE, Image.Resampling.BILINEAR).point(lambda a: a * 2 // 5))
    image.alpha_composite(shadow, (14, 22))
    image.alpha_composite(piece)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def _mix(shade: Colour, light: Colour, t: float) -> Colour:
    red, green, blue = (round(s + (x - s) * t) for s, x in zip(shade, light, strict=True))
    return (red, green, blue)


def _inset(box: Box, by: float) -> Box:
    return (box[0] + by, box[1] + by, box[2] - by, box[3] - by)


def _band(draw: ImageDraw.ImageDraw, box: Box, thickness: float, shade, light) -> None:
    """A round band (a ring seen at an angle): lit along the middle of its thickness."""
    steps = 24
    for i in range(steps):
        t = math.sin(math.pi * (i + 0.5) / steps) ** 1.5
        draw.ellipse(
            _inset(box, thickness * i / steps),
            outline=_mix(shade, light, t),
            width=math.ceil(thickness / steps) + 1,
        )


def _body(draw: ImageDraw.ImageDraw, box: Box, shade, light, *, rounded=None) -> None:
    """A domed surface, lit from the upper left."""
    steps = 20
    x0, y0, x1, y1 = box
    for i in range(steps):
        t = i / steps
        shrink = (x1 - x0) * 0.48 * t
        lift = (y1 - y0) * 0.12 * t
        inner = (x0 + shrink * 0.7, y0 + shrink * 0.6 - lift, x1 - shrink * 1.3, y1 - shrink * 1.4)
        inner = (inner[0], max(inner[1], y0 + shrink * 0.3), inner[2], inner[3])
        if inner[2] <= inner[0] or inner[3] <= inner[1]:
            break
        colour = _mix(shade, light, t**0.7)
        if rounded:
            draw.rounded_rectangle(inner, radius=rounded * (1 - t), fill=colour)
        else:
            draw.ellipse(inner, fill=colour)


def _ring(draw, size, shade, light):
    w, h = size
    box = (w * 0.28, h * 0.32, w * 0.72, h * 0.80)
    _band(draw, box, w * 0.04, shade, light)
    return [(w * 0.5, h * 0.33)]


def _bracelet(draw, size, shade, light):
    w, h = size
    _band(draw, (w * 0.16, h * 0.26, w * 0.84, h * 0.80), w * 0.026, shade, light)
    return [(w * 0.5, h * 0.79)]


def _chain_line(draw, size, shade, *, bottom: float):
    w, h = size
    draw.arc((w * 0.14, -h * 0.55, w * 0.86, h * bottom), 20, 160, fill=shade, width=int(w * 0.006))


def _pendant(draw, size, shade, light):
    w, h = size
    _chain_line(draw, size, shade, bottom=0.45)
    _band(draw, (w * 0.485, h * 0.40, w * 0.515, h * 0.47), w * 0.006, shade, light)
    _body(draw, (w * 0.42, h * 0.46, w * 0.58, h * 0.80), shade, light)
    return [(w * 0.5, h * 0.62)]


def _earrings(draw, size, shade, light):
    w, h = size
    anchors = []
    for cx in (w * 0.36, w * 0.64):
        draw.arc((cx - w * 0.04, h * 0.16, cx + w * 0.04, h * 0.30), 180, 360, fill=shade, width=9)
        draw.line((cx + w * 0.04, h * 0.23, cx + w * 0.04, h * 0.30), fill=shade, width=9)
        _body(draw, (cx - w * 0.07, h * 0.36, cx + w * 0.07, h * 0.72), shade, light)
        anchors.append((cx, h * 0.52))
    return anchors


def _brooch(draw, size, shade, light):
    w, h = size
    cx, cy, r = w * 0.5, h * 0.52, w * 0.09
    for k in range(8):
        angle = 2 * math.pi * k / 8
        px, py = cx + 1.55 * r * math.cos(angle), cy + 1.55 * r * math.sin(angle)
        _body(draw, (px - r * 0.8, py - r * 0.8, px + r * 0.8, py + r * 0.8), shade, light)
    _body(draw, (cx - r * 1.1, cy - r * 1.1, cx + r * 1.1, cy + r * 1.1), shade, light)
    return [(cx, cy)]


def _chain(draw, size, shade, light):
    w, h = size
    links = 11
    for k in range(links):
        x = w * (0.12 + 0.76 * k / (links - 1))
        y = h * (0.5 + 0.16 * math.sin(math.pi * k / (links - 1) * 2))
        rx, ry = (w * 0.045, h * 0.045) if k % 2 else (w * 0.03, h * 0.07)
        _band(draw, (x - rx, y - ry, x + rx, y + ry), w * 0.011, shade, light)
    return []


def _necklace(draw, size, shade, light):
    w, h = size
    beads = 17
    for k in range(beads):
        angle = math.pi * (0.1 + 0.8 * k / (beads - 1))
        x, y = w * 0.5 - w * 0.36 * math.cos(angle), h * 0.18 + h * 0.56 * math.sin(angle)
        r = w * (0.022 + 0.012 * math.sin(angle))
        _body(draw, (x - r, y - r, x + r, y + r), shade, light)
    return [(w * 0.5, h * 0.74)]


def _cufflinks(draw, size, shade, light):
    w, h = size
    anchors = []
    for cx in (w * 0.34, w * 0.66):
        draw.rectangle((cx - w * 0.012, h * 0.58, cx + w * 0.012, h * 0.70), fill=shade)
        _body(
            draw, (cx - w * 0.11, h * 0.32, cx + w * 0.11, h * 0.60), shade, light, rounded=w * 0.03
        )
        anchors.append((cx, h * 0.46))
    return anchors


def _other(draw, size, shade, light):
    w, h = size
    _body(draw, (w * 0.38, h * 0.34, w * 0.62, h * 0.70), shade, light)
    return [(w * 0.5, h * 0.52)]


_SHAPES: dict[str, Callable] = {
    Kind.RING: _ring,
    Kind.BRACELET: _bracelet,
    Kind.PENDANT: _pendant,
    Kind.EARRINGS: _earrings,
    Kind.BROOCH: _brooch,
    Kind.CHAIN: _chain,
    Kind.NECKLACE: _necklace,
    Kind.CUFFLINKS: _cufflinks,
}


def _set_stones(draw, anchors, stones: list[dict], *, scale: float) -> None:
    """The stones in a row at each anchor, sized by their carats."""
    for x, y in anchors:
        row = [s for s in stones for _ in range(min(int(s["count"]), 5))]
        for n, stone in enumerate(row):
            carat = float(stone["carat"]) / max(int(stone["count"]), 1)
            r = scale * min(12 + 14 * carat ** (1 / 3), 40)
            cx = x + (n - (len(row) - 1) / 2) * r * 2.3
            colour = _STONES.get(stone["type"], (180, 60, 90))
            _body(draw, (cx - r, y - r, cx + r, y + r), _mix(colour, (0, 0, 0), 0.45), colour)
            draw.ellipse((cx - r * 0.45, y - r * 0.55, cx - r * 0.15, y - r * 0.25), fill="white")
