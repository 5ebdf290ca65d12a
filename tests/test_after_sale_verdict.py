"""What a scan shows of a piece after its sale (issue 13, items 2-4 and 8): where and
when it was sold, that it has an owner (the month alone), and a theft, in red, on every
certificate of the piece, the superseded ones too. All of it under the seal every scan
checks: a sale or an owner's report written by hand reads Not valid.

The sales and owners here are made as the services store them (rows, then
certificates.seal_piece): the services and their own tests are tests/test_sales.py and
tests/test_ownership.py; this file is about the verdict.
"""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from registry import certificates, claims
from registry.edge import database
from registry.models import Account, Certificate, Ownership, Piece, Sale, Shop
from schemas.standards import ClaimOrigin, OwnerReport
from tests.factories import bearer, certify


@pytest.fixture
def sold(app, client, world):
    """A certified piece sold at a shop in Abakan, and its code."""
    piece_id, certificate = certify(client, world)
    with app.app_context():
        session = database.session()
        shop = Shop(
            slug="abakan-centre",
            name_ru="Ювелирный центр «Абакан»",
            name_en="Abakan Jewellery Centre",
            kind="jewellery_centre",
            region="RU-KK",
            city="Абакан",
        )
        session.add(shop)
        session.flush()
        seller = session.scalars(select(Account).where(Account.role == "admin")).first()
        sale = Sale(
            piece_id=piece_id,
            certificate_id=_certificate_id(session, certificate["code"]),
            shop_id=shop.id,
            seller_id=seller.id,
            sold_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        )
        session.add(sale)
        session.flush()
        certificates.seal_piece(session, piece_id)
        session.commit()
        return {"piece": piece_id, "code": certificate["code"], "sale": sale.id}


def _certificate_id(session, code: str) -> int:
    return session.scalar(select(Certificate.id).where(Certificate.code == code))


def _own(app, sold, *, report=None) -> None:
    with app.app_context():
        session = database.session()
        piece = session.get(Sale, sold["sale"]).piece_id
        issued = claims.issue(
            session, session.get(Piece, piece), session.get(Sale, sold["sale"]), ClaimOrigin.SALE
        )
        session.flush()
        issued.claim.used_at = datetime.now(UTC)
        owner = Ownership(
            piece_id=piece,
            claim_id=issued.claim.id,
            key_hash=claims.digest(claims.new_owner_key()),
            since=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
            report=report,
            reported_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC) if report else None,
        )
        session.add(owner)
        session.flush()
        certificates.seal_piece(session, piece)
        session.commit()


def _verdict(client, code):
    answer = client.get(f"/api/v1/verify/{code}")
    assert answer.status_code == 200, answer.json
    return answer.json


def _page(client, code, lang="en") -> str:
    client.set_cookie("lang", lang)
    return client.get(f"/v/{code}").get_data(as_text=True)


def test_an_unsold_piece_says_nothing_of_a_sale(client, world):
    _, certificate = certify(client, world)
    verdict = _verdict(client, certificate["code"])
    assert verdict["sale"] is None
    assert verdict["ownership"] == {"registered": False, "since": None}
    assert verdict["alerts"] == []


def test_a_sold_piece_says_where_and_when_in_the_verdict(client, sold):
    verdict = _verdict(client, sold["code"])
    assert verdict["status"] == "valid"
    assert verdict["sale"] == {
        "sold_at": "2026-11-20T10:00:00Z",
        "shop": {
            "name": {"ru": "Ювелирный центр «Абакан»", "en": "Abakan Jewellery Centre"},
            "city": "Абакан",
            "region": "RU-KK",
        },
    }
    page = _page(client, sold["code"])
    assert "Sold on" in page and "Abakan Jewellery Centre" in page
    russian = _page(client, sold["code"], "ru")
    assert "Ювелирный центр «Абакан»" in russian


def test_an_owned_piece_says_since_when_and_nothing_personal(app, client, sold):
    _own(app, sold)
    verdict = _verdict(client, sold["code"])
    assert verdict["ownership"] == {"registered": True, "since": "2026-11"}
    page = _page(client, sold["code"])
    assert "Ownership registered since November 2026" in page


def test_a_theft_reported_by_the_owner_shows_in_red_on_every_code_of_the_piece(
    app, client, world, sold
):
    reissued = client.post(
        f"/api/v1/certificates/{sold['code']}/reissue",
        json={"title": "Кольцо «Енисей» II", "note": "Title corrected"},
        headers=bearer(world.inspector),
    )
    assert reissued.status_code == 201, reissued.json
    _own(app, sold, report=OwnerReport.STOLEN)
    for code in (reissued.json["code"], sold["code"]):
        verdict = _verdict(client, code)
        assert {"kind": "reported_stolen", "since": "2026-12-01"} in verdict["alerts"]
        page = _page(client, code)
        assert 'class="verdict v-stolen"' in page
        assert ">Authentic<" not in page
        assert "Reported stolen" in page


def test_a_revocation_for_theft_shows_on_the_superseded_code_too(client, world):
    _, first = certify(client, world)
    inspector = bearer(world.inspector)
    reissued = client.post(
        f"/api/v1/certificates/{first['code']}/reissue",
        json={"title": "Кольцо «Енисей» II", "note": "Title corrected"},
        headers=inspector,
    )
    assert reissued.status_code == 201
    revoked = client.post(
        f"/api/v1/certificates/{reissued.json['code']}/revoke",
        json={"reason": "piece_lost_or_stolen", "note": "Stolen from the shop"},
        headers=inspector,
    )
    assert revoked.status_code == 200
    old = _verdict(client, first["code"])
    assert old["status"] == "superseded"
    assert [a["kind"] for a in old["alerts"]] == ["reported_stolen"]
    assert 'class="verdict v-stolen"' in _page(client, first["code"])


def test_a_sale_or_a_report_written_by_hand_reads_not_valid(app, client, sold, sql):
    _own(app, sold, report=OwnerReport.STOLEN)
    # The theft report withdrawn by hand: not believed.
    sql("UPDATE ownership SET report = NULL, reported_at = NULL")
    assert _verdict(client, sold["code"])["status"] == "invalid"


def test_a_sale_moved_to_another_shop_by_hand_reads_not_valid(app, client, sold, sql):
    sql(
        "INSERT INTO shop (slug, name_ru, name_en, kind, region, city, admitted_at) VALUES "
        "('elsewhere', 'Другой', 'Elsewhere', 'retailer', 'RU-TY', 'Кызыл', CURRENT_TIMESTAMP)"
    )
    sql("UPDATE sale SET shop_id = (SELECT id FROM shop WHERE slug = 'elsewhere')")
    verdict = _verdict(client, sold["code"])
    assert verdict["status"] == "invalid"
    assert verdict["sale"] is None
