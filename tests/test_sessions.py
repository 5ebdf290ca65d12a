"""Portal sessions kept in the database: signing out, ending a session from the account
page, a password change, and expiry end them for every copy of the cookie."""

import re

import pytest

from registry.edge import database
from tests.factories import PASSWORD, bearer, post_form, sign_in, with_passwords

COOKIE = "registry_session"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def people(app, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example", "inspector@test.example")
    return world


def _copy_cookie(app, client):
    """Another browser holding a copy of `client`'s session cookie (a thief's)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _new_token(client, name: str) -> str:
    made = post_form(client, "/account/tokens", {"name": name}, form_page="/account")
    assert made.status_code == 201
    return re.search(r"data-token>([^<]+)<", made.get_data(as_text=True)).group(1)


def test_a_copied_cookie_opens_nothing_after_sign_out(app, client, people):
    sign_in(client, "maker@test.example")
    thief = _copy_cookie(app, client)
    assert thief.get("/maker/").status_code == 200  # the copy works while signed in
    assert post_form(client, "/logout", {}, form_page="/account").status_code == 302
    assert thief.get("/maker/").status_code == 302
    assert thief.get("/account").headers["Location"].startswith("/login")
    # Nor can it mint a token: it has no session to take a form's token from.
    minted = thief.post("/account/tokens", data={"name": "thief"})
    assert minted.status_code in (302, 400)
    assert "data-token" not in minted.get_data(as_text=True)


def test_a_password_change_ends_other_sessions_and_revokes_tokens_made_in_the_portal(
    app, client, people
):
    laptop = app.test_client()
    sign_in(laptop, "maker@test.example")
    sign_in(client, "maker@test.example")
    thief = _copy_cookie(app, laptop)
    stolen = _new_token(thief, "minted with a copied cookie")
    own = _new_token(client, "shop till")
    for token in (stolen, own, people.maker):
        assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 200

    form = client.get("/account/password").get_data(as_text=True)
    warning = "signs out every other browser signed in to your account, and revokes every API"
    assert warning in form
    assert form.index(warning) < form.index('<button type="submit">')

    changed = post_form(
        client,
        "/account/password",
        {"current": PASSWORD, "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"},
    )
    assert changed.status_code == 302
    page = client.get(changed.headers["Location"]).get_data(as_text=True)
    assert "Every other session is ended, and 2 API tokens made in the portal are revoked." in page

    assert client.get("/maker/").status_code == 200  # this session goes on
    assert laptop.get("/maker/").status_code == 302
    assert thief.get("/maker/").status_code == 302
    for token in (stolen, own):
        assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 401
    # A token the brand office made (through the API or the command line) stays.
    assert client.get("/api/v1/pieces", headers=bearer(people.maker)).status_code == 200


def test_the_account_page_lists_sessions_and_ends_one(app, client, people):
    phone, script = app.test_client(), app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX
    phone.environ_base["HTTP_USER_AGENT"] = PHONE
    script.environ_base["HTTP_USER_AGENT"] = "curl/8.5.0"
    sign_in(phone, "maker@test.example")
    sign_in(script, "maker@test.example")
    sign_in(client, "maker@test.example")
    sign_in(app.test_client(), "inspector@test.example")  # someone else's: not listed

    page = client.get("/account").get_data(as_text=True)
    listed = page.split('id="sessions"')[1].split("</section>")[0].split("<tbody>")[1]
    rows = re.findall(r"<tr(?: data-current)?>.*?</tr>", listed, re.S)
    assert len(rows) == 3  # the phone, the script and this browser
    current = [row for row in rows if row.startswith("<tr data-current>")]
    assert len(current) == 1
    assert "Firefox, Windows" in current[0] and "(this session)" in current[0]
    assert any("Chrome, Android" in row for row in rows)
    assert any("curl/8.5.0" in row for row in rows)

    phone_row = next(row for row in rows if "Chrome, Android" in row)
    end = re.search(r'action="(/account/sessions/\d+/end)"', phone_row).group(1)
    ended = post_form(client, end, {}, form_page="/account")
    assert ended.status_code == 302
    assert "that browser is signed out" in client.get("/account").get_data(as_text=True)
    assert phone.get("/maker/").status_code == 302
    assert client.get("/maker/").status_code == 200
    listed = client.get("/account").get_data(as_text=True).split('id="sessions"')[1]
    assert "Chrome, Android" not in listed.split("</section>")[0]


def test_ending_ones_own_session_signs_out(client, people):
    sign_in(client, "maker@test.example")
    page = client.get("/account").get_data(as_text=True)
    end = re.search(r'<tr data-current>.*?action="(/account/sessions/\d+/end)"', page, re.S)
    response = post_form(client, end.group(1), {}, form_page="/account")
    assert response.headers["Location"] == "/login"
    assert client.get("/maker/").status_code == 302


def test_someone_elses_session_cannot_be_ended(app, client, people):
    other = app.test_client()
    sign_in(other, "inspector@test.example")
    theirs = re.search(
        r"/account/sessions/(\d+)/end", other.get("/account").get_data(as_text=True)
    ).group(1)
    sign_in(client, "maker@test.example")
    refused = post_form(client, f"/account/sessions/{theirs}/end", {}, form_page="/account")
    assert refused.status_code == 404
    assert other.get("/inspector/").status_code == 200


def test_a_session_expires_after_its_hours(app, client, people, sql):
    sign_in(client, "maker@test.example")
    assert client.get("/maker/").status_code == 200
    sql("UPDATE portal_session SET expires_at = created_at")
    assert client.get("/maker/").status_code == 302


def test_the_database_holds_no_session_id(app, client, people, sql):
    """A copy of the database (a backup) opens no session: only a hash of the id is kept."""
    sign_in(client, "maker@test.example")
    cookie = client.get_cookie(COOKIE).value
    stored = sql("SELECT secret_hash FROM portal_session").scalars().all()
    assert len(stored) == 1 and len(stored[0]) == 64
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        secret = serializer.loads(cookie)["sid"]
    assert secret not in stored[0] and stored[0] != secret


def test_a_cookie_signed_before_sessions_were_kept_opens_nothing(app, client, people):
    """A cookie of the old kind (an account id, signed with the same key) no longer opens
    a session: only a session row does."""
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        forged = serializer.dumps({"account": 2, "stamp": "x", "_permanent": True})
    client.set_cookie(COOKIE, forged)
    assert client.get("/maker/").status_code == 302
