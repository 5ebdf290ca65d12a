"""Builders of test data: valid inputs to vary field by field, a small world of
accounts with tokens, and what the authorization matrices of the API and the portals
share (tests/test_authorization.py, tests/test_portal_authorization.py)."""

import io
import itertools
import re
import socket
from dataclasses import dataclass

from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import accounts, makers, shops
from registry.edge import database
from registry.models import Event

_counter = itertools.count(1)


def maker_data(**overrides) -> dict:
    n = next(_counter)
    data = {
        "slug": f"maker-{n}",
        "name_ru": f"Мастерская {n}",
        "name_en": f"Workshop {n}",
        "region": "RU-KYA",
        "city": "Красноярск",
        "mark": f"KR{n:03d}",
    }
    data.update(overrides)
    return data


def piece_data(**overrides) -> dict:
    data = {
        "reference": f"REF-{next(_counter)}",
        "kind": "ring",
        "title": "Кольцо «Енисей»",
        "description": "Ring with three diamonds",
        "metal": "gold",
        "fineness": 585,
        "weight_g": 3.42,
        "stones": [{"type": "diamond", "count": 3, "carat": 0.15}],
    }
    data.update(overrides)
    return data


def assay_data(**overrides) -> dict:
    data = {
        "result": "passed",
        "metal": "gold",
        "fineness": 585,
        "assay_mark": "585-KRS-2026",
        "inspectorate": "East Siberian State Inspectorate of Assay Supervision",
    }
    data.update(overrides)
    return data


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    admin: str
    maker: str
    other_maker: str
    inspector: str
    maker_slug: str
    other_maker_slug: str
    revoked: str
    shop: str = ""  # a token of world's shop's account
    shop_slug: str = ""


# The accounts that `world` creates, by the caller that uses each one, and their roles.
EMAILS = {
    "maker": "maker@test.example",
    "other-maker": "other@test.example",
    "inspector": "inspector@test.example",
    "admin": "admin@test.example",
    "shop": "shop@test.example",
}
ROLES = {
    "maker": "maker",
    "other-maker": "maker",
    "inspector": "inspector",
    "admin": "admin",
    "shop": "shop",
}


def shop_data(**overrides) -> dict:
    n = next(_counter)
    data = {
        "slug": f"shop-{n}",
        "name_ru": f"Ювелирный салон {n}",
        "name_en": f"Jewellery salon {n}",
        "kind": "retailer",
        "region": "RU-KYA",
        "city": "Красноярск",
        "address": f"проспект Мира, {n}",
    }
    data.update(overrides)
    return data


def world(session: Session) -> World:
    """Accounts of every role with a working token each, and one revoked token."""

    def account(email, role, maker=None, shop=None):
        data = {"email": email, "role": role}
        if maker:
            data["maker"] = maker.slug
        if shop:
            data["shop"] = shop.slug
        acc = accounts.create(session, data, actor=None)
        return acc, accounts.issue_token(session, acc, name="test", actor=None)[1]

    one = makers.admit(session, maker_data(), actor=None)
    two = makers.admit(session, maker_data(region="RU-TY", city="Кызыл"), actor=None)
    _, admin = account("admin@test.example", "admin")
    _, maker = account("maker@test.example", "maker", one)
    _, other = account("other@test.example", "maker", two)
    inspector_account, inspector = account("inspector@test.example", "inspector")
    revoked_token, revoked = accounts.issue_token(
        session, inspector_account, name="old", actor=None
    )
    accounts.revoke_token(session, revoked_token.id, actor=inspector_account)
    store = shops.admit(session, shop_data(), actor=None)
    _, shop = account("shop@test.example", "shop", shop=store)
    session.commit()
    return World(admin, maker, other, inspector, one.slug, two.slug, revoked, shop, store.slug)


def certify(
    client, world: World, *, assay: dict | None = None, photo: bytes | None = None, **piece
) -> tuple[int, dict]:
    """Register a piece of world.maker's through the API and pass its assay: (id, cert).

    `assay` overrides fields of the attestation; `photo` (a JPEG) is attached before it."""
    made = client.post("/api/v1/pieces", json=piece_data(**piece), headers=bearer(world.maker))
    assert made.status_code == 201, made.json
    if photo is not None:
        attached = client.put(
            f"/api/v1/pieces/{made.json['id']}/photo",
            data=photo,
            headers={**bearer(world.maker), "Content-Type": "image/jpeg"},
        )
        assert attached.status_code in (200, 201), attached.json
    attested = client.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json=assay_data(metal=made.json["metal"], fineness=made.json["fineness"], **(assay or {})),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    return made.json["id"], attested.json["certificate"]


PASSWORD = "birch-taiga-river-7"  # noqa: S105 - the test accounts' password


def with_passwords(session: Session, *emails: str) -> None:
    """Give the accounts of `emails` the test password, as if each had chosen it."""
    for email in emails:
        account = accounts.by_email(session, email)
        accounts.set_password(session, account, PASSWORD, actor=account)
    session.commit()


def csrf_token(client, path: str, **kwargs) -> str:
    """The CSRF token of the form on the page at `path`, as a browser would send it."""
    page = client.get(path, **kwargs)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, f"no form with a CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    """Sign in through the portal's form, as a person does."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, path: str, data: dict, *, form_page: str | None = None, **kwargs):
    """Post a portal form with the CSRF token taken from its page (`form_page`, or `path`)."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


# The portals' blueprints: their pages take a signed-in session, not a token.
PORTALS = ("account", "maker", "inspector", "admin", "shop", "owner")
_PARAMETER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")  # <int:piece_id> -> {piece_id}


def routes(app: Flask, *, portals: bool) -> set[tuple[str, str]]:
    """(method, path) of every route of the portals, or of everything else, each path
    written as in the OpenAPI document ({name} for a parameter). Flask's own HEAD and
    OPTIONS are left out: a matrix lists the routes the registry wrote."""
    return {
        (method, _PARAMETER.sub(r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if (rule.endpoint.partition(".")[0] in PORTALS) == portals
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def events(app: Flask) -> int:
    """How many events the ledger holds: a refused write must leave it as it was."""
    with app.app_context():
        return database.session().scalar(select(func.count()).select_from(Event))


def jpeg() -> bytes:
    """A small photo, as an upload sends it."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "goldenrod").save(out, "JPEG")
    return out.getvalue()


class Fresh:
    """Fresh objects for one request, made through the services and committed; each
    matrix adds the objects its requests need."""

    def __init__(self, app: Flask):
        self.app = app

    def _account(self, session: Session, caller: str):
        return accounts.by_email(session, EMAILS[caller])

    def token_id(self, caller: str) -> int:
        """A new token of `caller`'s account (not the one the caller sends)."""
        with self.app.app_context():
            session = database.session()
            account = self._account(session, caller)
            token, _ = accounts.issue_token(session, account, name="spare", actor=account)
            session.commit()
            return token.id

    def stopped_account(self, *, deactivated: bool) -> int:
        """A new inspector's account for the brand office to stop or restart: deactivated
        already, or not."""
        with self.app.app_context():
            session = database.session()
            email = f"stop-{next(_counter)}@test.example"
            account = accounts.create(session, {"email": email, "role": "inspector"}, actor=None)
            if deactivated:
                accounts.deactivate(session, account, actor=None)
            session.commit()
            return account.id

    def new_maker(self, *, suspended: bool = False) -> str:
        """A new maker's slug, for the brand office to change, suspend or reinstate."""
        with self.app.app_context():
            session = database.session()
            maker = makers.admit(session, maker_data(), actor=None)
            if suspended:
                makers.suspend(session, maker, "checking", actor=None)
            session.commit()
            return maker.slug

    def session_id(self, caller: str) -> int:
        """A new portal session of `caller`'s account, as if signed in in another browser."""
        with self.app.app_context():
            session = database.session()
            account = self._account(session, caller)
            row, _ = accounts.start_session(
                session, account, hours=1, client="192.0.2.9", user_agent="Firefox/140"
            )
            session.commit()
            return row.id


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
