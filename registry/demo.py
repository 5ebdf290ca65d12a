"""Demo data for a first look: makers in all three regions, their pieces, most of them
certified, one revoked, one failed and one still awaiting assay."""

from sqlalchemy.orm import Session

import keys
from registry import accounts, assays, certificates, codes, makers, pieces
from schemas.assays import AssayIn
from schemas.makers import MakerIn
from schemas.pieces import PieceIn

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

PIECES = {
    "yenisey-gold": [
        (
            "YG-001",
            "ring",
            "Кольцо «Енисей»",
            "gold",
            585,
            "3.42",
            [{"type": "diamond", "count": 3, "carat": "0.15"}],
        ),
        ("YG-002", "earrings", "Серьги «Столбы»", "gold", 750, "5.10", []),
        (
            "YG-003",
            "pendant",
            "Подвеска «Кедр»",
            "gold",
            585,
            "2.05",
            [{"type": "chrysolite", "count": 1, "carat": "0.80"}],
        ),
    ],
    "sayan-silver": [
        ("SS-101", "bracelet", "Браслет «Саяны»", "silver", 925, "18.30", []),
        (
            "SS-102",
            "brooch",
            "Брошь «Абакан»",
            "silver",
            925,
            "7.75",
            [{"type": "nephrite", "count": 1, "carat": "4.20"}],
        ),
        ("SS-103", "chain", "Цепь «Хакасия»", "silver", 875, "12.00", []),
    ],
    "tuva-ornament": [
        ("TO-201", "necklace", "Ожерелье «Тыва»", "silver", 960, "24.60", []),
        ("TO-202", "cufflinks", "Запонки «Агальматолит»", "gold", 585, "6.40", []),
        ("TO-203", "ring", "Кольцо «Улуг-Хем»", "platinum", 950, "4.90", []),
    ],
}

INSPECTORATE = "East Siberian State Inspectorate of Assay Supervision"


def load(session: Session, ring: keys.KeyRing, issuer: certificates.Issuer) -> str:
    """Create the demo records through the services (so the log records them too)."""
    admin = accounts.create(
        session, {"email": "office@demo.yenisey.example", "role": "admin"}, actor=None
    )
    inspector = accounts.create(
        session,
        {
            "email": "inspector@demo.yenisey.example",
            "role": "inspector",
            "display_name": "Demo Inspector",
        },
        actor=admin,
    )
    created = []
    for maker_data in MAKERS:
        maker = makers.admit(session, MakerIn().load(maker_data), actor=admin)
        account = accounts.create(
            session,
            {"email": f"{maker.slug}@demo.yenisey.example", "role": "maker", "maker": maker.slug},
            actor=admin,
        )
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
            created.append(pieces.register(session, maker, data, actor=account))

    awaiting, failed, revoked = created[-1], created[-2], created[0]
    for piece in created:
        if piece is awaiting:
            continue
        result = "failed" if piece is failed else "passed"
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
                    "inspectorate": INSPECTORATE,
                }
            ),
            issuer=issuer,
            actor=inspector,
        )
    certificate = revoked.current_certificate
    certificates.revoke(
        session,
        certificate.code,
        reason="data_error",
        note="Weight recorded wrongly at registration.",
        actor=inspector,
    )
    session.flush()
    lines = [f"demo: {len(MAKERS)} makers, {len(created)} pieces"]
    for piece in created:
        line = f"  {piece.maker.slug:14} {piece.reference:7} {piece.status:15}"
        code = piece.current_certificate_code
        if code:
            line += f" {codes.printed(code)}  {issuer.url}/api/v1/certificates/{code}"
        lines.append(line.rstrip())
    lines.append(
        "accounts: office@, inspector@ and <maker>@demo.yenisey.example; "
        "make a token with: registry tokens create --email EMAIL"
    )
    return "\n".join(lines)
