"""Buyers' reports (issue 13, items 6 and 7): the form from every verdict page, its
refusals that keep what was typed, the private queue of the brand office and the
inspectors, and the contacts and genuine address on every verdict page."""

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from registry import codes, reports
from registry.edge import database
from registry.models import BuyerReport
from tests.factories import (
    EMAILS,
    bearer,
    certify,
    csrf_token,
    events,
    jpeg,
    sign_in,
    with_passwords,
)

_REFERENCE = re.compile(r"data-reference>([0-9A-Z]{5}-[0-9A-Z]{5})<")


def _form(client, code: str, **fields) -> dict:
    """The report form opened from a verdict page's link, filled in."""
    token = csrf_token(client, f"/report?code={code}")
    return {
        "csrf_token": token,
        "kind": "suspected_fake",
        "code": code,
        "where_bought": "Central market, stall 12",
        "seller": "Ivan Sellerov",
        "city": "Абакан",
        "details": "The hallmark looks\nsmudged.",
        "contact": "+7 900 000-00-00",
        **fields,
    }


def _stored(app) -> list[BuyerReport]:
    with app.app_context():
        session = database.session()
        rows = session.scalars(select(BuyerReport).order_by(BuyerReport.id)).all()
        session.expunge_all()
        return list(rows)


def _link(page: str) -> str:
    found = re.search(r'href="(/report\?code=[^"]+)"', page)
    assert found, "no report link on the page"
    return found.group(1).replace("&amp;", "&")


def test_the_unknown_code_page_says_never_issued_and_leads_to_a_report(app, client):
    code = codes.new()
    page = client.get(f"/v/{code}")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "The registry never issued the code" in text
    assert "Do not rely on this piece" in text
    assert "type it again" not in text
    form = client.get(_link(text))
    assert form.status_code == 200
    filled = form.get_data(as_text=True)
    assert f'value="{codes.printed(code)}"' in filled
    assert 'value="suspected_fake" selected' in filled
    before = events(app)

    sent = client.post(f"/report?code={code}", data=_form(client, code))

    assert sent.status_code == 201, sent.get_data(as_text=True)[:500]
    reference = _REFERENCE.search(sent.get_data(as_text=True)).group(1)
    assert sent.headers["Cache-Control"] == "no-store"
    [report] = _stored(app)
    assert report.reference == reference
    assert report.certificate_id is None
    assert report.typed_code == codes.printed(code)
    assert report.seller == "Ivan Sellerov" and report.city == "Абакан"
    assert report.details == "The hallmark looks\nsmudged."
    assert report.status == "open"
    # Private: no log entry.
    assert events(app) == before


def test_a_mistyped_code_still_says_to_type_it_again(client):
    code = codes.new()
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    text = client.get(f"/v/{wrong}").get_data(as_text=True)
    assert "Check the code and type it again." in text
    assert "never issued" not in text
    assert "/report?code=" in text  # still a way to report


def test_a_report_from_a_certificate_page_names_its_certificate_and_keeps_its_photo(
    app, client, world
):
    _, certificate = certify(client, world)
    code = certificate["code"]
    page = client.get(f"/v/{code}").get_data(as_text=True)
    assert _link(page) == f"/report?code={code}"
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "silver").save(photo, "PNG")
    before = events(app)
    data = _form(client, code, kind="copied_tag", photo=(io.BytesIO(photo.getvalue()), "tag.png"))

    sent = client.post(f"/report?code={code}", data=data, content_type="multipart/form-data")

    assert sent.status_code == 201, sent.get_data(as_text=True)[:500]
    [report] = _stored(app)
    assert report.kind == "copied_tag"
    assert report.certificate_id is not None and report.typed_code is None
    # Checked and re-encoded as a piece's photo is: a JPEG, never the bytes sent.
    assert report.photo_media_type == "image/jpeg" and report.photo[:2] == b"\xff\xd8"
    assert events(app) == before


def test_a_post_without_its_csrf_token_is_refused_and_keeps_what_was_typed(app, client):
    code = codes.new()
    data = _form(client, code)
    data["csrf_token"] = "forged"
    refused = client.post(f"/report?code={code}", data=data)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Send it again" in text
    assert 'value="Ivan Sellerov"' in text and "smudged." in text
    assert _stored(app) == []


def test_a_form_with_an_error_keeps_what_was_typed(app, client):
    code = codes.new()
    refused = client.post(f"/report?code={code}", data=_form(client, code, kind=""))
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'value="Central market, stall 12"' in text and 'value="+7 900 000-00-00"' in text
    assert _stored(app) == []


def test_a_25_mb_photo_is_a_413_with_the_form_kept(app, client):
    code = codes.new()
    huge = b"\xff\xd8\xff\xe0" + b"\0" * (25 * 1024 * 1024)
    data = _form(client, code, photo=FileStorage(io.BytesIO(huge), "huge.jpg"))
    # Encoded here, in memory: the test client would spool 25 MB to a file it never closes.
    boundary, body = encode_multipart(data)

    refused = client.post(
        f"/report?code={code}",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )

    assert refused.status_code == 413
    text = refused.get_data(as_text=True)
    assert "The photo is larger than 24 MB" in text
    assert "Choose the photo again" in text
    for kept in ('value="Ivan Sellerov"', 'value="Абакан"', "smudged.", f'value="{code}"'):
        assert kept in text
    assert 'value="suspected_fake" selected' in text
    assert _stored(app) == []


def test_a_body_beyond_every_limit_is_a_413_page_with_the_code(app, client):
    app.config["UPLOAD_MAX_BODY"] = 100_000
    code = codes.new()
    data = _form(client, code, photo=(io.BytesIO(b"\0" * 200_000), "huge.jpg"))
    refused = client.post(f"/report?code={code}", data=data, content_type="multipart/form-data")
    assert refused.status_code == 413
    assert f'value="{code}"' in refused.get_data(as_text=True)


def test_a_photo_that_is_no_image_is_refused_with_the_form_kept(app, client):
    code = codes.new()
    data = _form(client, code, photo=(io.BytesIO(b"not an image"), "x.jpg"))
    refused = client.post(f"/report?code={code}", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert 'value="Ivan Sellerov"' in refused.get_data(as_text=True)
    assert _stored(app) == []


def test_100_reports_in_a_minute_from_one_client_meet_429(app, client):
    code = codes.new()
    data = _form(client, code)
    statuses = [client.post(f"/report?code={code}", data=data).status_code for _ in range(100)]
    assert statuses.count(201) == 10  # REPORT_RATE_LIMIT: 10 per hour
    assert set(statuses[10:]) == {429}
    refused = client.post(f"/report?code={code}", data=data)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert 'value="Ivan Sellerov"' in refused.get_data(as_text=True)
    # The API shares the allowance.
    assert client.post("/api/v1/reports", json={"kind": "other"}).status_code == 429
    assert len(_stored(app)) == 10


def test_the_api_takes_reports_and_limits_them(app, client, world):
    before = events(app)
    statuses = [
        client.post("/api/v1/reports", json={"kind": "wrong_details", "code": "ys-nothing"})
        for _ in range(100)
    ]
    assert [s.status_code for s in statuses[:10]] == [202] * 10
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", statuses[0].json["reference"])
    assert {s.status_code for s in statuses[10:]} == {429}
    assert statuses[-1].mimetype == "application/problem+json"
    assert events(app) == before


def test_the_api_takes_a_multipart_report_with_a_photo(app, client, world):
    _, certificate = certify(client, world)
    sent = client.post(
        "/api/v1/reports",
        data={
            "kind": "suspected_fake",
            "code": certificate["code"],
            "photo": (io.BytesIO(jpeg()), "p.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 202, sent.json
    listed = client.get("/api/v1/reports", headers=bearer(world.inspector)).json["items"]
    assert listed[0]["has_photo"] is True
    assert listed[0]["code"] == codes.printed(certificate["code"])
    bad = client.post("/api/v1/reports", json={"kind": "nonsense"})
    assert bad.status_code == 422 and "kind" in bad.json["errors"]


def _report(app, code: str | None, **fields) -> int:
    with app.app_context():
        session = database.session()
        report = reports.submit(
            session, kind=fields.pop("kind", "suspected_fake"), code_text=code, **fields
        )
        session.commit()
        return report.id


@pytest.fixture
def signed_in(app, world):
    with app.app_context():
        with_passwords(database.session(), *EMAILS.values())

    def client_of(caller: str):
        client = app.test_client()
        assert sign_in(client, EMAILS[caller]).status_code == 302
        return client

    return client_of


@pytest.mark.parametrize("portal", ["admin", "inspector"])
def test_the_queue_lists_open_first_with_links_and_handles_with_a_note(
    app, client, world, signed_in, portal
):
    _, certificate = certify(client, world)
    code = certificate["code"]
    first = _report(app, code.lower(), seller="Old Bazaar", photo=jpeg())
    second = _report(app, codes.printed(code), kind="copied_tag", seller="Second Seller")
    alone = _report(app, "YS-NOT-A-CODE", seller="Lonely Seller")
    staff = signed_in(portal)
    before = events(app)

    page = staff.get(f"/{portal}/reports")

    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    # Linked to its certificate's page, and to the other report of the same certificate.
    assert text.count(f'href="/v/{code}"') == 2
    assert 'data-others="1"' in text
    others = staff.get(f"/{portal}/reports?code={code.lower()}").get_data(as_text=True)
    assert "Old Bazaar" in others and "Second Seller" in others and "Lonely Seller" not in others
    # The photo, for them only.
    photo = staff.get(f"/{portal}/reports/{first}/photo.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Cache-Control"] == "no-store"

    token = csrf_token(staff, f"/{portal}/reports")
    handled = staff.post(
        f"/{portal}/reports/{second}/handle",
        data={"note": "Called the seller; the tag is a copy.", "csrf_token": token},
    )
    assert handled.status_code == 303

    after = staff.get(f"/{portal}/reports").get_data(as_text=True)
    order = [int(m) for m in re.findall(r'id="report-(\d+)"', after)]
    assert order == [alone, first, second]  # open first, newest first; handled last
    assert "Called the seller; the tag is a copy." in after
    only_handled = staff.get(f"/{portal}/reports?status=handled").get_data(as_text=True)
    assert re.findall(r'id="report-(\d+)"', only_handled) == [str(second)]
    empty = staff.post(f"/{portal}/reports/{first}/handle", data={"note": "", "csrf_token": token})
    assert empty.status_code == 422
    assert (
        staff.post(
            f"/{portal}/reports/99999/handle", data={"note": "x", "csrf_token": token}
        ).status_code
        == 404
    )
    # Working through reports writes nothing to the public log.
    assert events(app) == before


@pytest.mark.parametrize("caller", ["maker", "shop"])
def test_makers_and_shops_see_no_report(app, client, world, signed_in, caller):
    report = _report(app, None, photo=jpeg())
    other = signed_in(caller)
    for path in ("/admin/reports", "/inspector/reports", f"/inspector/reports/{report}/photo.jpg"):
        assert other.get(path).status_code == 403
    token = csrf_token(other, "/account")
    handled = other.post(
        f"/inspector/reports/{report}/handle", data={"note": "mine", "csrf_token": token}
    )
    assert handled.status_code == 403
    assert client.get("/admin/reports").status_code == 302  # anonymous: sign in first
    assert client.get(f"/admin/reports/{report}/photo.jpg").status_code == 302
    token_of = {"maker": world.maker, "shop": world.shop}[caller]
    assert client.get("/api/v1/reports", headers=bearer(token_of)).status_code == 403
    assert client.get("/api/v1/reports").status_code == 401


def test_the_api_lists_filters_and_handles(app, client, world):
    _, certificate = certify(client, world)
    code = certificate["code"]
    one = _report(app, code)
    _report(app, code, kind="other")
    _report(app, "unknown-thing")

    listed = client.get(f"/api/v1/reports?code={code}", headers=bearer(world.admin)).json["items"]
    assert {item["id"] for item in listed} >= {one} and len(listed) == 2
    assert all(item["others"] == 1 for item in listed)

    handled = client.post(
        f"/api/v1/reports/{one}/handle", json={"note": "Checked."}, headers=bearer(world.inspector)
    )
    assert handled.status_code == 200 and handled.json["status"] == "handled"
    assert handled.json["note"] == "Checked."
    still_open = client.get("/api/v1/reports?status=open", headers=bearer(world.admin)).json
    assert one not in {item["id"] for item in still_open["items"]}
    missing = client.post(
        "/api/v1/reports/99999/handle", json={"note": "x"}, headers=bearer(world.admin)
    )
    assert missing.status_code == 404


def _verdict_pages(client, world) -> dict[str, str]:
    """A page of every kind of verdict: its address."""
    _, valid = certify(client, world)
    _, revoked = certify(client, world)
    client.post(
        f"/api/v1/certificates/{revoked['code']}/revoke",
        json={"reason": "data_error", "note": "Misprinted."},
        headers=bearer(world.inspector),
    )
    never = codes.new()
    return {
        "valid": f"/v/{valid['code']}",
        "revoked": f"/v/{revoked['code']}",
        "unknown": f"/v/{never}",
        "mistyped": f"/v/{never[:-1]}{'0' if never[-1] != '0' else '1'}",
        "malformed": "/v/hello",
    }


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_verdict_page_gives_the_contacts_and_the_genuine_address(
    app, client, world, language
):
    address = app.config["CONTACT_ADDRESS_EN" if language == "en" else "CONTACT_ADDRESS"]
    for kind, path in _verdict_pages(client, world).items():
        text = client.get(f"{path}?lang={language}").get_data(as_text=True)
        help_ = text[text.index("data-help") :]
        for shown in (app.config["CONTACT_PHONE"], app.config["CONTACT_EMAIL"], address):
            assert shown in help_, (kind, shown)
        assert re.search(r"data-genuine>.*registry\.test", help_, re.S), kind
        assert "/report?code=" in help_, kind
    english = client.get(f"{_verdict_pages(client, world)['valid']}?lang=en").get_data(as_text=True)
    assert "The registry's only address is <strong" in english
    assert "is not the registry" in english
