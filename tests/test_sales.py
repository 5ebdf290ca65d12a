"""Sales: a shop, or the maker, records the sale of a certified piece by its code (read
leniently), hands the buyer a slip with a one-time claim code, and may cancel it within
the window; what cannot be sold is a 409, another's sale a 404."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy import select

from registry import claims, codes
from registry.log import ledger
from registry.models import Event, Ownership, OwnershipClaim, Sale
from schemas.standards import EventType
from tests import factories
from tests.factories import bearer, events

A6_POINTS = (105 / 25.4 * 72, 148 / 25.4 * 72)


def _lenient(code: str) -> str:
    """A code as a person types it: lower case, no dashes."""
    return code.replace("-", "").lower()


def _sell(client, code: str, token: str):
    return client.post(f"/api/v1/certificates/{code}/sale", headers=bearer(token))


def _cancel(client, code: str, token: str):
    return client.post(f"/api/v1/certificates/{code}/sale/cancel", headers=bearer(token))


def _entries(session, action: EventType) -> list[dict]:
    rows = session.scalars(select(Event).where(Event.action == str(action)).order_by(Event.id))
    return [json.loads(row.entry) for row in rows]


def test_a_shop_sells_a_piece_by_its_code_typed_in_lower_case_without_dashes(
    client, world, session
):
    _, certificate = factories.certify(client, world)

    sold = _sell(client, _lenient(certificate["printed_code"]), world.shop)

    assert sold.status_code == 201, sold.json
    assert sold.json["code"] == certificate["printed_code"]
    assert sold.json["shop"]["kind"] == "shop"
    assert sold.json["shop"]["slug"] == world.shop_slug
    assert sold.json["shop"]["city"] == "Красноярск"
    printed = sold.json["claim_code"]
    code = claims.parse(printed)
    assert printed == claims.printed(code)
    assert sold.json["claim_url"] == f"https://registry.test/own/claim?code={code}"
    assert base64.b64decode(sold.json["slip"]).startswith(b"%PDF")
    # The claim code is stored only as its hash.
    stored = session.scalar(select(OwnershipClaim))
    assert stored.code_hash == claims.digest(code)
    assert stored.origin == "sale"
    # The log names the seller, and the claim code only by its keyed commitment.
    (entry,) = _entries(session, EventType.SALE_RECORDED)
    assert entry["certificate"] == certificate["code"]
    assert entry["data"] == {
        "seller": f"shop:{world.shop_slug}",
        "claim": ledger.commitment(session, code),
    }
    every_entry = b"".join(session.scalars(select(Event.entry)))
    for form in (code, printed, code.lower(), claims.digest(code)):
        assert form.encode() not in every_entry


def test_the_verdict_stays_sealed_after_a_sale(client, world):
    """Every certificate of the piece is sealed again: its scan still gives a verdict."""
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201

    verdict = client.get(f"/api/v1/verify/{certificate['code']}")

    assert verdict.status_code == 200, verdict.json
    assert verdict.json["status"] == "valid"


def test_the_maker_sells_its_own_piece_and_not_another_makers(client, world, session):
    _, certificate = factories.certify(client, world)

    refused = _sell(client, certificate["code"], world.other_maker)
    sold = _sell(client, certificate["code"], world.maker)

    assert refused.status_code == 404, refused.json
    assert sold.status_code == 201, sold.json
    assert sold.json["shop"]["kind"] == "maker"
    assert sold.json["shop"]["slug"] == world.maker_slug
    (entry,) = _entries(session, EventType.SALE_RECORDED)
    assert entry["data"]["seller"] == f"maker:{world.maker_slug}"


@pytest.mark.parametrize("caller", ["inspector", "admin"])
def test_only_shops_and_makers_sell(client, world, caller):
    _, certificate = factories.certify(client, world)
    token = world.inspector if caller == "inspector" else world.admin
    assert _sell(client, certificate["code"], token).status_code == 403


def test_a_code_never_issued_or_mistyped_is_no_sale(client, world, app):
    """An uncertified piece has no code to sell it by: any code the registry never
    issued is a 404, a mistyped one a 400, and nothing is written."""
    before = events(app)
    unknown = _sell(client, codes.new(), world.shop)
    _, certificate = factories.certify(client, world)
    before = events(app)
    last = certificate["code"][-1]
    mistyped_code = certificate["code"][:-1] + ("0" if last != "0" else "1")
    mistyped = _sell(client, mistyped_code, world.shop)

    assert unknown.status_code == 404, unknown.json
    assert mistyped.status_code in (400, 422), mistyped.json
    assert events(app) == before


def test_a_revoked_piece_is_not_sold(client, world, app):
    _, certificate = factories.certify(client, world)
    revoked = client.post(
        f"/api/v1/certificates/{certificate['code']}/revoke",
        json={"reason": "fraud", "note": "Forged hallmark."},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200, revoked.json
    before = events(app)

    refused = _sell(client, certificate["code"], world.shop)

    assert refused.status_code == 409, refused.json
    assert "revoked" in refused.json["detail"]
    assert events(app) == before


def test_a_superseded_code_is_not_sold_and_names_the_current_one(client, world, app):
    _, certificate = factories.certify(client, world)
    reissued = client.post(
        f"/api/v1/certificates/{certificate['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=bearer(world.inspector),
    )
    assert reissued.status_code == 201, reissued.json
    before = events(app)

    refused = _sell(client, certificate["code"], world.shop)

    assert refused.status_code == 409, refused.json
    assert reissued.json["printed_code"] in refused.json["detail"]
    assert events(app) == before
    assert _sell(client, reissued.json["code"], world.shop).status_code == 201


def test_a_piece_already_sold_is_not_sold_again(client, world, app):
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    before = events(app)

    again = _sell(client, certificate["code"], world.shop)
    by_maker = _sell(client, certificate["code"], world.maker)

    assert again.status_code == 409, again.json
    assert by_maker.status_code == 409, by_maker.json
    assert "already sold" in again.json["detail"]
    assert events(app) == before


def test_the_standing_sale_index_holds_when_the_check_is_raced(client, world, app, sql):
    """Two sellers racing past the check: the partial unique index refuses the second,
    which becomes a 409, not a 500."""
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    sale = sql("SELECT piece_id, certificate_id, shop_id, seller_id FROM sale").one()
    with pytest.raises(Exception, match="(?i)unique"):
        sql(
            "INSERT INTO sale (piece_id, certificate_id, shop_id, seller_id, sold_at) "
            "VALUES (:p, :c, :s, :a, :t)",
            p=sale.piece_id,
            c=sale.certificate_id,
            s=sale.shop_id,
            a=sale.seller_id,
            t=datetime.now(UTC),
        )


def test_a_sale_racing_past_the_check_is_a_conflict(client, world, app, monkeypatch):
    """Two sellers both past the check: the partial unique index refuses the second,
    which becomes a 409, not a 500, and leaves nothing written."""
    from registry import sales

    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    monkeypatch.setattr(sales, "_standing", lambda session, piece_id: None)
    before = events(app)

    raced = _sell(client, certificate["code"], world.maker)

    assert raced.status_code == 409, raced.json
    assert events(app) == before


def test_the_shop_cancels_its_sale_within_the_window_and_may_sell_again(client, world, session):
    _, certificate = factories.certify(client, world)
    sold = _sell(client, certificate["code"], world.shop)
    code = claims.parse(sold.json["claim_code"])

    cancelled = _cancel(client, _lenient(certificate["printed_code"]), world.shop)

    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["cancelled_at"] is not None
    session.expire_all()
    claim = session.scalar(
        select(OwnershipClaim).where(OwnershipClaim.code_hash == claims.digest(code))
    )
    assert claim.withdrawn_at is not None
    (entry,) = _entries(session, EventType.SALE_CANCELLED)
    assert entry["data"]["seller"] == f"shop:{world.shop_slug}"
    verdict = client.get(f"/api/v1/verify/{certificate['code']}")
    assert verdict.status_code == 200, verdict.json
    assert _sell(client, certificate["code"], world.shop).status_code == 201


def test_cancelling_ends_the_ownership_claimed_with_the_sale(client, world, session):
    _, certificate = factories.certify(client, world)
    sold = _sell(client, certificate["code"], world.shop)
    claim = session.scalar(select(OwnershipClaim))
    # As a claim would leave it (registry/ownership.py is tested on its own).
    claim.used_at = datetime.now(UTC)
    session.add(
        Ownership(piece_id=claim.piece_id, claim_id=claim.id, key_hash=claims.digest("k" * 32))
    )
    session.commit()
    assert sold.status_code == 201

    assert _cancel(client, certificate["code"], world.shop).status_code == 200

    session.expire_all()
    assert session.scalar(select(Ownership)).ended_at is not None
    (entry,) = _entries(session, EventType.SALE_CANCELLED)
    assert entry["data"]["ownership_ended"] is True


def test_another_shop_or_maker_cannot_cancel_a_sale(client, world, app):
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    other_shop = _shop_token(client, world)
    _, unsold = factories.certify(client, world)
    before = events(app)

    by_other_shop = _cancel(client, certificate["code"], other_shop)
    by_maker = _cancel(client, certificate["code"], world.maker)
    no_sale = _cancel(client, unsold["code"], other_shop)

    assert by_other_shop.status_code == 404, by_other_shop.json
    assert by_maker.status_code == 404, by_maker.json
    # Told in the same words as a piece with no sale at all.
    assert by_other_shop.json["detail"] == no_sale.json["detail"]
    assert events(app) == before


def test_a_sale_is_not_cancelled_after_the_window(client, world, app, sql):
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    sql("UPDATE sale SET sold_at = :t", t=datetime.now(UTC) - timedelta(days=15))
    before = events(app)

    late = _cancel(client, certificate["code"], world.shop)

    assert late.status_code == 409, late.json
    assert "14 days" in late.json["detail"]
    assert events(app) == before


def test_the_window_is_configurable(client, world, app, sql):
    app.config["SALE_CANCEL_DAYS"] = 30
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    sql("UPDATE sale SET sold_at = :t", t=datetime.now(UTC) - timedelta(days=15))

    assert _cancel(client, certificate["code"], world.shop).status_code == 200


def test_the_slip_is_an_a6_page_with_the_printed_claim_code_and_its_qr_code(client, world):
    _, certificate = factories.certify(client, world)
    sold = _sell(client, certificate["code"], world.shop)
    assert sold.status_code == 201, sold.json

    document = pdfium.PdfDocument(base64.b64decode(sold.json["slip"]))

    assert len(document) == 1
    page = document[0]
    assert page.get_size() == pytest.approx(A6_POINTS, abs=0.5)
    text = page.get_textpage().get_text_range()
    assert sold.json["claim_code"] in text
    assert certificate["printed_code"] in text
    assert "Jewellery salon" in text and "Ювелирный салон" in text
    found = zxingcpp.read_barcodes(page.render(scale=4).to_pil())
    qr_texts = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert qr_texts == [sold.json["claim_url"]]
    code = claims.parse(sold.json["claim_code"])
    assert sold.json["claim_url"] == f"https://registry.test/own/claim?code={code}"


def test_a_sale_row_names_its_seller_and_certificate(client, world, session):
    _, certificate = factories.certify(client, world)
    assert _sell(client, certificate["code"], world.shop).status_code == 201
    sale = session.scalar(select(Sale))
    assert sale.shop.slug == world.shop_slug
    assert sale.maker_id is None
    assert sale.cancelled_at is None


def _shop_token(client, world) -> str:
    """A second shop, with an account and a token."""
    data = factories.shop_data()
    admitted = client.post("/api/v1/shops", json=data, headers=bearer(world.admin))
    assert admitted.status_code == 201, admitted.json
    email = f"{data['slug']}@test.example"
    made = client.post(
        "/api/v1/accounts",
        json={"email": email, "role": "shop", "shop": data["slug"]},
        headers=bearer(world.admin),
    )
    assert made.status_code == 201, made.json
    token = client.post(
        f"/api/v1/accounts/{made.json['id']}/tokens", json={}, headers=bearer(world.admin)
    )
    assert token.status_code == 201, token.json
    return token.json["token"]


def test_the_answer_with_the_claim_code_is_never_cached(client, world):
    _, certificate = factories.certify(client, world)

    sold = _sell(client, certificate["code"], world.shop)

    assert sold.status_code == 201
    assert "no-store" in sold.headers.get("Cache-Control", "")
    assert sold.headers.get("Referrer-Policy") == "no-referrer"
