"""The brand's public pages: the home page, the maker directory, each maker's showcase."""

import html
import io
import re
from contextlib import contextmanager
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import event

from registry import makers, showcase, signing_keys
from registry.edge import database, signing
from tests.factories import (
    assay_data,
    bearer,
    certify,
    maker_data,
    piece_data,
    sign_in,
    with_passwords,
)

# --- helpers ------------------------------------------------------------------------------


def text(response) -> str:
    """What a reader sees of a page: its text without tags, spaces collapsed."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    body = re.sub(r"</?bdi>", "", body)  # isolates user text within a line, adds no space
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def body(response) -> str:
    return response.get_data(as_text=True)


def maker_names(client, slug: str) -> dict[str, str]:
    return client.get(f"/api/v1/makers/{slug}").json["name"]


def admit(app, **overrides) -> str:
    with app.app_context():
        maker = makers.admit(database.session(), maker_data(**overrides), actor=None)
        database.session().commit()
        return maker.slug


def register(client, token: str, **piece) -> dict:
    made = client.post("/api/v1/pieces", json=piece_data(**piece), headers=bearer(token))
    assert made.status_code == 201, made.json
    return made.json


def revoke(client, world, code: str):
    response = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": "fraud", "note": "A forged tag"},
        headers=bearer(world.inspector),
    )
    assert response.status_code == 200, response.json


def a_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "gold").save(out, "JPEG")
    return out.getvalue()


@contextmanager
def counted_queries(app):
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = app.extensions["registry.engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- the home page ------------------------------------------------------------------------


def test_home_names_the_brand_and_its_three_regions_in_russian(client, world):
    response = client.get("/", headers={"Accept-Language": "ru"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    shown = text(response)
    for region in ("Красноярский край", "Республика Хакасия", "Республика Тыва"):
        assert region in shown
    page = body(response)
    for code in ("RU-KYA", "RU-KK", "RU-TY"):
        assert f'href="/makers?region={code}"' in page
    assert 'action="/verify"' in page
    assert 'href="/login"' in page
    assert 'href="/makers"' in page


def test_home_in_english_counts_the_makers_of_each_region(client, world, app):
    admit(app, region="RU-TY", city="Kyzyl")
    shown = text(client.get("/?lang=en"))
    assert "Krasnoyarsk Krai 1 maker" in shown
    assert "Republic of Khakassia 0 makers" in shown
    assert "Tyva Republic 2 makers" in shown
    assert "Every piece of the brand carries a QR code" in shown
    assert "state assay inspectorate" in shown


def test_home_is_the_same_for_a_signed_in_maker(client, world, app):
    """The public pages never show who is signed in: a CDN may serve them to anyone."""
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    anonymous = body(client.get("/?lang=en"))
    sign_in(client, "maker@test.example")
    signed_in = client.get("/?lang=en")
    assert "maker@test.example" not in body(signed_in)
    assert body(signed_in) == anonymous
    # The session cookie is not sent again on a public page, which a CDN may keep.
    assert "Set-Cookie" not in signed_in.headers
    assert "public" in signed_in.headers["Cache-Control"]


# --- the directory ------------------------------------------------------------------------


def test_directory_lists_every_maker_with_city_region_and_link(client, world):
    tuva = maker_names(client, world.other_maker_slug)
    krasnoyarsk = maker_names(client, world.maker_slug)
    response = client.get("/makers?lang=en")
    assert response.status_code == 200
    shown = text(response)
    assert krasnoyarsk["en"] in shown and tuva["en"] in shown
    assert "Кызыл, Tyva Republic" in shown
    assert f'href="/makers/{world.other_maker_slug}"' in body(response)
    assert 'aria-current="page">All regions' in body(response)


def test_directory_filters_by_region(client, world):
    tuva = maker_names(client, world.other_maker_slug)["ru"]
    krasnoyarsk = maker_names(client, world.maker_slug)["ru"]

    in_tuva = client.get("/makers?region=RU-TY", headers={"Accept-Language": "ru"})
    assert in_tuva.status_code == 200
    assert tuva in text(in_tuva)
    assert krasnoyarsk not in text(in_tuva)
    assert 'aria-current="page">Республика Тыва' in body(in_tuva)

    in_khakassia = client.get("/makers?region=RU-KK", headers={"Accept-Language": "ru"})
    assert in_khakassia.status_code == 200
    assert tuva not in text(in_khakassia)
    assert krasnoyarsk not in text(in_khakassia)
    assert 'aria-current="page">Республика Хакасия' in body(in_khakassia)


def test_an_unknown_region_is_a_readable_400_page(client, world):
    for value in ("RU-MOW", "<b>x</b>", "ru-ty", "\x00"):
        response = client.get("/makers", query_string={"region": value, "lang": "en"})
        assert response.status_code == 400, value
        assert response.content_type.startswith("text/html")
        assert "The brand has no region" in text(response)
        assert "Tyva Republic" in text(response)  # the choices are still there
    assert "<b>x</b>" not in body(client.get("/makers?region=<b>x</b>"))


def test_directory_counts_certified_pieces_only(client, world):
    certify(client, world, title="Eagle brooch")
    _, revoked = certify(client, world, title="Forged ring")
    register(client, world.maker, title="Waiting ring")
    revoke(client, world, revoked["code"])
    shown = text(client.get("/makers?lang=en"))
    maker = maker_names(client, world.maker_slug)["en"]
    other = maker_names(client, world.other_maker_slug)["en"]
    assert f"{maker} Красноярск, Krasnoyarsk Krai 1 certified piece" in shown
    assert f"{other} Кызыл, Tyva Republic 0 certified pieces" in shown


def test_directory_takes_the_same_queries_for_two_makers_as_for_seven(client, world, app):
    certify(client, world)
    with counted_queries(app) as few:
        assert client.get("/makers").status_code == 200
    for region in ("RU-KK", "RU-KK", "RU-TY", "RU-KYA", "RU-KYA"):
        admit(app, region=region)
    with counted_queries(app) as many:
        response = client.get("/makers", headers={"Accept-Language": "ru"})
    assert text(response).count("Мастерская") == 7
    assert len(many) == len(few)


# --- a maker's showcase ---------------------------------------------------------------------


def test_showcase_lists_certified_pieces_linking_to_their_verification(client, world):
    _, ring = certify(client, world, title="Ring Yenisey", kind="ring", metal="gold", fineness=585)
    _, chain = certify(
        client, world, title="Chain Sayan", kind="chain", metal="silver", fineness=925
    )
    response = client.get(f"/makers/{world.maker_slug}?lang=en")
    assert response.status_code == 200
    page, shown = body(response), text(response)
    assert f'href="/v/{ring["code"]}"' in page
    assert f'href="/v/{chain["code"]}"' in page
    assert "Ring Yenisey Ring · Gold 585" in shown
    assert f"Chain Sayan Chain · Silver 925 {chain['printed_code']}" in shown
    assert shown.index("Chain Sayan") < shown.index("Ring Yenisey")  # newest first
    assert "Certified pieces (2)" in shown
    names = maker_names(client, world.maker_slug)
    assert names["en"] in shown and names["ru"] in shown
    assert "Красноярск" in shown and "Krasnoyarsk Krai" in shown


def test_showcase_hides_revoked_and_uncertified_pieces(client, world):
    certify(client, world, title="Kept brooch")
    _, forged = certify(client, world, title="Forged pendant")
    register(client, world.maker, title="Waiting earrings")
    failed = register(client, world.maker, title="Failed bracelet")
    refused = client.post(
        f"/api/v1/pieces/{failed['id']}/assay",
        json=assay_data(result="failed"),
        headers=bearer(world.inspector),
    )
    assert refused.status_code == 201, refused.json

    before = text(client.get(f"/makers/{world.maker_slug}?lang=en"))
    assert "Forged pendant" in before

    revoke(client, world, forged["code"])
    response = client.get(f"/makers/{world.maker_slug}?lang=en")
    shown = text(response)
    assert "Kept brooch" in shown
    assert "Forged pendant" not in shown
    assert forged["code"] not in body(response)
    assert "Waiting earrings" not in shown
    assert "Failed bracelet" not in shown
    assert "Certified pieces (1)" in shown


def test_showcase_shows_a_thumbnail_or_a_placeholder(client, world):
    photographed = register(client, world.maker, title="Photographed ring")
    stored = client.put(
        f"/api/v1/pieces/{photographed['id']}/photo",
        data=a_jpeg(),
        headers={**bearer(world.maker), "Content-Type": "image/jpeg"},
    )
    assert stored.status_code == 200, stored.json
    attested = client.post(
        f"/api/v1/pieces/{photographed['id']}/assay",
        json=assay_data(),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    certify(client, world, title="Plain ring")

    page = body(client.get(f"/makers/{world.maker_slug}?lang=en"))
    thumb = f"/api/v1/photos/{stored.json['sha256']}/thumb.jpg"
    assert f'<img src="{thumb}" alt="Photo of the piece: Photographed ring"' in page
    assert page.count("<img ") == 1
    assert page.count('class="no-photo"') == 1
    assert client.get(thumb).status_code == 200


def test_showcase_pages_with_a_cursor(client, world, monkeypatch):
    for title in ("First ring", "Second ring", "Third ring"):
        certify(client, world, title=title)
    monkeypatch.setattr(showcase, "PAGE_SIZE", 2)

    first = client.get(f"/makers/{world.maker_slug}?lang=en")
    shown = text(first)
    assert "Third ring" in shown and "Second ring" in shown and "First ring" not in shown
    more = re.search(r'href="(/makers/[^"]+\?after=\d+)"', body(first))
    assert more, "no link to the next page"

    second = client.get(html.unescape(more.group(1)) + "&lang=en")
    assert second.status_code == 200
    shown = text(second)
    assert "First ring" in shown and "Second ring" not in shown
    assert "More pieces" not in shown
    assert f'href="/makers/{world.maker_slug}"' in body(second)


def test_a_bad_cursor_is_a_400_page(client, world):
    for after in ("abc", "-1", "1e9", "9" * 40):
        response = client.get(f"/makers/{world.maker_slug}", query_string={"after": after})
        assert response.status_code == 400, after
        assert response.content_type.startswith("text/html")


def test_showcase_loads_pieces_and_photos_in_a_fixed_number_of_queries(client, world, app):
    certify(client, world)
    with counted_queries(app) as one:
        assert client.get(f"/makers/{world.maker_slug}").status_code == 200
    for n in range(3):
        piece = register(client, world.maker, title=f"Ring {n}")
        client.put(
            f"/api/v1/pieces/{piece['id']}/photo",
            data=a_jpeg() + bytes(n),  # a photo each
            headers={**bearer(world.maker), "Content-Type": "image/jpeg"},
        )
        attested = client.post(
            f"/api/v1/pieces/{piece['id']}/assay",
            json=assay_data(),
            headers=bearer(world.inspector),
        )
        assert attested.status_code == 201
    with counted_queries(app) as four:
        response = client.get(f"/makers/{world.maker_slug}")
    assert "<img " in body(response)
    assert len(four) == len(one)


def test_a_piece_signed_after_its_key_was_compromised_is_not_on_show(client, world, app):
    """As its verification page says "not valid", the showcase leaves it out."""
    _, first = certify(client, world, title="Ring of the old key")
    with app.app_context():
        ring = signing.keyring()
        old = ring.active().kid
        signing_keys.rotate(database.session(), ring, actor=None)
        database.session().commit()
    certify(client, world, title="Ring of the new key")
    issued = datetime.fromisoformat(first["issued_at"].replace("Z", "+00:00"))

    def compromise(since: datetime) -> str:
        with app.app_context():
            signing_keys.compromise(
                database.session(), signing.keyring(), old, since=since, actor=None
            )
            database.session().commit()
        return text(client.get(f"/makers/{world.maker_slug}?lang=en"))

    shown = compromise(issued + timedelta(days=1))  # signed before: still trusted
    assert "Ring of the old key" in shown and "Ring of the new key" in shown
    shown = compromise(issued)
    assert "Ring of the old key" not in shown and "Ring of the new key" in shown
    assert "Certified pieces (1)" in shown
    assert "1 certified piece" in text(client.get("/makers?lang=en"))


def test_an_unknown_maker_is_a_404_page(client, world):
    for slug in ("no-such-maker", "x", "%00"):
        response = client.get(f"/makers/{slug}?lang=en")
        assert response.status_code == 404, slug
        assert response.content_type.startswith("text/html")
        assert "Not found" in text(response)


# --- caching --------------------------------------------------------------------------------


def test_public_pages_may_be_cached_by_anyone(client, world):
    certify(client, world)
    for path in ("/", "/makers", "/makers?region=RU-TY", f"/makers/{world.maker_slug}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "public, max-age=60", path
        assert "Accept-Language" in response.headers["Vary"], path
        assert "Set-Cookie" not in response.headers, path
        again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304, path


def test_a_language_picked_in_the_url_is_kept_and_not_shared(client, world):
    response = client.get("/makers?lang=en")
    assert "lang=en" in response.headers["Set-Cookie"]
    assert "private" in response.headers["Cache-Control"]
    assert "Makers" in text(client.get("/makers"))  # the cookie now chooses English
