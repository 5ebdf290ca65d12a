"""The maker's portal: their pieces, registration with a photo, bulk import, downloads,
and that no maker reaches another's pieces."""

import io
import re

import pypdfium2 as pdfium
import pytest
from markupsafe import escape
from PIL import Image

from registry import cards, chunks
from registry.edge import database
from tests.factories import (
    bearer,
    certify,
    csrf_token,
    piece_data,
    post_form,
    sign_in,
    with_passwords,
)
from tests.test_imports import fails_at_database_level


@pytest.fixture
def maker(app, client, world):
    """The test client, signed in as world.maker's account."""
    with app.app_context():
        with_passwords(database.session(), "maker@test.example", "other@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    return client


def _jpeg(colour=(180, 140, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


def _register(client, **overrides):
    form = {
        "reference": "R-1",
        "kind": "ring",
        "title": "Кольцо «Саяны»",
        "metal": "gold",
        "fineness": "585",
        "weight_g": "3.42",
        "stones": "diamond:3:0.15",
        **overrides,
    }
    photo = form.pop("photo", None)
    data = {**form, "csrf_token": csrf_token(client, "/maker/pieces/new")}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "ring.jpg")
    return client.post("/maker/pieces/new", data=data, content_type="multipart/form-data")


def test_a_maker_registers_a_piece_with_its_photo(maker, world):
    response = _register(maker, photo=_jpeg())
    assert response.status_code == 303
    page = maker.get(response.headers["Location"]).get_data(as_text=True)
    assert "Кольцо «Саяны»" in page and "Registered R-1" in page
    assert re.search(r'src="/api/v1/photos/[0-9a-f]{64}/thumb.jpg"', page)
    listed = maker.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"]
    assert [(p["reference"], p["status"], p["photo"] is not None) for p in listed] == [
        ("R-1", "awaiting_assay", True)
    ]


def test_a_bad_form_is_shown_again_with_its_errors_and_nothing_is_stored(maker, world):
    response = _register(maker, fineness="600")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "600 is not a legal fineness for gold" in page
    assert 'value="Кольцо «Саяны»"' in page  # what was typed is kept
    with_photo = _register(maker, fineness="600", photo=_jpeg()).get_data(as_text=True)
    assert "Choose the photo again" in with_photo  # a browser never keeps a chosen file
    heavy = _register(maker, weight_g="heavy", kind="spoon").get_data(as_text=True)
    assert "Not a valid number." in heavy and "Must be one of" in heavy
    bad_photo = _register(maker, photo=b"not an image")
    assert bad_photo.status_code == 422
    assert "Choose the photo again" in bad_photo.get_data(as_text=True)
    assert maker.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"] == []


def test_a_reference_used_twice_is_refused(maker):
    assert _register(maker).status_code == 303
    again = _register(maker)
    assert again.status_code == 409
    assert "Already used by another of your pieces." in again.get_data(as_text=True)


def test_the_dashboard_filters_by_status_and_searches(client, maker, world):
    certify(client, world, reference="GOLD-1", title="Серьги «Тыва»")
    client.post("/api/v1/pieces", json=piece_data(reference="WAIT-1"), headers=bearer(world.maker))
    client.post(
        "/api/v1/pieces", json=piece_data(reference="THEIRS-1"), headers=bearer(world.other_maker)
    )
    page = maker.get("/maker/").get_data(as_text=True)
    assert "GOLD-1" in page and "WAIT-1" in page and "THEIRS-1" not in page
    certified = maker.get("/maker/?status=certified").get_data(as_text=True)
    assert "GOLD-1" in certified and "WAIT-1" not in certified
    for typed in ("Тыва", "тЫВА"):  # case does not matter, in Cyrillic too
        found = maker.get("/maker/", query_string={"q": typed}).get_data(as_text=True)
        assert "GOLD-1" in found and "WAIT-1" not in found
    assert "WAIT-1" in maker.get("/maker/?q=wait").get_data(as_text=True)
    assert "No piece matches." in maker.get("/maker/?q=nothing-like-it").get_data(as_text=True)


def test_a_reference_is_found_however_its_dash_was_typed(client, maker, world):
    """References are stored as one string however they were typed (a non-breaking
    hyphen, a zero-width space): a search typed the same way finds them."""
    client.post("/api/v1/pieces", json=piece_data(reference="R-777"), headers=bearer(world.maker))
    for typed in ("R\u2011777", "r-777\u200b", "R\u2212777"):
        found = maker.get("/maker/", query_string={"q": typed}).get_data(as_text=True)
        assert "R-777" in found and "No piece matches." not in found, typed
    refused = maker.get("/maker/", query_string={"q": "R-7\x0777"})
    assert refused.status_code < 500


def test_downloads_of_a_certified_piece(client, maker, world):
    piece_id, certificate = certify(client, world)
    png = maker.get(f"/maker/pieces/{piece_id}/label.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Content-Disposition"].startswith("attachment")
    svg = maker.get(f"/maker/pieces/{piece_id}/label.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data


def test_labels_and_cards_are_for_certified_pieces_only(client, maker, world):
    waiting = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    response = maker.get(f"/maker/pieces/{waiting['id']}/card.pdf?lang=en")
    assert response.status_code == 404
    assert "has no valid certificate" in response.get_data(as_text=True)


def test_a_maker_cannot_reach_another_makers_pieces(client, maker, world):
    theirs, _certificate = certify(client, world, reference="THEIRS")
    # Move the certified piece to the other maker by certifying one of theirs instead.
    other = client.post(
        "/api/v1/pieces", json=piece_data(reference="OTHER-1"), headers=bearer(world.other_maker)
    ).json
    attested = client.post(
        f"/api/v1/pieces/{other['id']}/assay",
        json={
            "result": "passed",
            "metal": "gold",
            "fineness": 585,
            "assay_mark": "585-KRS",
            "inspectorate": "East Siberian State Inspectorate of Assay Supervision",
        },
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201
    for path in (
        f"/maker/pieces/{other['id']}",
        f"/maker/pieces/{other['id']}/card.pdf",
        f"/maker/pieces/{other['id']}/label.png",
        f"/maker/pieces/{other['id']}/label.svg",
        f"/maker/labels.pdf?piece={theirs}&piece={other['id']}",
        "/maker/pieces/999999",
        "/maker/pieces/99999999999",
    ):
        response = maker.get(path)
        assert response.status_code == 404, path
        assert "OTHER-1" not in response.get_data(as_text=True)
    photo = maker.post(
        f"/maker/pieces/{other['id']}/photo",
        data={
            "csrf_token": csrf_token(maker, f"/maker/pieces/{theirs}"),
            "photo": (io.BytesIO(_jpeg()), "x.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert photo.status_code == 404
    assert "OTHER-1" not in maker.get("/maker/?q=OTHER").get_data(as_text=True)


def _csv(rows: list[str]) -> bytes:
    header = "reference,kind,title,description,metal,fineness,weight_g,stones,uin"
    return ("\n".join([header, *rows]) + "\n").encode()


def _import(client, body: bytes, charset: str = "utf-8"):
    return client.post(
        "/maker/import",
        data={
            "csrf_token": csrf_token(client, "/maker/import"),
            "charset": charset,
            "file": (io.BytesIO(body), "pieces.csv"),
        },
        content_type="multipart/form-data",
    )


def test_an_import_registers_the_good_lines_and_reports_the_bad_ones(maker, world):
    rows = [f"IMP-{n},ring,Кольцо {n},,silver,925,2.{n:02d},," for n in range(1, 51)]
    rows[9] = "IMP-10,ring,Кольцо 10,,silver,999999,2.10,,"  # line 11: bad fineness
    rows[29] = "IMP-30,spoon,Ложка,,silver,925,2.30,,"  # line 31: bad kind
    response = _import(maker, _csv(rows))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "48 of 50 pieces registered." in page
    lines = re.findall(r'data-line="(\d+)"', page)
    assert lines == ["11", "31"]
    assert "not a legal fineness" in page and "Must be one of" in page
    assert 'progress value="50" max="50"' in page
    listed = maker.get("/api/v1/pieces?limit=100", headers=bearer(world.maker)).json["items"]
    assert len(listed) == 48


def test_an_unreadable_import_stores_nothing_and_says_why(maker, world):
    missing = _import(maker, b"reference,title\nX,Y\n")
    assert missing.status_code == 422
    assert "lacks the columns" in missing.get_data(as_text=True)
    wrong_encoding = _import(maker, _csv(["A,ring,Кольцо,,gold,585,1,,"]).replace(b"\xd0", b"\xff"))
    assert wrong_encoding.status_code == 422
    assert "not valid UTF-8" in wrong_encoding.get_data(as_text=True)
    cp1251 = _import(
        maker, _csv(["A,ring,Кольцо,,gold,585,1,,"]).decode().encode("cp1251"), "windows-1251"
    )
    assert "1 of 1 pieces registered." in cp1251.get_data(as_text=True)
    assert len(maker.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"]) == 1


def test_the_import_template_imports_as_it_is(maker):
    template = maker.get("/maker/import/template.csv")
    assert template.mimetype == "text/csv"
    page = _import(maker, template.data).get_data(as_text=True)
    assert "2 of 2 pieces registered." in page


def test_maker_pages_are_refused_to_other_roles_and_to_strangers(app, world):
    stranger = app.test_client()
    assert stranger.get("/maker/import").headers["Location"].startswith("/login")
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example")
    sign_in(stranger, "inspector@test.example")
    assert stranger.get("/maker/").status_code == 403


def test_a_form_without_csrf_token_registers_nothing(maker, world):
    response = maker.post(
        "/maker/pieces/new",
        data={"reference": "X", "kind": "ring", "title": "T", "metal": "gold",
              "fineness": "585", "weight_g": "1"},
    )  # fmt: skip
    assert response.status_code == 400
    assert maker.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"] == []
    assert post_form  # used by other tests of the portal


def test_a_weight_typed_with_a_decimal_comma_is_taken(maker, world):
    assert _register(maker, weight_g="3,42", stones="diamond:3:0,15").status_code == 303
    piece = maker.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"][0]
    assert (piece["weight_g"], piece["stones"][0]["carat"]) == (3.42, 0.15)


def test_an_import_that_fails_midway_keeps_the_lines_stored_before_and_lists_the_rest(
    maker, world, monkeypatch
):
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 3)
    fails_at_database_level(monkeypatch, "MID-5")
    rows = [f"MID-{n},ring,Кольцо {n},,silver,925,2.5,," for n in range(1, 9)]
    page = _import(maker, _csv(rows)).get_data(as_text=True)
    assert "3 of 8 pieces registered." in page
    assert re.findall(r'data-line="(\d+)"', page) == ["5", "6", "7", "8", "9"]
    assert page.count("Not stored: the database failed on rows 5-7") == 5
    listed = maker.get("/api/v1/pieces?limit=100", headers=bearer(world.maker)).json["items"]
    assert sorted(piece["reference"] for piece in listed) == ["MID-1", "MID-2", "MID-3"]


@pytest.mark.parametrize(
    ("language", "reason", "menu"),
    [
        ("en", "Tick at least one certified piece to print its label.", "My pieces"),
        ("ru", "Отметьте хотя бы одно изделие с сертификатом", "Мои изделия"),
    ],
)
def test_printing_labels_with_nothing_ticked_says_why_on_the_dashboard(
    maker, language, reason, menu
):
    maker.get(f"/maker/?lang={language}")

    refused = maker.get("/maker/labels.pdf")

    assert refused.status_code == 303
    assert refused.headers["Location"].endswith("/maker/")
    page = maker.get(refused.headers["Location"]).get_data(as_text=True)
    assert 'role="alert" data-refused' in page
    assert reason in page
    assert menu in page  # the portal is still around the refusal


def test_a_refusal_page_keeps_the_portal_menu(maker):
    """Not found (another maker's piece, or none): the portal's menu stays the way on."""
    page = maker.get("/maker/pieces/999999")

    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert 'data-error="not_found"' in html
    assert 'nav class="portal"' in html and "My pieces" in html


@pytest.mark.parametrize(
    ("language", "found", "next_step"),
    [
        ("en", "Silver 800", "correct it below"),
        ("ru", "Серебро 800", "исправьте её ниже"),
    ],
)
def test_a_failed_assay_shows_the_maker_what_was_found_and_what_next(
    maker, world, language, found, next_step
):
    made = maker.post(
        "/api/v1/pieces",
        json=piece_data(metal="silver", fineness=925, stones=[]),
        headers=bearer(world.maker),
    )
    failed = maker.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json={
            "result": "failed",
            "metal": "silver",
            "fineness": 800,
            "assay_mark": "800-KRS",
            "notes": "Touchstone: 800, not 925.",
        },
        headers=bearer(world.inspector),
    )
    assert failed.status_code == 201, failed.json

    html = maker.get(f"/maker/pieces/{made.json['id']}?lang={language}").get_data(as_text=True)

    shown = html[html.index("data-failed-assay") :]
    assert found in shown
    assert "Touchstone: 800, not 925." in shown
    assert next_step in shown


def test_the_maker_chooses_the_label_stock_and_each_label_carries_the_brand(maker, world):
    piece_id, certificate = certify(maker, world)
    dashboard = maker.get("/maker/").get_data(as_text=True)
    for stock in cards.STOCKS.values():
        assert str(escape(stock.name)) in dashboard

    sheet = maker.get(f"/maker/labels.pdf?piece={piece_id}&stock=l7160")
    refused = maker.get(f"/maker/labels.pdf?piece={piece_id}&stock=a4-plain")

    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
    page = pdfium.PdfDocument(sheet.data)[0]
    text = page.get_textpage().get_text_range()
    assert "Yenisey Siberia" in text and certificate["printed_code"] in text
    assert refused.status_code == 303
    assert "Choose one of the label stocks listed." in maker.get("/maker/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "limit"), [("en", "at most 24 MB"), ("ru", "не больше 24 МБ")]
)
def test_the_photo_fields_state_the_size_limit(maker, world, language, limit):
    piece = maker.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    for path in ("/maker/pieces/new", f"/maker/pieces/{piece['id']}"):
        html = maker.get(f"{path}?lang={language}").get_data(as_text=True)
        hint = re.search(r'<p class="hint" id="h-photo">([^<]*)</p>', html).group(1)
        assert limit in hint, path
