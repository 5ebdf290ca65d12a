"""Signing in to the portals: passwords, sessions, CSRF, rate limits, one's own tokens."""

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from registry import accounts, cli, create_app
from registry.edge import database
from registry.models import Account
from tests.factories import PASSWORD, bearer, csrf_token, post_form, sign_in, with_passwords


@pytest.fixture
def people(app, world):
    with app.app_context():
        with_passwords(
            database.session(), "maker@test.example", "inspector@test.example", "admin@test.example"
        )
    return world


def test_a_maker_signs_in_and_lands_on_their_pieces(client, people):
    response = sign_in(client, "Maker@Test.Example ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/maker/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain HTTP here
    assert client.get("/maker/").status_code == 200


def test_the_session_cookie_is_secure_over_https(client, people):
    token = csrf_token(client, "/login", base_url="https://registry.test")
    response = client.post(
        "/login",
        data={"email": "maker@test.example", "password": PASSWORD, "csrf_token": token},
        base_url="https://registry.test",
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_session_cookie_bears_the_registrys_own_name(app, client, people):
    """Not Flask's generic `session`, which another application on the same host would
    read, overwrite or clear (cookies are kept per host, whatever the port)."""
    response = sign_in(client, "maker@test.example")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert [cookie.partition("=")[0] for cookie in cookies] == ["registry_session"]
    assert client.get_cookie("registry_session") is not None
    assert client.get("/maker/").status_code == 200


def test_the_session_cookies_name_is_a_setting(database_url, tmp_path, people):
    renamed = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "SESSION_COOKIE_NAME": "registry_kk",
        }
    )
    try:
        response = sign_in(renamed.test_client(), "maker@test.example")
        assert response.headers["Set-Cookie"].startswith("registry_kk=")
    finally:
        renamed.extensions["registry.engine"].dispose()


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, people):
    wrong = sign_in(client, "maker@test.example", "not-the-password")
    unknown = sign_in(client, "nobody@test.example", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    assert client.get("/maker/").status_code == 302


def test_pages_need_a_sign_in_and_the_right_role(client, people):
    response = client.get("/maker/?status=certified")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/maker/?status%3Dcertified"
    sign_in(client, "inspector@test.example")
    refused = client.get("/maker/")
    assert refused.status_code == 403
    assert "Not for your account" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"


def test_after_sign_in_the_page_asked_for_opens_but_never_another_site(client, people):
    token = csrf_token(client, "/login")
    form = {"email": "maker@test.example", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login?next=/account", data=form).headers["Location"] == "/account"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    token = csrf_token(client, "/login")
    form["csrf_token"] = token
    away = client.post("/login?next=//evil.example/x", data=form)
    assert away.headers["Location"] == "/maker/"


# As typed into the address bar, percent-encoded: each names another site once a browser
# has dropped the tab or newline, turned the backslash into a slash, or decoded it again.
ELSEWHERE = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "%09//evil.example",
    "/%5Cevil.example",
    "/%09%5Cevil.example",
    "/%252F%252Fevil.example",
    "/%25%30%39/evil.example",
    "/%E2%80%8B/evil.example",
    "/%00/evil.example",
    "%20/evil.example",
    "https://evil.example/",
    "https:/evil.example",
    "//evil.example",
    "",
]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_next_address_naming_another_site_goes_home_instead(client, people, target):
    token = csrf_token(client, "/login")
    form = {"email": "maker@test.example", "password": PASSWORD, "csrf_token": token}
    signed_in = client.post(f"/login?next={target}", data=form)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/maker/"
    again = client.get(f"/login?next={target}")  # already signed in: sent on at once
    assert again.status_code == 302
    assert again.headers["Location"] == "/maker/"


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/account", "/account"),
        ("/maker/%3Fstatus%3Dcertified", "/maker/?status=certified"),
        ("/maker/pieces/7", "/maker/pieces/7"),
    ],
)
def test_a_next_address_on_this_site_is_followed(client, people, target, location):
    sign_in(client, "maker@test.example")
    response = client.get(f"/login?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_a_form_without_its_csrf_token_is_refused(client, people):
    refused = client.post("/login", data={"email": "maker@test.example", "password": PASSWORD})
    assert refused.status_code == 400
    assert "The form has expired" in refused.get_data(as_text=True)
    sign_in(client, "maker@test.example")
    forged = client.post("/account/tokens", data={"name": "from another site"})
    assert forged.status_code == 400
    page = client.get("/account").get_data(as_text=True)
    assert "from another site" not in page


def test_repeated_wrong_passwords_are_rate_limited_per_account(client, people):
    for _ in range(10):
        assert sign_in(client, "maker@test.example", "guess-guess").status_code == 422
    refused = sign_in(client, "maker@test.example", PASSWORD)  # even the right one, now
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # Another account from the same client is not locked out by these.
    assert sign_in(client, "inspector@test.example").status_code == 302


def test_repeated_wrong_passwords_are_rate_limited_per_client(app, client, people):
    app.config["LOGIN_RATE_LIMIT_CLIENT"] = "5 per 15 minutes"
    for n in range(5):
        sign_in(client, f"someone{n}@test.example", "guess-guess")
    assert sign_in(client, "maker@test.example", PASSWORD).status_code == 429
    other = app.test_client()
    token = csrf_token(other, "/login")
    response = other.post(
        "/login",
        data={"email": "maker@test.example", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 302


def test_a_password_set_by_the_office_must_be_changed_first(app, client, people):
    with app.app_context():
        session = database.session()
        admin = accounts.by_email(session, "admin@test.example")
        account = accounts.by_email(session, "other@test.example")
        accounts.set_password(session, account, "office-set-123", actor=admin)
        session.commit()
    response = sign_in(client, "other@test.example", "office-set-123")
    assert response.headers["Location"].startswith("/account/password")
    assert client.get("/maker/").headers["Location"].startswith("/account/password")
    same = post_form(
        client,
        "/account/password",
        {"current": "office-set-123", "new": "office-set-123", "repeat": "office-set-123"},
    )
    assert same.status_code == 422
    short = post_form(
        client, "/account/password", {"current": "office-set-123", "new": "short", "repeat": "x"}
    )
    assert short.status_code == 422
    assert "Length must be between 10 and 1024." in short.get_data(as_text=True)
    mismatch = post_form(
        client,
        "/account/password",
        {"current": "office-set-123", "new": "long-enough-1", "repeat": "long-enough-2"},
    )
    assert "Does not match the new password." in mismatch.get_data(as_text=True)
    changed = post_form(
        client,
        "/account/password",
        {"current": "office-set-123", "new": "my-own-larch-22", "repeat": "my-own-larch-22"},
    )
    assert changed.status_code == 302
    assert client.get("/maker/").status_code == 200


def test_a_new_password_ends_the_other_sessions(app, client, people):
    elsewhere = app.test_client()
    sign_in(elsewhere, "maker@test.example")
    sign_in(client, "maker@test.example")
    post_form(
        client,
        "/account/password",
        {"current": PASSWORD, "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"},
    )
    assert client.get("/maker/").status_code == 200
    assert elsewhere.get("/maker/").status_code == 302


def test_guesses_at_the_current_password_are_counted_with_failed_sign_ins(app, client, people):
    """Someone holding a signed-in session (a borrowed laptop, a copied cookie) gets no
    more guesses at the password than at the sign-in form: they are one count."""
    sign_in(client, "maker@test.example")
    guess = {"current": "guess-guess-1", "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"}
    for _ in range(10):
        wrong = post_form(client, "/account/password", guess)
        assert wrong.status_code == 422
        assert "Wrong password." in wrong.get_data(as_text=True)
    right = {"current": PASSWORD, "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"}
    refused = post_form(client, "/account/password", right)  # even the right one, now
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many wrong passwords" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"
    # The password did not change, and this client cannot try it at the sign-in form
    # either.
    with app.app_context():
        account = accounts.by_email(database.session(), "maker@test.example")
        assert accounts.sign_in(database.session(), account.email, PASSWORD) is not None
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "maker@test.example").status_code == 429
    inspector = app.test_client()
    sign_in(inspector, "inspector@test.example")
    changed = post_form(
        inspector,
        "/account/password",
        {"current": PASSWORD, "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"},
    )
    assert changed.status_code == 302


def test_a_refused_new_password_is_not_counted_as_a_guess(client, people):
    sign_in(client, "maker@test.example")
    for _ in range(12):
        short = post_form(client, "/account/password", {"current": PASSWORD, "new": "x"})
        assert short.status_code == 422
    right = {"current": PASSWORD, "new": "fresh-cedar-pine", "repeat": "fresh-cedar-pine"}
    assert post_form(client, "/account/password", right).status_code == 302


def test_sign_out_ends_the_session(client, people):
    sign_in(client, "maker@test.example")
    response = post_form(client, "/logout", {}, form_page="/account")
    assert response.status_code == 302
    assert client.get("/maker/").status_code == 302


def test_own_tokens_are_shown_once_work_and_can_be_revoked(client, people):
    sign_in(client, "maker@test.example")
    made = post_form(client, "/account/tokens", {"name": "shop till"}, form_page="/account")
    assert made.status_code == 201
    secret = re.search(r"<code class=\"secret\" data-token>([^<]+)<", made.get_data(as_text=True))
    assert secret, "the new token is shown"
    token = secret.group(1)
    assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 200
    page = client.get("/account").get_data(as_text=True)
    assert "shop till" in page and token not in page
    token_id = re.search(r"/account/tokens/(\d+)/revoke", page.split("shop till")[1]).group(1)
    post_form(client, f"/account/tokens/{token_id}/revoke", {}, form_page="/account")
    assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 401


def test_someone_elses_token_cannot_be_revoked(app, client, people):
    with app.app_context():
        session = database.session()
        inspector = accounts.by_email(session, "inspector@test.example")
        theirs = accounts.tokens_of(session, inspector)[0].id
    sign_in(client, "maker@test.example")
    response = post_form(client, f"/account/tokens/{theirs}/revoke", {}, form_page="/account")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_a_password_planted_in_the_database_is_named_by_log_verify(app, env, people):

    with app.app_context():
        session = database.session()
        session.execute(
            update(Account)
            .where(Account.email == "inspector@test.example")
            .values(password_hash=accounts.HASHER.hash("back-door-pass"))
        )
        session.commit()
    result = CliRunner().invoke(cli.main, ["log", "verify"], env=env)
    assert result.exit_code == 1
    assert "password is not the one last set" in result.output
