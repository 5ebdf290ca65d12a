"""Shops: the brand office admits them and creates their accounts; anyone may list them;
a shop's portal records and cancels its sales, and shows the claim code and the slip
once after a sale."""

import base64
import html
import json
import re

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from registry import claims
from registry.models import Event
from schemas.standards import EventType
from tests import factories
from tests.factories import EMAILS, bearer, events, post_form, shop_data, sign_in, with_passwords


def _admit(client, world, **overrides):
    return client.post("/api/v1/shops", json=shop_data(**overrides), headers=bearer(world.admin))


def test_the_brand_office_admits_a_shop_and_the_log_records_it(client, world, session):
    data = shop_data(name_en="Jewellery Centre", kind="jewellery_centre", region="RU-KK")
    data["city"] = "Абакан"

    admitted = client.post("/api/v1/shops", json=data, headers=bearer(world.admin))

    assert admitted.status_code == 201, admitted.json
    assert admitted.json["slug"] == data["slug"]
    assert admitted.json["name"] == {"ru": data["name_ru"], "en": "Jewellery Centre"}
    assert admitted.json["region"]["code"] == "RU-KK"
    assert admitted.json["kind"] == "jewellery_centre"
    assert admitted.json["maker"] is None
    rows = session.scalars(select(Event.entry).where(Event.action == str(EventType.SHOP_ADMITTED)))
    entries = [json.loads(entry) for entry in rows]
    assert [e["data"]["city"] for e in entries if data["slug"] in json.dumps(e)] == ["Абакан"]


def test_a_makers_own_shop_names_its_maker_and_only_it_does(client, world, app):
    own = _admit(client, world, kind="makers_shop", maker=world.maker_slug)
    before = events(app)
    without = _admit(client, world, kind="makers_shop")
    retailer = _admit(client, world, kind="retailer", maker=world.maker_slug)
    unknown = _admit(client, world, kind="makers_shop", maker="no-such-maker")

    assert own.status_code == 201, own.json
    assert own.json["maker"] == world.maker_slug
    assert without.status_code == 422 and "maker" in without.json["errors"]
    assert retailer.status_code == 422 and "maker" in retailer.json["errors"]
    assert unknown.status_code == 404 and "maker" in unknown.json["errors"]
    assert events(app) == before


def test_a_shop_outside_the_regions_or_with_a_taken_slug_is_refused(client, world):
    outside = _admit(client, world, region="RU-MOW")
    taken = _admit(client, world, slug=world.shop_slug)

    assert outside.status_code == 422 and "region" in outside.json["errors"]
    assert taken.status_code == 409 and "slug" in taken.json["errors"]


def test_anyone_lists_the_shops_cacheably_and_by_region(client, world):
    assert _admit(client, world, region="RU-TY", city="Кызыл").status_code == 201

    listed = client.get("/api/v1/shops")
    tuva = client.get("/api/v1/shops?region=RU-TY")
    again = client.get("/api/v1/shops", headers={"If-None-Match": listed.headers["ETag"]})
    wrong = client.get("/api/v1/shops?region=RU-MOW")

    assert listed.status_code == 200
    assert listed.headers["Cache-Control"].startswith("public, max-age=")
    slugs = [shop["slug"] for shop in listed.json["items"]]
    assert world.shop_slug in slugs and len(slugs) == 2
    assert [shop["city"] for shop in tuva.json["items"]] == ["Кызыл"]
    assert again.status_code == 304
    assert wrong.status_code == 400


def test_shop_accounts_belong_to_an_admitted_shop(client, world):
    def create(**data):
        body = {"email": f"{data.pop('who')}@test.example", **data}
        return client.post("/api/v1/accounts", json=body, headers=bearer(world.admin))

    made = create(who="till", role="shop", shop=world.shop_slug)
    no_shop = create(who="till2", role="shop")
    unknown = create(who="till3", role="shop", shop="no-such-shop")
    not_a_shop = create(who="till4", role="inspector", shop=world.shop_slug)
    maker_too = create(who="till5", role="shop", shop=world.shop_slug, maker=world.maker_slug)

    assert made.status_code == 201, made.json
    assert made.json["shop"] == world.shop_slug and made.json["maker"] is None
    assert no_shop.status_code == 422 and "shop" in no_shop.json["errors"]
    assert unknown.status_code == 404 and "shop" in unknown.json["errors"]
    assert not_a_shop.status_code == 422 and "shop" in not_a_shop.json["errors"]
    assert maker_too.status_code == 422 and "maker" in maker_too.json["errors"]


@pytest.fixture
def shop_browser(app, world):
    from registry.edge import database

    with app.app_context():
        with_passwords(database.session(), EMAILS["shop"])
    browser = app.test_client()
    signed = sign_in(browser, EMAILS["shop"])
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/shop/"
    return browser


def _slip_of(page: str) -> bytes:
    found = re.search(r'href="data:application/pdf;base64,([^"]+)"', page)
    assert found, "no slip to download on the page"
    return base64.b64decode(found.group(1))


def test_a_shop_records_a_sale_in_its_portal_and_sees_the_code_once(client, world, shop_browser):
    _, certificate = factories.certify(client, world)
    typed = certificate["printed_code"].replace("-", "").lower()

    sold = post_form(shop_browser, "/shop/sales", {"code": typed}, form_page="/shop/")

    assert sold.status_code == 201
    page = sold.get_data(as_text=True)
    printed = html.unescape(re.search(r"data-claim-code>([^<]+)<", page).group(1))
    code = claims.parse(printed)
    assert "shown only this once" in page
    slip = pdfium.PdfDocument(_slip_of(page))
    assert printed in slip[0].get_textpage().get_text_range()
    # The code is not shown again: the shop's page lists the sale, never its code.
    home = shop_browser.get("/shop/").get_data(as_text=True)
    assert certificate["printed_code"] in home
    assert printed not in home and code not in home


def test_a_scanned_verification_address_records_the_sale_too(client, world, shop_browser):
    _, certificate = factories.certify(client, world)
    scanned = f"https://registry.test/v/{certificate['code']}"

    sold = post_form(shop_browser, "/shop/sales", {"code": scanned}, form_page="/shop/")

    assert sold.status_code == 201


def test_a_refused_sale_shows_the_form_again_with_what_was_typed(client, world, shop_browser):
    _, certificate = factories.certify(client, world)
    assert (
        post_form(
            shop_browser, "/shop/sales", {"code": certificate["code"]}, form_page="/shop/"
        ).status_code
        == 201
    )

    again = post_form(
        shop_browser, "/shop/sales", {"code": certificate["code"]}, form_page="/shop/"
    )
    unknown = post_form(shop_browser, "/shop/sales", {"code": "nonsense"}, form_page="/shop/")

    assert again.status_code == 409
    assert "already sold" in again.get_data(as_text=True)
    assert f'value="{certificate["code"]}"' in again.get_data(as_text=True)
    assert unknown.status_code in (400, 422)
    assert 'value="nonsense"' in unknown.get_data(as_text=True)


def test_a_shop_cancels_its_sale_from_its_portal(client, world, shop_browser):
    _, certificate = factories.certify(client, world)
    post_form(shop_browser, "/shop/sales", {"code": certificate["code"]}, form_page="/shop/")
    home = shop_browser.get("/shop/").get_data(as_text=True)
    assert f"/shop/sales/{certificate['code']}/cancel" in home

    cancelled = post_form(
        shop_browser, f"/shop/sales/{certificate['code']}/cancel", {}, form_page="/shop/"
    )

    assert cancelled.status_code == 303
    after = shop_browser.get("/shop/").get_data(as_text=True)
    assert "The sale is cancelled" in after
    assert f"/shop/sales/{certificate['code']}/cancel" not in after


def test_the_shops_portal_in_russian(client, world, shop_browser):
    page = shop_browser.get("/shop/?lang=ru")
    assert page.status_code == 200
    assert 'lang="ru"' in page.get_data(as_text=True)


def test_the_brand_office_admits_a_shop_and_creates_its_account_in_the_portal(app, world):
    from registry.edge import database

    with app.app_context():
        with_passwords(database.session(), EMAILS["admin"])
    browser = app.test_client()
    assert sign_in(browser, EMAILS["admin"]).status_code == 302
    data = shop_data(kind="makers_shop", maker=world.maker_slug)

    admitted = post_form(browser, "/admin/shops", data)
    made = post_form(
        browser,
        "/admin/accounts",
        {"email": "cashier@test.example", "role": "shop", "shop": data["slug"]},
    )

    assert admitted.status_code == 302, admitted.get_data(as_text=True)[:500]
    listing = browser.get("/admin/shops").get_data(as_text=True)
    assert f'data-shop="{data["slug"]}"' in listing
    assert made.status_code == 201, made.get_data(as_text=True)[:500]
    assert "cashier@test.example" in made.get_data(as_text=True)
    refused = post_form(browser, "/admin/shops", {**shop_data(), "region": "RU-MOW"})
    assert refused.status_code == 422


def test_the_showcase_names_where_a_maker_sells(client, world):
    own = _admit(client, world, kind="makers_shop", maker=world.maker_slug, city="Дивногорск")
    _admit(client, world, name_en="Elsewhere", city="Минусинск")  # sold nothing of theirs
    assert own.status_code == 201, own.json
    _, certificate = factories.certify(client, world)
    before = client.get(f"/makers/{world.maker_slug}?lang=en").get_data(as_text=True)
    sold = client.post(
        f"/api/v1/certificates/{certificate['code']}/sale", headers=bearer(world.shop)
    )
    assert sold.status_code == 201, sold.json

    page = client.get(f"/makers/{world.maker_slug}?lang=ru")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'data-shop="{own.json["slug"]}"' in before
    assert f'data-shop="{world.shop_slug}"' not in before
    assert f'data-shop="{own.json["slug"]}"' in text
    assert f'data-shop="{world.shop_slug}"' in text
    assert "Минусинск" not in text
    other = client.get(f"/makers/{world.other_maker_slug}").get_data(as_text=True)
    assert "data-shop=" not in other
