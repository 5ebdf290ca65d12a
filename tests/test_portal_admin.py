"""The brand office's portal: admitting makers, creating accounts, handing over
temporary passwords and tokens."""

import re

import pytest

from registry import accounts
from registry.edge import database
from registry.log import ledger
from tests.factories import PASSWORD, bearer, csrf_token, post_form, sign_in, with_passwords

NEW_MAKER = {
    "name_ru": "Абаканская мастерская",
    "name_en": "Abakan Workshop",
    "region": "RU-KK",
    "city": "Абакан",
    "mark": "ab77",
}


@pytest.fixture
def office(app, client, world):
    """The test client signed in as the brand office."""
    with app.app_context():
        with_passwords(
            database.session(), "admin@test.example", "maker@test.example", "inspector@test.example"
        )
    assert sign_in(client, "admin@test.example").status_code == 302
    return world


def _text(response) -> str:
    # Without the <bdi> that isolate user text within a sentence.
    return re.sub(r"</?bdi>", "", response.get_data(as_text=True))


def _handed(response, kind: str) -> str:
    """The password or token that the page shows once."""
    found = re.search(rf'<code class="secret" data-{kind}>([^<]+)<', _text(response))
    assert found, f"no {kind} shown"
    return found.group(1)


def _account_id(client, email: str) -> str:
    page = _text(client.get("/admin/accounts"))
    row = page.split(f'data-account="{email}"')[1].split("</tr>")[0]
    return re.search(r"/admin/accounts/(\d+)/password", row).group(1)


def _slugs(client) -> list[str]:
    return [m["slug"] for m in client.get("/api/v1/makers").json["items"]]


def test_the_office_lands_on_the_makers_it_admitted(client, office):
    page = client.get("/admin/makers")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = _text(page)
    assert office.maker_slug in text
    assert "Tyva Republic" in text or "Республика Тыва" in text
    row = text.split(f'data-maker="{office.maker_slug}"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row  # maker@test.example works for it


def test_a_maker_admitted_through_the_form_joins_the_public_directory(client, office):
    admitted = post_form(client, "/admin/makers?lang=en", NEW_MAKER, form_page="/admin/makers")
    assert admitted.status_code == 302
    assert admitted.headers["Location"] == "/admin/makers"
    page = _text(client.get("/admin/makers"))
    assert "Abakan Workshop is admitted to the brand." in page
    assert "AB77" in page and "Republic of Khakassia" in page
    listed = client.get("/api/v1/makers/abakan-workshop").json
    assert listed["mark"] == "AB77"
    assert listed["region"]["code"] == "RU-KK"
    # The confirmation is shown once.
    assert "is admitted to the brand" not in _text(client.get("/admin/makers"))


def test_a_region_outside_the_brand_or_a_missing_name_admits_nothing(client, office):
    before = _slugs(client)
    outside = post_form(client, "/admin/makers", {**NEW_MAKER, "region": "RU-MOW"})
    assert outside.status_code == 422
    assert "Must be one of: RU-KYA, RU-KK, RU-TY." in _text(outside)
    assert 'value="Abakan Workshop"' in _text(outside)  # what was typed stays
    nameless = post_form(client, "/admin/makers", {**NEW_MAKER, "name_en": ""})
    assert nameless.status_code == 422
    assert re.search(r'id="f-name_en"[^>]*aria-invalid="true"', _text(nameless))
    assert "Missing data for required field." in _text(nameless)
    assert _slugs(client) == before


def test_a_mark_already_registered_is_refused_beside_its_field(client, office):
    post_form(client, "/admin/makers", NEW_MAKER)
    again = post_form(client, "/admin/makers", {**NEW_MAKER, "name_en": "Another", "mark": "AB77"})
    assert again.status_code == 409  # a conflict with what is stored
    assert "Already registered." in _text(again)
    assert "another" not in _slugs(client)


def test_a_new_account_gets_a_temporary_password_it_must_change(app, client, office):
    post_form(client, "/admin/makers", NEW_MAKER)
    made = post_form(
        client,
        "/admin/accounts",
        {
            "email": "Jeweller@Abakan.Example",
            "role": "maker",
            "maker": "abakan-workshop",
            "display_name": "Айдана",
        },
    )
    assert made.status_code == 201
    assert "The account of jeweller@abakan.example is created." in _text(made)
    temporary = _handed(made, "password")
    assert temporary not in _text(client.get("/admin/accounts"))  # shown only once
    row = _text(client.get("/admin/accounts")).split('data-account="jeweller@abakan.example"')[1]
    assert "to be changed at the next sign-in" in row.split("</tr>")[0]

    newcomer = app.test_client()
    signed_in = sign_in(newcomer, "jeweller@abakan.example", temporary)
    assert signed_in.headers["Location"].startswith("/account/password")
    changed = post_form(
        newcomer,
        "/account/password",
        {"current": temporary, "new": "yenisei-cedar-42", "repeat": "yenisei-cedar-42"},
    )
    assert changed.status_code == 302
    assert changed.headers["Location"] == "/maker/"
    assert newcomer.get("/maker/").status_code == 200


def test_the_log_records_the_new_account_and_its_password(app, client, office):
    post_form(client, "/admin/accounts", {"email": "second@test.example", "role": "inspector"})
    with app.app_context():
        account = ledger.commitment(database.session(), "second@test.example")
    for action in ("account:created", "account:password_set"):
        events = client.get(
            f"/api/v1/audit/events?type={action}", headers=bearer(office.inspector)
        ).json["events"]
        mine = [e for e in events if e["data"]["account"] == account]
        assert len(mine) == 1, action
        assert mine[0]["actor"]["role"] == "admin"


def test_an_e_mail_already_in_use_is_refused(client, office):
    taken = post_form(
        client, "/admin/accounts", {"email": "MAKER@test.example", "role": "inspector"}
    )
    assert taken.status_code == 409
    assert "Taken." in _text(taken)
    assert "data-password" not in _text(taken)
    page = _text(client.get("/admin/accounts"))
    assert page.count('data-account="maker@test.example"') == 1


def test_a_maker_account_needs_its_maker_and_others_none(client, office):
    makerless = post_form(client, "/admin/accounts", {"email": "a@test.example", "role": "maker"})
    assert makerless.status_code == 422
    assert "A maker account needs the maker" in _text(makerless)
    inspector = post_form(
        client,
        "/admin/accounts",
        {"email": "b@test.example", "role": "inspector", "maker": office.maker_slug},
    )
    assert inspector.status_code == 422
    assert "Only maker accounts belong to a maker." in _text(inspector)
    unknown = post_form(
        client, "/admin/accounts", {"email": "c@test.example", "role": "maker", "maker": "nobody"}
    )
    assert unknown.status_code == 422
    assert "No admitted maker has this slug." in _text(unknown)
    page = _text(client.get("/admin/accounts"))
    assert not re.search(r'data-account="[abc]@test.example"', page)


def test_a_reset_password_ends_the_old_one(app, client, office):
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "maker@test.example").status_code == 302
    account_id = _account_id(client, "maker@test.example")
    reset = post_form(
        client, f"/admin/accounts/{account_id}/password", {}, form_page="/admin/accounts"
    )
    assert reset.status_code == 200
    assert "The password of maker@test.example is reset" in _text(reset)
    temporary = _handed(reset, "password")
    assert elsewhere.get("/maker/").status_code == 302  # signed out everywhere
    assert sign_in(app.test_client(), "maker@test.example", PASSWORD).status_code == 422
    fresh = app.test_client()
    assert (
        sign_in(fresh, "maker@test.example", temporary)
        .headers["Location"]
        .startswith("/account/password")
    )


def test_the_office_cannot_reset_its_own_password_here(app, client, office):
    page = _text(client.get("/admin/accounts"))
    own = page.split('data-account="admin@test.example"')[1].split("</tr>")[0]
    assert "/password" not in own and "Your account" in own
    with app.app_context():
        account_id = accounts.by_email(database.session(), "admin@test.example").id
    refused = post_form(
        client, f"/admin/accounts/{account_id}/password", {}, form_page="/admin/accounts"
    )
    assert refused.status_code == 409
    assert "Change your own password on your account page" in _text(refused)
    assert "data-password" not in _text(refused)
    assert client.get("/admin/accounts").status_code == 200  # still signed in
    assert sign_in(app.test_client(), "admin@test.example", PASSWORD).status_code == 302


def test_an_unknown_account_is_not_found(client, office):
    response = post_form(client, "/admin/accounts/99999/password", {}, form_page="/admin/accounts")
    assert response.status_code == 404
    assert "Not found" in _text(response)


def test_a_token_issued_for_an_account_is_shown_once_and_works(client, office):
    account_id = _account_id(client, "maker@test.example")
    issued = post_form(
        client,
        f"/admin/accounts/{account_id}/tokens",
        {"name": "shop till"},
        form_page="/admin/accounts",
    )
    assert issued.status_code == 201
    token = _handed(issued, "token")
    assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 200
    assert token not in _text(client.get("/admin/accounts"))


@pytest.mark.parametrize("email", ["maker@test.example", "inspector@test.example"])
def test_other_roles_get_the_forbidden_page(app, office, email):
    other = app.test_client()
    sign_in(other, email)
    for path in ("/admin/makers", "/admin/accounts"):
        refused = other.get(path)
        assert refused.status_code == 403
        assert "Not for your account" in _text(refused)
    token = csrf_token(other, "/account")
    forged = other.post("/admin/makers", data={**NEW_MAKER, "csrf_token": token})
    assert forged.status_code == 403
    assert "abakan-workshop" not in _slugs(other)


def test_signed_out_visitors_are_sent_to_sign_in(app, office):
    response = app.test_client().get("/admin/accounts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_form_without_its_csrf_token_is_refused(client, office):
    forged = client.post("/admin/makers", data=NEW_MAKER)
    assert forged.status_code == 400
    assert "The form has expired" in _text(forged)
    forged = client.post("/admin/accounts", data={"email": "x@test.example", "role": "inspector"})
    assert forged.status_code == 400
    assert "abakan-workshop" not in _slugs(client)
    assert 'data-account="x@test.example"' not in _text(client.get("/admin/accounts"))
