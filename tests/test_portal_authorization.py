"""Who may open what in the portals: every page of the session-based blueprints against
every kind of caller.

The routes are read from the app's URL map, so a page that PAGES does not list fails
`test_portal_matrix_covers_every_route`: give it its roles here when you add it. The
token-based API has its own matrix in tests/test_authorization.py. Every request is
otherwise valid (a CSRF token of the caller's own session included), so its status says
only whether the caller was let in.
"""

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask import Flask

from registry import accounts, assays, ownership, pieces, reports, sales
from registry.edge import database, signing
from schemas.assays import AssayIn
from schemas.pieces import PieceIn
from tests.factories import (
    EMAILS,
    PASSWORD,
    ROLES,
    Fresh,
    World,
    assay_data,
    csrf_token,
    events,
    jpeg,
    maker_data,
    piece_data,
    routes,
    shop_data,
    sign_in,
    with_passwords,
)

CALLERS = ("anonymous", *ROLES)
# Where each account lands after signing in (session.home_of).
HOMES = {
    "maker": "/maker/",
    "other-maker": "/maker/",
    "inspector": "/inspector/",
    "admin": "/admin/makers",
    "shop": "/shop/",
}

_numbers = itertools.count(1)
_ERROR_KIND = re.compile(r'data-error="([a-z_]+)"')


@dataclass(frozen=True)
class Call:
    """One request: where, what it sends, and what it must tell only those entitled."""

    url: str
    data: dict | None = None  # the form (a POST's CSRF token is added by the caller)
    secret: str | None = None  # a reference of world.maker's that others must not see
    lands: str | None = None  # where an accepted request redirects, when it matters


@dataclass(frozen=True)
class Made:
    """A new piece of world.maker's, as the requests name it."""

    id: int
    reference: str  # shown to its maker and the inspectors only
    title: str
    code: str | None = None  # its certificate's, when certified


class Make(Fresh):
    """Fresh pieces, tokens and accounts for the portals' requests."""

    def piece(self, *, certified: bool = False) -> Made:
        """A new piece of world.maker's, awaiting assay or `certified`."""
        n = next(_numbers)
        reference, title = f"HIDDEN-{n}-X", f"Ring Findme{n}x"
        with self.app.app_context():
            session = database.session()
            maker = self._account(session, "maker")
            data = PieceIn().load(piece_data(reference=reference, title=title))
            piece = pieces.register(session, maker.maker, data, actor=maker)
            code = None
            if certified:
                session.flush()
                assay = assays.attest(
                    session,
                    signing.keyring(),
                    piece.id,
                    AssayIn().load(assay_data()),
                    issuer=signing.issuer(),
                    actor=self._account(session, "inspector"),
                )
                code = assay.certificate.code
            session.commit()
            return Made(piece.id, reference, title, code)

    def sold(self) -> str:
        """The code of a new certificate whose piece world's shop sold."""
        code = self.piece(certified=True).code
        assert code is not None
        with self.app.app_context():
            session = database.session()
            sales.record(session, code, self._account(session, "shop"))
            session.commit()
        return code

    def account_id(self) -> int:
        """A new inspector's account, for the brand office to act on."""
        with self.app.app_context():
            session = database.session()
            email = f"new-{next(_numbers)}@test.example"
            account = accounts.create(session, {"email": email, "role": "inspector"}, actor=None)
            session.commit()
            return account.id


def _claim_code(make: Make) -> tuple[str, str]:
    """A new certificate whose piece its maker sold: its code, and the slip's claim code."""
    code = make.piece(certified=True).code
    assert code is not None
    with make.app.app_context():
        session = database.session()
        recorded = sales.record(session, code, accounts.by_email(session, EMAILS["maker"]))
        session.commit()
        return code, recorded.claim_code


def _owner_key(make: Make) -> str:
    """The owner key of a new sold piece, claimed."""
    with make.app.app_context():
        session = database.session()
        claimed = ownership.claim(session, _claim_code(make)[1])
        session.commit()
        return claimed.owner_key


@pytest.fixture
def make(app, world) -> Make:
    return Make(app)


Request = Callable[[World, Make, str], Call]


@dataclass(frozen=True)
class Page:
    method: str
    path: str  # the app's rule, its converters replaced by {name}
    roles: frozenset[str] | None  # None: public, open to anyone signed in or not
    ok: int  # the status for a caller who is let in
    request: Request  # (world, make, caller) -> Call
    # Callers of an allowed role who are sent world.maker's object: shown "not found".
    hidden: frozenset[str] = frozenset()
    writes: bool = False  # an accepted write leaves events in the log, a refused one none
    signed_in: int | None = None  # public pages: the status for a signed-in caller

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def admitted(self, caller: str) -> bool:
        """Whether the page lets `caller` in to do what it is for."""
        if self.roles is None:
            return True
        return caller in ROLES and ROLES[caller] in self.roles and caller not in self.hidden

    def expected(self, caller: str) -> int:
        if self.roles is None:
            if caller == "anonymous" or self.signed_in is None:
                return self.ok
            return self.signed_in
        if caller == "anonymous":
            return 302
        if ROLES[caller] not in self.roles:
            return 403
        if caller in self.hidden:
            return 404
        return self.ok


def _maker_call(slug: str, step: str, data: dict) -> Call:
    """A brand-office form on a maker's page, landing back on it."""
    return Call(f"/admin/makers/{slug}{step}", data, lands=f"/admin/makers/{slug}")


def _at(url: str, **kwargs) -> Request:
    return lambda world, make, caller: Call(url, **kwargs)


def _on(
    template: str, *, certified: bool = False, form: Callable[[], dict] | None = None
) -> Request:
    """A request on a new piece of world.maker's: `template` names it by {id}, {code} or
    {title}; `form` makes the form to send."""

    def request(world: World, make: Make, caller: str) -> Call:
        made = make.piece(certified=certified)
        url = template.format(id=made.id, code=made.code, title=made.title)
        return Call(url, form() if form else None, secret=made.reference)

    return request


def _batch(*, form: bool = False) -> Request:
    """The batch page of world.maker's waiting pieces, which lists a new one; or its form
    sent with that piece ticked."""

    def request(world: World, make: Make, caller: str) -> Call:
        made = make.piece()
        if form:
            data = {"maker": world.maker_slug, "piece": [str(made.id)], **assay_data()}
            return Call("/inspector/batch", data)
        return Call(f"/inspector/batch?maker={world.maker_slug}", secret=made.reference)

    return request


def _correction_form() -> dict:
    """A whole declaration, as the correction form sends it."""
    data = piece_data(stones=[])
    return {k: str(v) for k, v in data.items() if k != "stones"}


def _sign_in_form(world: World, make: Make, caller: str) -> Call:
    # Anyone may sign in: the anonymous caller with the maker's account.
    who = caller if caller in ROLES else "maker"
    return Call("/login", {"email": EMAILS[who], "password": PASSWORD}, lands=HOMES[who])


def _token_to_revoke(world: World, make: Make, caller: str) -> Call:
    # Each caller revokes a token of their own, but the other maker aims at the maker's.
    owner = "maker" if caller in ("anonymous", "other-maker") else caller
    return Call(f"/account/tokens/{make.token_id(owner)}/revoke", {}, lands="/account")


def _session_to_end(world: World, make: Make, caller: str) -> Call:
    # Each caller ends a session of their own, but the other maker aims at the maker's.
    owner = "maker" if caller in ("anonymous", "other-maker") else caller
    return Call(f"/account/sessions/{make.session_id(owner)}/end", {}, lands="/account")


def _import_form() -> dict:
    body = "reference,kind,title,metal,fineness,weight_g\n"
    body += f"IMP-{next(_numbers)},ring,Кольцо,gold,585,2.5\n"
    return {"file": (io.BytesIO(body.encode()), "pieces.csv"), "charset": "utf-8"}


def _photo_form() -> dict:
    return {"photo": (io.BytesIO(jpeg()), "ring.jpg")}


def _reissue_form() -> dict:
    return {"title": "Кольцо II", "note": "Title corrected.", "confirm": "yes"}


def _revocation_form() -> dict:
    return {"reason": "data_error", "note": "The weight was misprinted."}


def _new_piece_form() -> dict:
    data = piece_data(reference=f"NEW-{next(_numbers)}")
    del data["stones"]
    return data


def _report(make: Make) -> int:
    """A new open buyer's report, with a photo (reports write no log entries)."""
    with make.app.app_context():
        session = database.session()
        report = reports.submit(session, kind="other", code_text="YS-ANY", photo=jpeg())
        session.commit()
        return report.id


def _on_report(template: str, *, form: dict | None = None) -> Request:
    """A request on a new buyer's report: `template` names it by {id}."""
    return lambda world, make, caller: Call(template.format(id=_report(make)), form)


MAKER = frozenset({"maker"})
INSPECTOR = frozenset({"inspector"})
ADMIN = frozenset({"admin"})
SIGNED_IN = frozenset({"maker", "inspector", "admin", "shop"})
SHOP = frozenset({"shop"})
OTHER = frozenset({"other-maker"})

PAGES = [
    # Signing in and out: public.
    Page(
        "GET",
        "/login",
        None,
        200,
        lambda world, make, caller: Call("/login", lands=HOMES.get(caller)),
        signed_in=302,
    ),
    Page("POST", "/login", None, 302, _sign_in_form),
    Page("POST", "/logout", None, 302, _at("/logout", data={}, lands="/")),
    # One's own account: anyone signed in.
    Page("GET", "/account", SIGNED_IN, 200, _at("/account")),
    Page("GET", "/account/password", SIGNED_IN, 200, _at("/account/password")),
    Page(
        "POST",
        "/account/password",
        SIGNED_IN,
        302,
        lambda world, make, caller: Call(
            "/account/password",
            {"current": PASSWORD, "new": "cedar-sayan-lake-42", "repeat": "cedar-sayan-lake-42"},
            lands=HOMES.get(caller),
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/account/tokens",
        SIGNED_IN,
        201,
        _at("/account/tokens", data={"name": "laptop"}),
        writes=True,
    ),
    Page(
        "POST",
        "/account/tokens/{token_id}/revoke",
        SIGNED_IN,
        302,
        _token_to_revoke,
        hidden=OTHER,
        writes=True,
    ),
    Page(
        "POST",
        "/account/sessions/{session_id}/end",
        SIGNED_IN,
        302,
        _session_to_end,
        hidden=OTHER,
    ),
    # The makers' portal: their own pieces only.
    Page("GET", "/maker/", MAKER, 200, _on("/maker/")),
    Page("GET", "/maker/pieces/new", MAKER, 200, _at("/maker/pieces/new")),
    Page(
        "POST",
        "/maker/pieces/new",
        MAKER,
        303,
        lambda world, make, caller: Call("/maker/pieces/new", _new_piece_form()),
        writes=True,
    ),
    Page("GET", "/maker/pieces/{piece_id}", MAKER, 200, _on("/maker/pieces/{id}"), hidden=OTHER),
    Page(
        "POST",
        "/maker/pieces/{piece_id}/photo",
        MAKER,
        303,
        _on("/maker/pieces/{id}/photo", form=_photo_form),
        hidden=OTHER,
        writes=True,
    ),
    Page(
        "GET",
        "/maker/pieces/{piece_id}/edit",
        MAKER,
        200,
        _on("/maker/pieces/{id}/edit"),
        hidden=OTHER,
    ),
    Page(
        "POST",
        "/maker/pieces/{piece_id}/edit",
        MAKER,
        303,
        _on("/maker/pieces/{id}/edit", form=_correction_form),
        hidden=OTHER,
        writes=True,
    ),
    Page(
        "POST",
        "/maker/pieces/{piece_id}/withdraw",
        MAKER,
        303,
        _on("/maker/pieces/{id}/withdraw", form=lambda: {"confirm": "yes"}),
        hidden=OTHER,
        writes=True,
    ),
    Page(
        "GET",
        "/maker/pieces/{piece_id}/label.{format}",
        MAKER,
        200,
        _on("/maker/pieces/{id}/label.png", certified=True),
        hidden=OTHER,
    ),
    Page(
        "GET",
        "/maker/pieces/{piece_id}/card.pdf",
        MAKER,
        200,
        _on("/maker/pieces/{id}/card.pdf", certified=True),
        hidden=OTHER,
    ),
    Page(
        "GET",
        "/maker/labels.pdf",
        MAKER,
        200,
        _on("/maker/labels.pdf?piece={id}", certified=True),
        hidden=OTHER,
    ),
    Page("GET", "/maker/import", MAKER, 200, _at("/maker/import")),
    Page("GET", "/maker/import/template.csv", MAKER, 200, _at("/maker/import/template.csv")),
    Page("GET", "/maker/import/template.xlsx", MAKER, 200, _at("/maker/import/template.xlsx")),
    Page(
        "POST",
        "/maker/import",
        MAKER,
        200,
        lambda world, make, caller: Call("/maker/import", _import_form()),
        writes=True,
    ),
    # The inspectors' portal: every maker's pieces.
    Page("GET", "/inspector/", INSPECTOR, 200, _on("/inspector/")),
    Page("GET", "/inspector/pieces/{piece_id}", INSPECTOR, 200, _on("/inspector/pieces/{id}")),
    Page(
        "POST",
        "/inspector/pieces/{piece_id}/assay",
        INSPECTOR,
        303,
        _on("/inspector/pieces/{id}/assay", form=assay_data),
        writes=True,
    ),
    Page(
        "POST",
        "/inspector/certificates/{code}/revoke",
        INSPECTOR,
        303,
        _on("/inspector/certificates/{code}/revoke", certified=True, form=_revocation_form),
        writes=True,
    ),
    Page(
        "POST",
        "/inspector/certificates/{code}/reissue",
        INSPECTOR,
        303,
        _on("/inspector/certificates/{code}/reissue", certified=True, form=_reissue_form),
        writes=True,
    ),
    # Found by its title; the reference, not in the address, is what others must not see.
    Page("GET", "/inspector/batch", INSPECTOR, 200, _batch()),
    Page("POST", "/inspector/batch", INSPECTOR, 200, _batch(form=True), writes=True),
    Page("GET", "/inspector/search", INSPECTOR, 200, _on("/inspector/search?q={title}")),
    Page("GET", "/inspector/audit", INSPECTOR, 200, _at("/inspector/audit")),
    Page("GET", "/inspector/audit/export.csv", INSPECTOR, 200, _at("/inspector/audit/export.csv")),
    Page("GET", "/inspector/log", INSPECTOR, 200, _at("/inspector/log")),
    Page(
        "POST",
        "/inspector/log/verify",
        INSPECTOR,
        303,
        lambda world, make, caller: Call("/inspector/log/verify", {}, lands="/inspector/log"),
    ),
    Page("GET", "/inspector/copies", INSPECTOR, 200, _at("/inspector/copies")),
    # The shops' portal: their own sales.
    Page("GET", "/shop/", SHOP, 200, _at("/shop/")),
    Page(
        "POST",
        "/shop/sales",
        SHOP,
        201,
        lambda world, make, caller: Call(
            "/shop/sales", {"code": make.piece(certified=True).code.lower()}
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/shop/sales/{code}/cancel",
        SHOP,
        303,
        lambda world, make, caller: Call(f"/shop/sales/{make.sold()}/cancel", {}, lands="/shop/"),
        writes=True,
    ),
    # Buyers' reports: the queue of the brand office's and the inspectors' portals.
    *(
        page
        for portal, roles in (("admin", frozenset({"admin"})), ("inspector", INSPECTOR))
        for page in (
            Page("GET", f"/{portal}/reports", roles, 200, _at(f"/{portal}/reports")),
            Page(
                "POST",
                f"/{portal}/reports/{{report_id}}/handle",
                roles,
                303,
                _on_report(f"/{portal}/reports/{{id}}/handle", form={"note": "Checked."}),
            ),
            Page(
                "GET",
                f"/{portal}/reports/{{report_id}}/photo.jpg",
                roles,
                200,
                _on_report(f"/{portal}/reports/{{id}}/photo.jpg"),
            ),
        )
    ),
    # Owners' pages: public; the owner key travels in the form, never in the address.
    Page(
        "GET",
        "/own/claim",
        None,
        200,
        lambda world, make, caller: Call(f"/own/claim?code={_claim_code(make)[1]}"),
    ),
    Page(
        "POST",
        "/own/claim",
        None,
        201,
        lambda world, make, caller: Call("/own/claim", {"claim_code": _claim_code(make)[1]}),
        writes=True,
    ),
    Page("GET", "/own", None, 200, _at("/own")),
    Page(
        "POST",
        "/own",
        None,
        200,
        lambda world, make, caller: Call("/own", {"owner_key": _owner_key(make)}),
    ),
    Page(
        "POST",
        "/own/report",
        None,
        200,
        lambda world, make, caller: Call(
            "/own/report", {"owner_key": _owner_key(make), "kind": "lost"}
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/own/handover",
        None,
        201,
        lambda world, make, caller: Call("/own/handover", {"owner_key": _owner_key(make)}),
        writes=True,
    ),
    # The brand office's portal.
    Page("GET", "/admin/makers", ADMIN, 200, _at("/admin/makers")),
    Page("GET", "/admin/shops", ADMIN, 200, _at("/admin/shops")),
    Page(
        "POST",
        "/admin/shops",
        ADMIN,
        302,
        lambda world, make, caller: Call("/admin/shops", shop_data(), lands="/admin/shops"),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/makers",
        ADMIN,
        302,
        lambda world, make, caller: Call("/admin/makers", maker_data(), lands="/admin/makers"),
        writes=True,
    ),
    Page("GET", "/admin/accounts", ADMIN, 200, _at("/admin/accounts")),
    Page(
        "POST",
        "/admin/accounts",
        ADMIN,
        201,
        lambda world, make, caller: Call(
            "/admin/accounts", {"email": f"new-{next(_numbers)}@test.example", "role": "inspector"}
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/accounts/{account_id}/password",
        ADMIN,
        200,
        lambda world, make, caller: Call(f"/admin/accounts/{make.account_id()}/password", {}),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/accounts/{account_id}/tokens",
        ADMIN,
        201,
        lambda world, make, caller: Call(
            f"/admin/accounts/{make.account_id()}/tokens", {"name": "workshop"}
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/accounts/{account_id}/deactivate",
        ADMIN,
        302,
        lambda world, make, caller: Call(
            f"/admin/accounts/{make.stopped_account(deactivated=False)}/deactivate",
            {},
            lands="/admin/accounts",
        ),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/accounts/{account_id}/reactivate",
        ADMIN,
        302,
        lambda world, make, caller: Call(
            f"/admin/accounts/{make.stopped_account(deactivated=True)}/reactivate",
            {},
            lands="/admin/accounts",
        ),
        writes=True,
    ),
    Page(
        "GET",
        "/admin/makers/{slug}",
        ADMIN,
        200,
        lambda world, make, caller: Call(f"/admin/makers/{make.new_maker()}"),
    ),
    Page(
        "POST",
        "/admin/makers/{slug}",
        ADMIN,
        302,
        lambda world, make, caller: _maker_call(make.new_maker(), "", {"phone": "+7 391 2000000"}),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/makers/{slug}/suspend",
        ADMIN,
        302,
        lambda world, make, caller: _maker_call(make.new_maker(), "/suspend", {"reason": "x"}),
        writes=True,
    ),
    Page(
        "POST",
        "/admin/makers/{slug}/reinstate",
        ADMIN,
        302,
        lambda world, make, caller: _maker_call(make.new_maker(suspended=True), "/reinstate", {}),
        writes=True,
    ),
    Page("GET", "/admin/ownership/reset", ADMIN, 200, _at("/admin/ownership/reset")),
    Page(
        "POST",
        "/admin/ownership/reset",
        ADMIN,
        201,
        lambda world, make, caller: Call(
            "/admin/ownership/reset",
            {"code": _claim_code(make)[0], "note": "The sale slip, shown at the office."},
        ),
        writes=True,
    ),
]


@dataclass
class Callers:
    """A test client per caller, each signed in through the real form (but anonymous)."""

    app: Flask
    clients: dict = field(default_factory=dict)

    def __call__(self, caller: str):
        if caller not in self.clients:
            client = self.app.test_client()
            if caller != "anonymous":
                signed = sign_in(client, EMAILS[caller])
                assert signed.status_code == 302, f"{caller} could not sign in"
            self.clients[caller] = client
        return self.clients[caller]


@pytest.fixture
def callers(app, world) -> Callers:
    with app.app_context():
        with_passwords(database.session(), *EMAILS.values())
    return Callers(app)


def _visit(app, client, world, make, page: Page, caller: str) -> list[str]:
    """Make the request as `caller`; what went against the matrix, or nothing."""
    call = page.request(world, make, caller)
    data = call.data
    if page.method == "POST":
        form_page = "/login" if caller == "anonymous" else "/account"
        data = {**(data or {}), "csrf_token": csrf_token(client, form_page)}
    before = events(app)
    response = client.open(call.url, method=page.method, data=data)
    body = response.get_data()  # read to the end: a streamed page writes as it is read
    expected = page.expected(caller)
    location = response.headers.get("Location", "")
    wrong = []
    if response.status_code != expected:
        wrong.append(f"status {response.status_code}: {body[:300]!r}")
    elif expected in (403, 404):
        kind = _ERROR_KIND.search(body.decode(errors="replace"))
        want = "forbidden" if expected == 403 else "not_found"
        if kind is None or kind.group(1) != want:
            wrong.append(f"not the {want} page: {body[:300]!r}")
    elif page.roles is not None and caller == "anonymous":
        if not location.startswith("/login?next="):
            wrong.append(f"sent to {location!r}, not to sign in")
    elif call.lands is not None and page.admitted(caller) and location != call.lands:
        wrong.append(f"sent to {location!r}, not {call.lands!r}")
    if response.headers.get("Cache-Control") != "no-store":
        wrong.append(f"Cache-Control {response.headers.get('Cache-Control')!r}")
    # world.maker's reference is for the maker and the inspectors it was let through to.
    may_see = caller in ("maker", "inspector") and page.admitted(caller)
    if call.secret and not may_see and call.secret.encode() in body:
        wrong.append(f"shows {call.secret}")
    # A refused write leaves no trace; an accepted one does (so the request was valid).
    wrote = events(app) > before
    if wrote != (page.writes and page.admitted(caller)):
        wrong.append("log events " + ("written" if wrote else "missing"))
    return [f"{page.id} as {caller} (expected {expected}): {w}" for w in wrong]


def test_portal_matrix_covers_every_route(app):
    listed = [(page.method, page.path) for page in PAGES]
    assert len(listed) == len(set(listed)), "a page is listed twice"
    served = routes(app, portals=True)
    assert served - set(listed) == set(), "routes missing from PAGES: give them roles"
    assert set(listed) - served == set(), "PAGES lists routes the app does not have"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.id)
def test_portal_matrix(app, world, make, callers, page):
    """Every caller against one page, each in a session of its own, each request on
    objects of its own; every departure from the matrix is reported, naming the caller."""
    wrong = [
        problem
        for caller in CALLERS
        for problem in _visit(app, callers(caller), world, make, page, caller)
    ]
    assert not wrong, "\n".join(wrong)


def _first_allowed(page: Page) -> str:
    roles = page.roles or SIGNED_IN
    return next(caller for caller in ROLES if ROLES[caller] in roles)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_a_post_without_csrf_token_is_refused_everywhere(app, world, make, callers, signed_in):
    """The token is checked before the view: no sign-in, no role, no write happens."""
    wrong = []
    for page in (page for page in PAGES if page.method == "POST"):
        caller = _first_allowed(page) if signed_in else "anonymous"
        client = callers(caller)
        call = page.request(world, make, caller)
        before = events(app)
        response = client.post(call.url, data=call.data or {})
        body = response.get_data(as_text=True)
        if response.status_code != 400 or 'data-error="csrf"' not in body:
            wrong.append(f"{page.id} as {caller}: status {response.status_code}: {body[:200]}")
        if events(app) != before:
            wrong.append(f"{page.id} as {caller}: log events written")
        if signed_in and client.get("/account").status_code != 200:
            wrong.append(f"{page.id} as {caller}: no longer signed in")
    assert not wrong, "\n".join(wrong)
