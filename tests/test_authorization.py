"""Who may call what: every endpoint of the API against every kind of caller.

The endpoints are read from the app (its URL map and its OpenAPI document), so an
endpoint that ENDPOINTS does not list fails `test_matrix_covers_every_route`: give it
its roles here when you add it (Flask's own HEAD and OPTIONS are left out). Every
request is otherwise valid, so its status says only whether the caller was let in.
"""

import itertools
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from registry import accounts, assays, ownership, photos, pieces, reports, sales
from registry.edge import database, signing
from schemas.assays import AssayIn
from schemas.pieces import PieceIn
from tests.factories import (
    EMAILS,
    ROLES,
    Fresh,
    World,
    assay_data,
    bearer,
    csrf_token,
    events,
    jpeg,
    maker_data,
    piece_data,
    routes,
    shop_data,
)

UNAUTHENTICATED = ("anonymous", "malformed", "wrong-scheme", "unknown", "revoked")
CALLERS = UNAUTHENTICATED + tuple(ROLES)

# Served by Flask or flask-smorest, not by a registry view: public, not in the matrix.
FRAMEWORK_ROUTES = {("GET", "/static/{filename}")}

_numbers = itertools.count(1)


def _authorization(world: World, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "malformed":
        return {"Authorization": "Bearer nonsense"}
    if caller == "wrong-scheme":
        # A working admin secret, sent under a scheme other than Bearer.
        return {"Authorization": f"Token {world.admin}"}
    if caller == "unknown":
        # Shaped like a token, never issued.
        return bearer("ysr_AAAAAAAA_" + "A" * 43)
    tokens = {
        "revoked": world.revoked,
        "maker": world.maker,
        "other-maker": world.other_maker,
        "inspector": world.inspector,
        "admin": world.admin,
        "shop": world.shop,
    }
    return bearer(tokens[caller])


class Make(Fresh):
    """Fresh pieces, certificates and tokens for the API's requests."""

    def piece(self, caller: str = "maker") -> int:
        """A new piece of `caller`'s maker, awaiting assay."""
        with self.app.app_context():
            session = database.session()
            maker = self._account(session, caller)
            piece = pieces.register(session, maker.maker, PieceIn().load(piece_data()), actor=maker)
            session.commit()
            return piece.id

    def certificate(self) -> str:
        """The code of a new, valid certificate of a piece of world.maker's."""
        piece_id = self.piece()
        with self.app.app_context():
            session = database.session()
            assay = assays.attest(
                session,
                signing.keyring(),
                piece_id,
                AssayIn().load(assay_data()),
                issuer=signing.issuer(),
                actor=self._account(session, "inspector"),
            )
            session.commit()
            return assay.certificate.code

    def account_id(self, caller: str) -> int:
        with self.app.app_context():
            return self._account(database.session(), caller).id

    def sold(self, seller: str) -> str:
        """The code of a new certificate whose piece `seller` (shop or maker) sold."""
        code = self.certificate()
        with self.app.app_context():
            session = database.session()
            sales.record(session, code, self._account(session, seller))
            session.commit()
        return code


def _sale_to_cancel(world: World, make: Make, caller: str) -> tuple[str, dict]:
    # Each seller cancels a sale of its own; the other maker aims at the maker's.
    seller = caller if caller in ("shop", "maker") else "shop"
    if caller == "other-maker":
        seller = "maker"
    return f"/api/v1/certificates/{make.sold(seller)}/sale/cancel", {}


def _sold(make: Make) -> tuple[str, str]:
    """A new certificate whose piece its maker sold: its code, and the slip's claim code."""
    code = make.certificate()
    with make.app.app_context():
        session = database.session()
        recorded = sales.record(session, code, accounts.by_email(session, EMAILS["maker"]))
        session.commit()
        return code, recorded.claim_code


def _owner_key(make: Make) -> str:
    """The owner key of a new sold piece, claimed."""
    _code, claim_code = _sold(make)
    with make.app.app_context():
        session = database.session()
        claimed = ownership.claim(session, claim_code)
        session.commit()
        return claimed.owner_key


@pytest.fixture
def make(app, world, client) -> Make:
    made = Make(app)
    made.client = client  # type: ignore[attr-defined]  # a form's CSRF token is of its session
    return made


Request = Callable[[World, Make, str], tuple[str, dict]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as in the OpenAPI document: the app's rule without converters
    roles: frozenset[str] | None  # None: public, and the Authorization header is ignored
    ok: int  # the status for a caller who is let in
    request: Request  # (world, make, caller) -> (url, test-client keywords)
    # Callers whose role may call, to whom the object is another maker's: answered as if it
    # did not exist (DESIGN.md: "404 for another maker's objects, never confirm that they
    # exist").
    hidden: frozenset[str] = frozenset()
    writes: bool = False  # an accepted write leaves events in the ledger, a refused one none

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: str) -> int:
        if self.roles is None:
            return self.ok
        if caller in UNAUTHENTICATED:
            return 401
        if ROLES[caller] not in self.roles:
            return 403
        if caller in self.hidden:
            return 404
        return self.ok


def _at(path: str, **kwargs) -> Request:
    return lambda world, make, caller: (path, kwargs)


def _own_token(world: World, make: Make, caller: str) -> tuple[str, dict]:
    # Unauthenticated callers aim at a maker's token; they are refused before it matters.
    token_id = make.token_id(caller if caller in ROLES else "maker")
    return f"/api/v1/tokens/{token_id}/revoke", {}


def _photo_upload(world: World, make: Make, caller: str) -> tuple[str, dict]:
    return f"/api/v1/pieces/{make.piece()}/photo", {
        "data": jpeg(),
        "content_type": "image/jpeg",
    }


def _photographed_piece(make: Make) -> tuple[int, str]:
    """A new piece of world.maker's with a photo; its id and the photo's SHA-256."""
    piece_id = make.piece()
    with make.app.app_context():
        session = database.session()
        maker = accounts.by_email(session, EMAILS["maker"])
        photo = photos.attach(session, piece_id, jpeg(), actor=maker)
        session.commit()
        return piece_id, photo.sha256


def _certified_photo(make: Make) -> str:
    """The SHA-256 of a certified piece's photo: public, since its certificate signs it
    (a photo not yet certified is its maker's and the inspectors': tests/test_photos.py)."""
    piece_id, sha256 = _photographed_piece(make)
    with make.app.app_context():
        session = database.session()
        assays.attest(
            session,
            signing.keyring(),
            piece_id,
            AssayIn().load(assay_data()),
            issuer=signing.issuer(),
            actor=accounts.by_email(session, EMAILS["inspector"]),
        )
        session.commit()
    return sha256


def _report_json(world: World, make: Make, caller: str) -> tuple[str, dict]:
    # Every caller sends one: above REPORT_RATE_LIMIT's default, which tests/test_reports.py holds.
    make.app.config["REPORT_RATE_LIMIT"] = "1000 per hour"
    return "/api/v1/reports", {"json": {"kind": "suspected_fake", "code": make.certificate()}}


def _report_form(world: World, make: Make, caller: str) -> tuple[str, dict]:
    make.app.config["REPORT_RATE_LIMIT"] = "1000 per hour"
    code = make.certificate()
    token = csrf_token(make.client, f"/report?code={code}")  # type: ignore[attr-defined]
    form = {"csrf_token": token, "kind": "copied_tag", "code": code, "city": "Кызыл"}
    return f"/report?code={code}", {"data": form}


def _open_report(make: Make) -> int:
    """A new open report, with a photo (reports write no log entries)."""
    with make.app.app_context():
        session = database.session()
        report = reports.submit(session, kind="other", code_text="YS-ANY", photo=jpeg())
        session.commit()
        return report.id


MAKER = frozenset({"maker"})
MAKER_OR_INSPECTOR = frozenset({"maker", "inspector"})
INSPECTOR = frozenset({"inspector"})
ADMIN = frozenset({"admin"})
INSPECTOR_OR_ADMIN = frozenset({"inspector", "admin"})
ANYONE = frozenset({"maker", "inspector", "admin", "shop"})
SHOP_OR_MAKER = frozenset({"shop", "maker"})

ENDPOINTS = [
    # Public.
    Endpoint("GET", "/api/v1/openapi.json", None, 200, _at("/api/v1/openapi.json")),
    Endpoint("GET", "/.well-known/jwks.json", None, 200, _at("/.well-known/jwks.json")),
    Endpoint("GET", "/api/v1/makers", None, 200, _at("/api/v1/makers")),
    Endpoint("GET", "/api/v1/shops", None, 200, _at("/api/v1/shops")),
    Endpoint("GET", "/api/v1/log/checkpoint", None, 200, _at("/api/v1/log/checkpoint")),
    Endpoint("GET", "/api/v1/log/entries", None, 200, _at("/api/v1/log/entries")),
    Endpoint("GET", "/log/checkpoint", None, 200, _at("/log/checkpoint")),
    Endpoint("GET", "/log/tile/{level}/{rest}", None, 200, _at("/log/tile/0/000.p/1")),
    Endpoint("GET", "/log/tile/entries/{rest}", None, 200, _at("/log/tile/entries/000.p/1")),
    Endpoint(
        "GET", "/api/v1/log/proof/inclusion", None, 200, _at("/api/v1/log/proof/inclusion?index=0")
    ),
    Endpoint(
        "GET",
        "/api/v1/log/proof/consistency",
        None,
        200,
        _at("/api/v1/log/proof/consistency?first=1&second=2"),
    ),
    Endpoint(
        "GET",
        "/api/v1/makers/{slug}",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/makers/{world.maker_slug}", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/certificates/{code}",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/certificates/{make.certificate()}", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/certificates/{code}/qr.png",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/certificates/{make.certificate()}/qr.png", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/certificates/{code}/qr.svg",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/certificates/{make.certificate()}/qr.svg", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/verify/{code}",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/verify/{make.certificate()}", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/photos/{sha256}.jpg",
        None,
        200,
        lambda world, make, caller: (f"/api/v1/photos/{_certified_photo(make)}.jpg", {}),
    ),
    Endpoint(
        "GET",
        "/api/v1/photos/{sha256}/thumb.jpg",
        None,
        200,
        lambda world, make, caller: (
            f"/api/v1/photos/{_certified_photo(make)}/thumb.jpg",
            {},
        ),
    ),
    # Buyers' reports: anyone sends one; the brand office and inspectors work through them.
    Endpoint("POST", "/api/v1/reports", None, 202, _report_json),
    Endpoint("GET", "/api/v1/reports", INSPECTOR_OR_ADMIN, 200, _at("/api/v1/reports")),
    Endpoint(
        "POST",
        "/api/v1/reports/{report_id}/handle",
        INSPECTOR_OR_ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/reports/{_open_report(make)}/handle",
            {"json": {"note": "Checked."}},
        ),
    ),
    Endpoint("GET", "/report", None, 200, _at("/report?code=YS-0000-0000-000-000")),
    Endpoint("POST", "/report", None, 201, _report_form),
    # The public pages.
    Endpoint("GET", "/", None, 200, _at("/")),
    Endpoint("GET", "/makers", None, 200, _at("/makers")),
    Endpoint(
        "GET",
        "/makers/{slug}",
        None,
        200,
        lambda world, make, caller: (f"/makers/{world.maker_slug}", {}),
    ),
    Endpoint("GET", "/verify", None, 200, _at("/verify")),
    Endpoint(
        "GET",
        "/v/{code}",
        None,
        200,
        lambda world, make, caller: (f"/v/{make.certificate()}", {}),
    ),
    Endpoint(
        "GET",
        "/v/{code}/card.pdf",
        None,
        200,
        lambda world, make, caller: (f"/v/{make.certificate()}/card.pdf", {}),
    ),
    # Makers, for their own maker.
    Endpoint(
        "POST",
        "/api/v1/pieces",
        MAKER,
        201,
        lambda world, make, caller: ("/api/v1/pieces", {"json": piece_data()}),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/pieces/import",
        MAKER,
        200,
        lambda world, make, caller: ("/api/v1/pieces/import", {"json": [piece_data()]}),
        writes=True,
    ),
    Endpoint(
        "PUT",
        "/api/v1/pieces/{piece_id}/photo",
        MAKER,
        200,
        _photo_upload,
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/pieces/{piece_id}/photo",
        MAKER,
        204,
        lambda world, make, caller: (f"/api/v1/pieces/{_photographed_piece(make)[0]}/photo", {}),
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    Endpoint(
        "PUT",
        "/api/v1/pieces/{piece_id}",
        MAKER,
        200,
        lambda world, make, caller: (f"/api/v1/pieces/{make.piece()}", {"json": piece_data()}),
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/pieces/{piece_id}/withdraw",
        MAKER,
        200,
        lambda world, make, caller: (f"/api/v1/pieces/{make.piece()}/withdraw", {}),
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    # Makers (their own pieces) and inspectors (every maker's).
    Endpoint("GET", "/api/v1/pieces", MAKER_OR_INSPECTOR, 200, _at("/api/v1/pieces")),
    Endpoint(
        "GET",
        "/api/v1/pieces/{piece_id}",
        MAKER_OR_INSPECTOR,
        200,
        lambda world, make, caller: (f"/api/v1/pieces/{make.piece()}", {}),
        hidden=frozenset({"other-maker"}),
    ),
    # Inspectors.
    Endpoint(
        "POST",
        "/api/v1/pieces/{piece_id}/assay",
        INSPECTOR,
        201,
        lambda world, make, caller: (
            f"/api/v1/pieces/{make.piece()}/assay",
            {"json": assay_data()},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/assays/batch",
        INSPECTOR,
        200,
        lambda world, make, caller: (
            "/api/v1/assays/batch",
            {"json": {"defaults": assay_data(), "pieces": [{"piece_id": make.piece()}]}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/certificates/{code}/revoke",
        INSPECTOR,
        200,
        lambda world, make, caller: (
            f"/api/v1/certificates/{make.certificate()}/revoke",
            {"json": {"reason": "data_error", "note": "The weight was misprinted."}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/certificates/{code}/reissue",
        INSPECTOR,
        201,
        lambda world, make, caller: (
            f"/api/v1/certificates/{make.certificate()}/reissue",
            {"json": {"weight_g": 3.5, "note": "Weighed again."}},
        ),
        writes=True,
    ),
    # Shops, and makers for their own pieces.
    Endpoint(
        "POST",
        "/api/v1/certificates/{code}/sale",
        SHOP_OR_MAKER,
        201,
        lambda world, make, caller: (f"/api/v1/certificates/{make.certificate()}/sale", {}),
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/certificates/{code}/sale/cancel",
        SHOP_OR_MAKER,
        200,
        _sale_to_cancel,
        hidden=frozenset({"other-maker"}),
        writes=True,
    ),
    # The brand office.
    Endpoint(
        "POST",
        "/api/v1/shops",
        ADMIN,
        201,
        lambda world, make, caller: ("/api/v1/shops", {"json": shop_data()}),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/makers",
        ADMIN,
        201,
        lambda world, make, caller: ("/api/v1/makers", {"json": maker_data()}),
        writes=True,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/makers/{slug}",
        ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/makers/{make.new_maker()}",
            {"json": {"website": "https://workshop.example"}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/makers/{slug}/suspend",
        ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/makers/{make.new_maker()}/suspend",
            {"json": {"reason": "checking"}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/makers/{slug}/reinstate",
        ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/makers/{make.new_maker(suspended=True)}/reinstate",
            {},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/accounts/{account_id}/deactivate",
        ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/accounts/{make.stopped_account(deactivated=False)}/deactivate",
            {},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/accounts/{account_id}/reactivate",
        ADMIN,
        200,
        lambda world, make, caller: (
            f"/api/v1/accounts/{make.stopped_account(deactivated=True)}/reactivate",
            {},
        ),
        writes=True,
    ),
    Endpoint("GET", "/api/v1/accounts", ADMIN, 200, _at("/api/v1/accounts")),
    Endpoint(
        "POST",
        "/api/v1/accounts",
        ADMIN,
        201,
        lambda world, make, caller: (
            "/api/v1/accounts",
            {"json": {"email": f"new-{next(_numbers)}@test.example", "role": "inspector"}},
        ),
        writes=True,
    ),
    Endpoint(
        "GET",
        "/api/v1/accounts/{account_id}/tokens",
        ADMIN,
        200,
        lambda world, make, caller: (f"/api/v1/accounts/{make.account_id('maker')}/tokens", {}),
    ),
    Endpoint(
        "POST",
        "/api/v1/accounts/{account_id}/tokens",
        ADMIN,
        201,
        lambda world, make, caller: (
            f"/api/v1/accounts/{make.account_id('maker')}/tokens",
            {"json": {"name": "workshop"}},
        ),
        writes=True,
    ),
    # Owners: public, their owner key (or the slip's claim code) in the body.
    Endpoint(
        "POST",
        "/api/v1/ownership/claim",
        None,
        201,
        lambda world, make, caller: (
            "/api/v1/ownership/claim",
            {"json": {"claim_code": _sold(make)[1]}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/ownership/report",
        None,
        200,
        lambda world, make, caller: (
            "/api/v1/ownership/report",
            {"json": {"owner_key": _owner_key(make), "kind": "stolen"}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/ownership/handover",
        None,
        201,
        lambda world, make, caller: (
            "/api/v1/ownership/handover",
            {"json": {"owner_key": _owner_key(make)}},
        ),
        writes=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/ownership/reset",
        ADMIN,
        201,
        lambda world, make, caller: (
            "/api/v1/ownership/reset",
            {"json": {"code": _sold(make)[0], "note": "The sale slip, shown at the office."}},
        ),
        writes=True,
    ),
    # The inspectors' audit.
    Endpoint("GET", "/api/v1/audit/events", INSPECTOR, 200, _at("/api/v1/audit/events")),
    Endpoint("GET", "/api/v1/audit/export.csv", INSPECTOR, 200, _at("/api/v1/audit/export.csv")),
    # The log's checkpoints on demand.
    Endpoint(
        "POST", "/api/v1/log/checkpoint", INSPECTOR_OR_ADMIN, 201, _at("/api/v1/log/checkpoint")
    ),
    # Anyone signed in, for their own tokens.
    Endpoint("GET", "/api/v1/tokens", ANYONE, 200, _at("/api/v1/tokens")),
    Endpoint(
        "POST",
        "/api/v1/tokens",
        ANYONE,
        201,
        _at("/api/v1/tokens", json={"name": "laptop"}),
        writes=True,
    ),
    Endpoint("POST", "/api/v1/tokens/{token_id}/revoke", ANYONE, 200, _own_token, writes=True),
]


def _call(app, client, world: World, make: Make, endpoint: Endpoint, caller: str) -> list[str]:
    """Make the request as `caller`; what went against the matrix, or nothing."""
    url, kwargs = endpoint.request(world, make, caller)
    before = events(app)
    response = client.open(
        url, method=endpoint.method, headers=_authorization(world, caller), **kwargs
    )
    expected = endpoint.expected(caller)
    wrong = []
    if response.status_code != expected:
        wrong.append(f"status {response.status_code}: {response.get_data(as_text=True)[:300]}")
    elif expected >= 400:
        problem = response.json if response.is_json else {}
        if response.mimetype != "application/problem+json":
            wrong.append(f"content type {response.mimetype}")
        if not {"type", "title", "status", "detail"} <= set(problem):
            wrong.append(f"problem members {sorted(problem)}")
        elif problem["status"] != expected:
            wrong.append(f"problem status {problem['status']}")
    challenge = response.headers.get("WWW-Authenticate", "")
    if (expected == 401) != challenge.startswith("Bearer"):
        wrong.append(f"WWW-Authenticate {challenge!r}")
    # A refused write leaves no trace; an accepted one does (so the request was valid).
    wrote = events(app) > before
    if wrote != (endpoint.writes and expected < 400):
        wrong.append("ledger events " + ("written" if wrote else "missing"))
    return [f"{endpoint.id} as {caller} (expected {expected}): {w}" for w in wrong]


def test_matrix_covers_every_route(app):
    listed = [(endpoint.method, endpoint.path) for endpoint in ENDPOINTS]
    assert len(listed) == len(set(listed)), "an endpoint is listed twice"
    served = routes(app, portals=False) - FRAMEWORK_ROUTES
    assert served - set(listed) == set(), "routes missing from ENDPOINTS: give them roles"
    assert set(listed) - served == set(), "ENDPOINTS lists routes the app does not have"


def test_matrix_covers_every_documented_operation(client):
    """The OpenAPI document lists the same operations, with security where guarded."""
    document = client.get("/api/v1/openapi.json").json
    documented = {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "put", "post", "delete", "patch")
    }
    listed = {(endpoint.method, endpoint.path): endpoint for endpoint in ENDPOINTS}
    assert set(documented) - set(listed) == set(), "operations missing from ENDPOINTS"
    # Every JSON endpoint is documented, except the document itself.
    api = {key for key in listed if key[1].startswith("/api/")}
    assert api - set(documented) == {("GET", "/api/v1/openapi.json")}
    for key, operation in documented.items():
        if listed[key].roles is None:
            assert "security" not in operation, key
        else:
            assert operation.get("security") == [{"bearer": []}], key
            assert {"401", "403"} <= set(operation["responses"]), key


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.id)
def test_authorization_matrix(app, client, world, make, endpoint):
    """Every caller against one endpoint, each request on objects of its own.

    One database serves the endpoint's callers (a database per request would make this
    file several times slower); what one caller writes, no other caller's request
    touches, and a refused request is checked to have written nothing. Every departure
    from the matrix is reported, naming the caller.
    """
    wrong = [
        problem
        for caller in CALLERS
        for problem in _call(app, client, world, make, endpoint, caller)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_maker_lists_only_own_pieces_an_inspector_every_makers(client, world, make):
    own, other = make.piece("maker"), make.piece("other-maker")

    def listed(token: str, query: str = "") -> set[int]:
        response = client.get(f"/api/v1/pieces{query}", headers=bearer(token))
        assert response.status_code == 200, response.json
        return {item["id"] for item in response.json["items"]}

    assert listed(world.maker) == {own}
    assert listed(world.other_maker) == {other}
    # Naming another maker does not widen a maker's view.
    assert listed(world.maker, f"?maker={world.other_maker_slug}") == set()
    assert listed(world.inspector) == {own, other}
    assert listed(world.inspector, f"?maker={world.other_maker_slug}") == {other}


@pytest.mark.parametrize(
    ("caller", "owner"),
    [("maker", "other-maker"), ("maker", "inspector"), ("inspector", "maker"), ("maker", "admin")],
)
def test_revoking_someone_elses_token_is_not_found_unless_admin(client, world, make, caller, owner):
    """Someone else's token is reported absent, not forbidden, so ids cannot be probed."""
    token_id = make.token_id(owner)
    response = client.post(
        f"/api/v1/tokens/{token_id}/revoke", headers=_authorization(world, caller)
    )
    assert response.status_code == 404, response.json
    absent = client.post("/api/v1/tokens/99999/revoke", headers=_authorization(world, caller))
    assert absent.status_code == 404
    assert response.json["detail"] == absent.json["detail"].replace("99999", str(token_id))
    tokens = client.get(
        f"/api/v1/accounts/{make.account_id(owner)}/tokens", headers=bearer(world.admin)
    ).json["items"]
    assert [t["revoked_at"] for t in tokens if t["id"] == token_id] == [None]


@pytest.mark.parametrize("owner", ["maker", "inspector"])
def test_admin_revokes_anyones_token(client, world, make, owner):
    token_id = make.token_id(owner)
    response = client.post(f"/api/v1/tokens/{token_id}/revoke", headers=bearer(world.admin))
    assert response.status_code == 200, response.json
    assert response.json["revoked_at"] is not None


@pytest.mark.parametrize("revoker", ["self", "admin"])
def test_a_revoked_token_stops_working_at_once(client, world, revoker):
    made = client.post("/api/v1/tokens", json={"name": "phone"}, headers=bearer(world.maker))
    assert made.status_code == 201, made.json
    token = made.json["token"]
    assert client.get("/api/v1/pieces", headers=bearer(token)).status_code == 200

    by = token if revoker == "self" else world.admin
    revoked = client.post(f"/api/v1/tokens/{made.json['id']}/revoke", headers=bearer(by))
    assert revoked.status_code == 200, revoked.json

    refused = client.get("/api/v1/pieces", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json["detail"] == "This token was revoked."
    # The maker's other token still works.
    assert client.get("/api/v1/pieces", headers=bearer(world.maker)).status_code == 200


def test_using_a_token_sets_its_last_used_time(client, world):
    spare = client.post("/api/v1/tokens", json={"name": "spare"}, headers=bearer(world.maker))
    assert spare.status_code == 201, spare.json

    listing = client.get("/api/v1/tokens", headers=bearer(world.maker))

    assert listing.status_code == 200, listing.json
    last_used = {t["prefix"]: t["last_used_at"] for t in listing.json["items"]}
    assert last_used[world.maker[: len("ysr_") + 8]] is not None
    assert last_used[spare.json["prefix"]] is None


def test_a_bad_token_is_challenged_as_invalid_and_a_missing_one_is_not(client, world):
    """RFC 6750 section 3: error="invalid_token" only when a token was presented."""
    missing = client.get("/api/v1/tokens")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="registry"'
    for header in ("Bearer nonsense", f"Bearer {world.revoked}"):
        bad = client.get("/api/v1/tokens", headers={"Authorization": header})
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_a_busy_database_neither_holds_up_nor_fails_an_authenticated_read(
    app, client, world, database_url
):
    """Recording last use gives way to a writer holding the lock (SQLite's one writer)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as a long import would
    outcome = {}
    reader = threading.Thread(
        target=lambda: outcome.update(
            response=app.test_client().get("/api/v1/pieces", headers=bearer(world.inspector))
        )
    )
    reader.start()
    reader.join(timeout=10)  # the lock wait would be 30 s if the read waited on it
    held_up = reader.is_alive()
    writer.execute("ROLLBACK")
    writer.close()
    reader.join()
    assert not held_up
    assert outcome["response"].status_code == 200
    tokens = bearer(world.inspector)
    assert client.get("/api/v1/tokens", headers=tokens).json["items"][0]["last_used_at"] is None
    # Recorded after that response, once the lock was free; seen by the next request.
    assert client.get("/api/v1/tokens", headers=tokens).json["items"][0]["last_used_at"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/pieces/{}"),
        ("PUT", "/api/v1/pieces/{}/photo"),
        ("DELETE", "/api/v1/pieces/{}/photo"),
    ],
)
def test_another_makers_piece_is_answered_as_one_that_does_not_exist(
    client, world, make, method, path
):
    """A guessed id tells nothing: the status, title and detail are those of an id that
    no piece has, only the number differs."""
    theirs, _sha256 = _photographed_piece(make)
    body = {"data": jpeg(), "content_type": "image/jpeg"} if method == "PUT" else {}
    headers = bearer(world.other_maker)
    hidden = client.open(path.format(theirs), method=method, headers=headers, **body)
    absent = client.open(path.format(99999), method=method, headers=headers, **body)
    assert hidden.status_code == absent.status_code == 404, hidden.json
    assert hidden.mimetype == absent.mimetype == "application/problem+json"
    assert hidden.json == {
        **absent.json,
        "detail": absent.json["detail"].replace("99999", str(theirs)),
    }
    # The piece and its photo are as they were.
    own = client.get(f"/api/v1/pieces/{theirs}", headers=bearer(world.maker))
    assert own.status_code == 200 and own.json["photo"] is not None


# Every route an owner key opens: the pages' and the API's.
_OWNER_KEY_ROUTES = [
    ("/api/v1/ownership/report", {"kind": "stolen"}),
    ("/api/v1/ownership/handover", {}),
    ("/own", {}),
    ("/own/report", {"kind": "stolen"}),
    ("/own/handover", {}),
]


@pytest.mark.parametrize(
    ("path", "extra"), _OWNER_KEY_ROUTES, ids=[p for p, _ in _OWNER_KEY_ROUTES]
)
def test_an_owner_key_never_issued_or_ended_opens_nothing(app, client, world, make, path, extra):
    """A key never issued and one that ended (the next owner claimed) are answered alike,
    whoever sends them (a token opens nothing here), and nothing is written."""
    ended = _owner_key(make)
    with app.app_context():
        session = database.session()
        issued = ownership.handover(session, ended)
        session.commit()
        ownership.claim(session, issued.code)
        session.commit()
    answers = []
    for key in (ended, "k" * 32):
        before = events(app)
        if path.startswith("/api/"):
            response = client.post(
                path, json={"owner_key": key, **extra}, headers=bearer(world.admin)
            )
            detail = response.json["detail"]
        else:
            token = csrf_token(client, "/own")
            response = client.post(path, data={"owner_key": key, "csrf_token": token, **extra})
            detail = re.search(r'class="error" id="key-error">([^<]+)<', response.text).group(1)
        assert response.status_code == 404, response.get_data(as_text=True)[:300]
        assert events(app) == before
        answers.append(detail)
    assert answers[0] == answers[1] == "This owner key is not, or no longer, valid."
