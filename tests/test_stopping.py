"""The brand office stops accounts and makers, and keeps makers' public details (issue 14,
item 19): through the admin API, the portal and the CLI, each step in the log, and each
held to the log by `registry log verify`."""

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from registry import cli
from registry.edge import database
from registry.models import Event
from tests.factories import (
    PASSWORD,
    bearer,
    certify,
    csrf_token,
    piece_data,
    post_form,
    sign_in,
    with_passwords,
)


def _account_id(client, world, email: str) -> int:
    items = client.get("/api/v1/accounts", headers=bearer(world.admin)).json["items"]
    return next(a["id"] for a in items if a["email"] == email)


def _entries(app, action: str) -> list[dict]:
    with app.app_context():
        rows = database.session().scalars(select(Event.entry).where(Event.action == action))
        return [json.loads(row) for row in rows]


@pytest.fixture
def verify(env):
    def run(*args):
        return CliRunner().invoke(cli.main, ["log", "verify", *args], env=env)

    return run


# Accounts.


def test_a_deactivated_account_loses_its_tokens_and_sessions_and_cannot_sign_in(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    browser = app.test_client()
    assert sign_in(browser, "maker@test.example").status_code == 302
    assert browser.get("/maker/").status_code == 200
    account_id = _account_id(client, world, "maker@test.example")

    done = client.post(f"/api/v1/accounts/{account_id}/deactivate", headers=bearer(world.admin))
    assert done.status_code == 200, done.json
    assert done.json["deactivated_at"]

    refused = client.get("/api/v1/pieces", headers=bearer(world.maker))
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert browser.get("/maker/").status_code == 302  # signed out: back to the sign-in page
    again = sign_in(app.test_client(), "maker@test.example")
    assert again.status_code == 403
    assert "deactivated" in again.get_data(as_text=True)
    tokens = client.get(f"/api/v1/accounts/{account_id}/tokens", headers=bearer(world.admin))
    assert all(t["revoked_at"] for t in tokens.json["items"])
    minted = client.post(
        f"/api/v1/accounts/{account_id}/tokens", json={}, headers=bearer(world.admin)
    )
    assert minted.status_code == 409

    back = client.post(f"/api/v1/accounts/{account_id}/reactivate", headers=bearer(world.admin))
    assert back.status_code == 200 and back.json["deactivated_at"] is None
    # It signs in again with its password; its old token stays revoked.
    assert sign_in(app.test_client(), "maker@test.example").status_code == 302
    assert client.get("/api/v1/pieces", headers=bearer(world.maker)).status_code == 401

    logged = _entries(app, "account:deactivated") + _entries(app, "account:reactivated")
    assert [e["actor"]["role"] for e in logged] == ["admin", "admin"]
    assert all(e["data"]["account"].startswith("hmac-sha256:") for e in logged)
    assert "maker@test.example" not in json.dumps(logged)


def test_deactivation_is_for_the_brand_office_and_never_of_oneself(client, world):
    admin_id = _account_id(client, world, "admin@test.example")
    maker_id = _account_id(client, world, "maker@test.example")
    own = client.post(f"/api/v1/accounts/{admin_id}/deactivate", headers=bearer(world.admin))
    assert own.status_code == 409
    assert "your own account" in own.json["detail"]
    by_inspector = client.post(
        f"/api/v1/accounts/{maker_id}/deactivate", headers=bearer(world.inspector)
    )
    assert by_inspector.status_code == 403
    unknown = client.post("/api/v1/accounts/99999/deactivate", headers=bearer(world.admin))
    assert unknown.status_code == 404
    not_off = client.post(f"/api/v1/accounts/{maker_id}/reactivate", headers=bearer(world.admin))
    assert not_off.status_code == 409
    assert (
        client.post(
            f"/api/v1/accounts/{maker_id}/deactivate", headers=bearer(world.admin)
        ).status_code
        == 200
    )
    twice = client.post(f"/api/v1/accounts/{maker_id}/deactivate", headers=bearer(world.admin))
    assert twice.status_code == 409


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_office_deactivates_and_reactivates_an_account_in_the_portal(app, client, lang):
    from registry.edge import database as db

    with app.app_context():
        from tests import factories

        factories.world(db.session())
        with_passwords(db.session(), "admin@test.example", "inspector@test.example")
    inspector = app.test_client()
    assert sign_in(inspector, "inspector@test.example").status_code == 302
    assert sign_in(client, "admin@test.example").status_code == 302
    page = client.get(f"/admin/accounts?lang={lang}").get_data(as_text=True)
    row = page.split('data-account="inspector@test.example"')[1].split("</tr>")[0]
    action = re.search(r'action="(/admin/accounts/\d+/deactivate)"', row).group(1)
    assert ("Деактивировать" if lang == "ru" else "Deactivate") in row

    done = post_form(client, action, {}, form_page="/admin/accounts")
    assert done.status_code == 302
    page = client.get("/admin/accounts").get_data(as_text=True)
    row = page.split('data-account="inspector@test.example"')[1].split("</tr>")[0]
    assert "data-deactivated" in row
    assert ("деактивирована" if lang == "ru" else "is deactivated") in page
    assert inspector.get("/inspector/").status_code == 302

    reactivate = re.search(r'action="(/admin/accounts/\d+/reactivate)"', row).group(1)
    assert post_form(client, reactivate, {}, form_page="/admin/accounts").status_code == 302
    row = (
        client.get("/admin/accounts")
        .get_data(as_text=True)
        .split('data-account="inspector@test.example"')[1]
        .split("</tr>")[0]
    )
    assert "data-deactivated" not in row
    assert sign_in(app.test_client(), "inspector@test.example").status_code == 302


# Makers.


def test_a_suspended_maker_registers_and_sells_nothing_and_leaves_the_showcase(app, client, world):
    _, certificate = certify(client, world)
    slug = world.maker_slug
    suspended = client.post(
        f"/api/v1/makers/{slug}/suspend",
        json={"reason": "Mark under investigation"},
        headers=bearer(world.admin),
    )
    assert suspended.status_code == 200, suspended.json
    assert suspended.json["suspended_at"]

    registered = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert registered.status_code == 409
    assert "suspended" in registered.json["detail"]
    imported = client.post(
        "/api/v1/pieces/import", json=[piece_data()], headers=bearer(world.maker)
    )
    assert imported.status_code == 409
    sold = client.post(
        f"/api/v1/certificates/{certificate['code']}/sale", json={}, headers=bearer(world.shop)
    )
    assert sold.status_code == 409
    assert "suspended" in sold.json["detail"]
    # The buyer's piece did not change: its certificate keeps its verdict.
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"
    assert slug not in [m["slug"] for m in client.get("/api/v1/makers").json["items"]]
    assert client.get(f"/api/v1/makers/{slug}").status_code == 404
    assert client.get(f"/makers/{slug}").status_code == 404
    assert f"/makers/{slug}" not in client.get("/makers").get_data(as_text=True)
    # The reason stays private: the log holds its commitment.
    (entry,) = _entries(app, "maker:suspended")
    assert entry["maker"] == slug
    assert "investigation" not in json.dumps(entry)

    reinstated = client.post(f"/api/v1/makers/{slug}/reinstate", headers=bearer(world.admin))
    assert reinstated.status_code == 200 and reinstated.json["suspended_at"] is None
    assert (
        client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).status_code
        == 201
    )
    assert client.get(f"/makers/{slug}").status_code == 200
    assert len(_entries(app, "maker:reinstated")) == 1


def test_suspension_needs_a_reason_and_the_brand_office(client, world):
    slug = world.maker_slug
    bare = client.post(f"/api/v1/makers/{slug}/suspend", json={}, headers=bearer(world.admin))
    assert bare.status_code == 422
    assert "reason" in bare.json["errors"]
    by_maker = client.post(
        f"/api/v1/makers/{slug}/suspend", json={"reason": "x"}, headers=bearer(world.maker)
    )
    assert by_maker.status_code == 403
    unknown = client.post(
        "/api/v1/makers/no-such-maker/suspend", json={"reason": "x"}, headers=bearer(world.admin)
    )
    assert unknown.status_code == 404
    not_suspended = client.post(f"/api/v1/makers/{slug}/reinstate", headers=bearer(world.admin))
    assert not_suspended.status_code == 409


def test_the_office_sets_a_makers_contacts_for_the_showcase(app, client, world):
    slug = world.maker_slug
    changed = client.patch(
        f"/api/v1/makers/{slug}",
        json={
            "phone": "+7 391 200-00-00",
            "email": "shop@workshop.example",
            "website": "https://workshop.example/catalogue",
            "name_en": "Yenisey Silver Works",
        },
        headers=bearer(world.admin),
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["contacts"]["website"] == "https://workshop.example/catalogue"
    assert changed.json["name"]["en"] == "Yenisey Silver Works"
    page = client.get(f"/makers/{slug}?lang=en").get_data(as_text=True)
    assert 'href="tel:+7391200-00-00"' in page
    assert 'href="mailto:shop@workshop.example"' in page
    assert 'href="https://workshop.example/catalogue"' in page
    assert "Yenisey Silver Works" in page
    (entry,) = _entries(app, "maker:updated")
    assert entry["data"]["contacts"]["phone"] == "+7 391 200-00-00"

    removed = client.patch(
        f"/api/v1/makers/{slug}", json={"website": None}, headers=bearer(world.admin)
    )
    assert removed.json["contacts"] == {
        "phone": "+7 391 200-00-00",
        "email": "shop@workshop.example",
        "website": None,
    }
    assert "workshop.example/catalogue" not in client.get(f"/makers/{slug}").get_data(as_text=True)
    # Saving the same details again changes nothing and logs nothing.
    client.patch(f"/api/v1/makers/{slug}", json={"website": None}, headers=bearer(world.admin))
    assert len(_entries(app, "maker:updated")) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("website", "javascript:alert(1)"),
        ("website", "ftp://workshop.example"),
        ("phone", "call me"),
        ("email", "not-an-address"),
        ("name_ru", ""),
        ("region", "RU-KYA"),
        ("mark", "NEW1"),
    ],
)
def test_bad_or_unchangeable_details_are_refused_naming_the_field(client, world, field, value):
    before = client.get(f"/api/v1/makers/{world.maker_slug}").json
    refused = client.patch(
        f"/api/v1/makers/{world.maker_slug}", json={field: value}, headers=bearer(world.admin)
    )
    assert refused.status_code == 422
    assert field in refused.json["errors"]
    assert client.get(f"/api/v1/makers/{world.maker_slug}").json == before


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_office_edits_and_suspends_a_maker_in_the_portal(app, client, world, lang):
    with app.app_context():
        with_passwords(database.session(), "admin@test.example", "maker@test.example")
    assert sign_in(client, "admin@test.example").status_code == 302
    slug = world.maker_slug
    listing = client.get(f"/admin/makers?lang={lang}").get_data(as_text=True)
    assert f'href="/admin/makers/{slug}"' in listing
    page = client.get(f"/admin/makers/{slug}")
    assert page.status_code == 200

    values = {"name_ru": "Мастерская «Енисей»", "name_en": "Yenisey Workshop", "city": "Красноярск"}
    bad = post_form(client, f"/admin/makers/{slug}", {**values, "website": "javascript:x"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "data-error-summary" in text and 'aria-invalid="true"' in text
    assert 'value="Мастерская «Енисей»"' in text  # nothing typed is lost
    saved = post_form(
        client, f"/admin/makers/{slug}", {**values, "website": "https://yenisey.example"}
    )
    assert saved.status_code == 302
    assert 'href="https://yenisey.example"' in client.get(f"/makers/{slug}").get_data(as_text=True)

    unexplained = post_form(
        client, f"/admin/makers/{slug}/suspend", {"reason": ""}, form_page=f"/admin/makers/{slug}"
    )
    assert unexplained.status_code == 422
    suspended = post_form(
        client,
        f"/admin/makers/{slug}/suspend",
        {"reason": "Проверка клейма"},
        form_page=f"/admin/makers/{slug}",
    )
    assert suspended.status_code == 302
    page = client.get(f"/admin/makers/{slug}").get_data(as_text=True)
    assert 'data-maker-status="suspended"' in page and "Проверка клейма" in page
    assert "data-suspended" in client.get("/admin/makers").get_data(as_text=True)

    maker = app.test_client()
    assert sign_in(maker, "maker@test.example").status_code == 302
    dashboard = maker.get(f"/maker/?lang={lang}").get_data(as_text=True)
    assert "data-maker-suspended" in dashboard
    assert ("приостановил" if lang == "ru" else "has suspended your workshop") in dashboard

    reinstated = post_form(
        client, f"/admin/makers/{slug}/reinstate", {}, form_page=f"/admin/makers/{slug}"
    )
    assert reinstated.status_code == 302
    assert "data-maker-suspended" not in maker.get("/maker/").get_data(as_text=True)


def test_the_cli_suspends_and_deactivates(app, env, world):
    runner = CliRunner()
    off = runner.invoke(
        cli.main, ["makers", "suspend", world.maker_slug, "--reason", "Audit"], env=env
    )
    assert off.exit_code == 0, off.output
    again = runner.invoke(
        cli.main, ["makers", "suspend", world.maker_slug, "--reason", "Audit"], env=env
    )
    assert again.exit_code != 0 and "already suspended" in again.output
    assert (
        runner.invoke(cli.main, ["makers", "reinstate", world.maker_slug], env=env).exit_code == 0
    )
    gone = runner.invoke(
        cli.main, ["accounts", "deactivate", "--email", "shop@test.example"], env=env
    )
    assert gone.exit_code == 0, gone.output
    assert "1 token(s) revoked" in gone.output
    back = runner.invoke(
        cli.main, ["accounts", "reactivate", "--email", "shop@test.example"], env=env
    )
    assert back.exit_code == 0, back.output


# Held to the log.


@pytest.fixture
def stopped(client, world):
    """A history with every step of item 19 in it, through the API."""
    admin = bearer(world.admin)
    maker_id = _account_id(client, world, "other@test.example")
    assert (
        client.patch(
            f"/api/v1/makers/{world.maker_slug}", json={"phone": "+7 391 2000000"}, headers=admin
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/makers/{world.other_maker_slug}/suspend", json={"reason": "r"}, headers=admin
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/accounts/{maker_id}/deactivate", headers=admin).status_code == 200
    return maker_id


def test_an_untouched_history_of_stops_verifies(stopped, verify):
    result = verify()
    assert result.exit_code == 0, result.output


def test_a_suspension_lifted_by_hand_is_named(stopped, world, verify, sql):
    sql("UPDATE maker SET suspended_at = NULL WHERE slug = :s", s=world.other_maker_slug)
    result = verify()
    assert result.exit_code != 0
    assert f"maker {world.other_maker_slug} is not suspended in the database" in result.output


def test_a_suspension_set_by_hand_is_named(stopped, world, verify, sql):
    sql(
        "UPDATE maker SET suspended_at = CURRENT_TIMESTAMP, suspension_reason = 'x'"
        " WHERE slug = :s",
        s=world.maker_slug,
    )
    result = verify()
    assert result.exit_code != 0
    assert f"maker {world.maker_slug} is suspended in the database" in result.output


def test_a_reactivation_by_hand_is_named(stopped, verify, sql):
    sql("UPDATE account SET deactivated_at = NULL WHERE id = :i", i=stopped)
    result = verify()
    assert result.exit_code != 0
    assert f"account {stopped}'s last activation in the log is not its state" in result.output


def test_contacts_changed_by_hand_are_named(stopped, world, verify, sql):
    sql("UPDATE maker SET website = 'https://phishing.example' WHERE slug = :s", s=world.maker_slug)
    result = verify()
    assert result.exit_code != 0
    assert f"maker {world.maker_slug} was altered" in result.output


def test_a_changed_reason_is_named(stopped, world, verify, sql):
    sql("UPDATE maker SET suspension_reason = 'other' WHERE slug = :s", s=world.other_maker_slug)
    result = verify()
    assert result.exit_code != 0
    assert f"maker {world.other_maker_slug}'s suspension was altered" in result.output


def test_the_password_of_a_deactivated_account_is_not_told_to_strangers(app, client, world):
    """A wrong password for a deactivated account reads as any wrong password."""
    maker_id = _account_id(client, world, "maker@test.example")
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    client.post(f"/api/v1/accounts/{maker_id}/deactivate", headers=bearer(world.admin))
    stranger = app.test_client()
    token = csrf_token(stranger, "/login")
    wrong = stranger.post(
        "/login",
        data={"email": "maker@test.example", "password": PASSWORD + "x", "csrf_token": token},
    )
    assert "deactivated" not in wrong.get_data(as_text=True)
