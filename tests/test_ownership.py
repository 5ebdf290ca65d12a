"""Owners of sold pieces: the claim from the slip, the owner key's reports and hand-over,
the brand office's reset; through the API and the owner's pages, on both backends."""

import hashlib
import json
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from registry import claims, cli
from registry.edge import database
from registry.models import Certificate, Event, Ownership, OwnershipClaim, Piece, Sale
from schemas.standards import ClaimOrigin, EventType
from tests.factories import (
    EMAILS,
    bearer,
    certify,
    csrf_token,
    events,
    sign_in,
    with_passwords,
)


@pytest.fixture
def sold(app, client, world) -> tuple[str, str]:
    """A certified piece of world.maker's, sold by its maker: (its certificate code, the
    claim code printed on the slip)."""
    _piece_id, certificate = certify(client, world)
    code = certificate["code"]
    sale = client.post(f"/api/v1/certificates/{code}/sale", headers=bearer(world.maker))
    assert sale.status_code == 201, sale.json
    return code, sale.json["claim_code"]


def _claim(client, code: str):
    return client.post("/api/v1/ownership/claim", json={"claim_code": code})


def _rows(app, model) -> int:
    with app.app_context():
        return database.session().scalar(select(func.count()).select_from(model))


def _entries(app, action: EventType) -> list[dict]:
    with app.app_context():
        found = database.session().scalars(select(Event.entry).where(Event.action == action))
        return [json.loads(entry) for entry in found]


def _scan_holds(client, code: str) -> dict:
    """The verify JSON of `code`, checked to be one whose seal holds."""
    verdict = client.get(f"/api/v1/verify/{code}")
    assert verdict.status_code == 200, verdict.json
    assert verdict.json["signature"]["valid"], verdict.json["signature"]
    return verdict.json


def _printed(app, code: str) -> str:
    with app.app_context():
        return (
            database.session()
            .scalar(select(Certificate).where(Certificate.code == code))
            .printed_code
        )


def _private(response) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


# The claim.


def test_a_buyer_claims_a_sold_piece_and_gets_an_owner_key_once(app, client, sold):
    code, claim_code = sold
    before = events(app)

    claimed = _claim(client, claim_code.lower().replace("-", ""))

    assert claimed.status_code == 201, claimed.json
    _private(claimed)
    key = claimed.json["owner_key"]
    assert len(key) >= 32  # 192 bits, URL-safe
    assert claimed.json["report"] is None
    assert claimed.json["certificate"] == _printed(app, code)
    assert events(app) == before + 1
    (entry,) = _entries(app, EventType.OWNERSHIP_CLAIMED)
    assert entry["data"]["claim"].startswith("hmac-sha256:")
    assert entry["data"]["key"].startswith("hmac-sha256:")
    assert key not in json.dumps(entry) and claim_code not in json.dumps(entry)
    with app.app_context():
        owner = database.session().scalar(select(Ownership))
        assert owner.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert owner.ended_at is None
    # The scan's seal covers the new owner: the piece still verifies.
    _scan_holds(client, code)


def _cancel(client, world, code: str) -> None:
    cancelled = client.post(f"/api/v1/certificates/{code}/sale/cancel", headers=bearer(world.maker))
    assert cancelled.status_code == 200, cancelled.json


def _mistype(code: str) -> str:
    last = code[-1]
    return code[:-1] + ("0" if last != "0" else "1")


@pytest.mark.parametrize(
    ("case", "status", "detail"),
    [
        ("malformed", 422, "This is not a claim code"),
        ("mistyped", 422, "mistyped"),
        ("unknown", 404, "no such claim code"),
        ("used", 409, "already been used"),
        ("cancelled", 409, "no longer valid"),
        ("replaced", 409, "no longer valid"),
    ],
)
def test_a_bad_claim_code_is_a_clear_refusal_that_writes_nothing(
    app, client, world, sold, case, status, detail
):
    code, claim_code = sold
    if case == "used":
        assert _claim(client, claim_code).status_code == 201
    if case == "cancelled":
        _cancel(client, world, code)
    if case == "replaced":
        with app.app_context():
            session = database.session()
            claim = session.scalar(select(OwnershipClaim))
            claims.issue(
                session,
                session.get(Piece, claim.piece_id),
                session.get(Sale, claim.sale_id),
                ClaimOrigin.RESET,
            )
            session.commit()
    sent = {
        "malformed": "hello",
        "mistyped": _mistype(claim_code.replace("-", "")),
        "unknown": claims.printed(claims.new_code()),
    }.get(case, claim_code)
    before, owners = events(app), _rows(app, Ownership)

    refused = _claim(client, sent)

    assert refused.status_code == status, refused.json
    assert refused.mimetype == "application/problem+json"
    assert detail.lower() in refused.json["detail"].lower()
    assert "claim_code" in refused.json["errors"]
    assert events(app) == before and _rows(app, Ownership) == owners
    with app.app_context():
        used = database.session().scalar(
            select(func.count())
            .select_from(OwnershipClaim)
            .where(OwnershipClaim.used_at.is_not(None))
        )
    assert used == (1 if case == "used" else 0)


def test_two_racing_claims_on_two_connections_one_wins(app, sold):
    """Two buyers send the same code at the same moment, each on its own connection."""
    _code, claim_code = sold
    start = threading.Barrier(2)
    answers: list = []

    def buyer():
        client = app.test_client()
        start.wait()
        answers.append(_claim(client, claim_code))

    threads = [threading.Thread(target=buyer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409], [answer.json for answer in answers]
    assert _rows(app, Ownership) == 1
    assert len(_entries(app, EventType.OWNERSHIP_CLAIMED)) == 1


# The owner's actions.


def _report(client, key: str, kind: str):
    return client.post("/api/v1/ownership/report", json={"owner_key": key, "kind": kind})


def test_the_owner_reports_the_piece_stolen_and_withdraws_it(app, client, sold):
    code, claim_code = sold
    key = _claim(client, claim_code).json["owner_key"]

    stolen = _report(client, key, "stolen")
    assert stolen.status_code == 200, stolen.json
    _private(stolen)
    assert stolen.json["report"] == "stolen" and stolen.json["reported_at"]
    _scan_holds(client, code)
    again = _report(client, key, "stolen")
    assert again.status_code == 409

    found = _report(client, key, "found")
    assert found.status_code == 200, found.json
    assert found.json["report"] is None
    _scan_holds(client, code)
    assert _report(client, key, "found").status_code == 409

    lost = _report(client, key, "lost")
    assert lost.json["report"] == "lost"
    reported = _entries(app, EventType.OWNERSHIP_REPORTED)
    assert [entry["data"] for entry in reported] == [{"kind": "stolen"}, {"kind": "lost"}]
    withdrawn = _entries(app, EventType.OWNERSHIP_WITHDRAWN)
    assert [entry["data"] for entry in withdrawn] == [{"kind": "stolen"}]
    assert _report(client, key, "misplaced").status_code == 422


def test_a_wrong_key_is_refused_without_saying_why(app, client, sold):
    _code, claim_code = sold
    _claim(client, claim_code)
    before = events(app)
    unknown = _report(client, claims.new_owner_key(), "stolen")
    assert unknown.status_code == 404
    assert unknown.json["detail"] == "This owner key is not, or no longer, valid."
    assert _report(client, "short", "stolen").status_code == 422
    assert events(app) == before


def test_a_hand_over_then_the_next_claim_ends_the_first_key(app, client, sold):
    code, claim_code = sold
    first = _claim(client, claim_code).json["owner_key"]

    handed = client.post("/api/v1/ownership/handover", json={"owner_key": first})

    assert handed.status_code == 201, handed.json
    _private(handed)
    new_code = handed.json["claim_code"]
    assert handed.json["claim_url"] == (
        f"https://registry.test/own/claim?code={new_code.replace('-', '')}"
    )
    (entry,) = _entries(app, EventType.OWNERSHIP_HANDED_OVER)
    assert entry["data"]["claim"].startswith("hmac-sha256:")
    # The first owner stays the owner until the next one claims.
    assert _report(client, first, "lost").status_code == 200
    assert _report(client, first, "found").status_code == 200

    second = _claim(client, new_code)
    assert second.status_code == 201, second.json
    assert second.json["owner_key"] != first

    refused = _report(client, first, "stolen")
    assert refused.status_code == 404
    assert refused.json["detail"] == "This owner key is not, or no longer, valid."
    refused = client.post("/api/v1/ownership/handover", json={"owner_key": first})
    assert refused.status_code == 404
    assert _report(client, second.json["owner_key"], "stolen").status_code == 200
    assert _claim(client, new_code).status_code == 409
    _scan_holds(client, code)


def test_a_reported_piece_is_not_handed_over(client, sold):
    _code, claim_code = sold
    key = _claim(client, claim_code).json["owner_key"]
    _report(client, key, "stolen")
    refused = client.post("/api/v1/ownership/handover", json={"owner_key": key})
    assert refused.status_code == 409
    assert "withdraw the report" in refused.json["detail"]


def test_the_brand_office_resets_a_lost_owner_key(app, client, world, sold):
    code, claim_code = sold
    lost_key = _claim(client, claim_code).json["owner_key"]
    note = "Receipt 4411 and the sale slip shown at the office."

    reset = client.post(
        "/api/v1/ownership/reset", json={"code": code, "note": note}, headers=bearer(world.admin)
    )

    assert reset.status_code == 201, reset.json
    _private(reset)
    assert _report(client, lost_key, "stolen").status_code == 404
    (entry,) = _entries(app, EventType.OWNER_KEY_RESET)
    assert entry["data"]["note"].startswith("hmac-sha256:")
    assert note not in json.dumps(entry)
    assert entry["actor"]["role"] == "admin"
    _scan_holds(client, code)
    again = _claim(client, reset.json["claim_code"])
    assert again.status_code == 201, again.json
    # Only the brand office resets.
    refused = client.post(
        "/api/v1/ownership/reset", json={"code": code, "note": note}, headers=bearer(world.maker)
    )
    assert refused.status_code == 403


def test_an_unsold_piece_has_no_owner_key_to_reset(app, client, world):
    _piece_id, certificate = certify(client, world)
    before = events(app)
    refused = client.post(
        "/api/v1/ownership/reset",
        json={"code": certificate["code"], "note": "Asked by phone."},
        headers=bearer(world.admin),
    )
    assert refused.status_code == 409
    assert events(app) == before


# Secrets: never in plain form in the database, the log or an address.


def _database_text(app, database_url: str) -> bytes:
    if database_url.startswith("sqlite"):
        app.extensions["registry.engine"].dispose()
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with app.app_context():
        session = database.session()
        tables = session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).all()
        dumped = [
            # Table names from the catalogue, not input: nothing to inject.
            session.scalar(text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM \"{t}\" t"))  # noqa: S608
            for t in tables
        ]
        return "\n".join(dumped).encode()


def test_owner_keys_and_claim_codes_are_never_stored_plain(app, client, sold, database_url):
    code, claim_code = sold
    first = _claim(client, claim_code).json["owner_key"]
    handed = client.post("/api/v1/ownership/handover", json={"owner_key": first}).json
    second = _claim(client, handed["claim_code"]).json["owner_key"]
    _report(client, second, "stolen")

    stored = _database_text(app, database_url)
    log = client.get("/api/v1/log/entries?start=0&limit=1000").get_data()

    for secret in (first, second, claim_code, handed["claim_code"]):
        canonical = (
            secret.replace("-", "") if secret in (claim_code, handed["claim_code"]) else secret
        )
        for form in {secret, canonical}:
            assert form.encode() not in stored, form
            assert form.encode() not in log, form
        # The database holds the SHA-256 of each, and nothing that the log shares.
        assert hashlib.sha256(canonical.encode()).hexdigest().encode() not in log


# The owner's pages.


def _form(client, path: str, data: dict, **kwargs):
    token = csrf_token(client, "/own")
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def _key_of(page: str) -> str:
    found = re.search(r"data-owner-key>([^<]+)<", page)
    assert found, page[:500]
    return found.group(1)


def test_claiming_on_the_pages_shows_the_key_once_and_keeps_it_out_of_addresses(app, client, sold):
    code, claim_code = sold
    form = client.get(f"/own/claim?code={claim_code}")
    assert form.status_code == 200
    assert f'value="{claim_code}"' in form.get_data(as_text=True)
    _private(form)

    claimed = _form(client, "/own/claim", {"claim_code": claim_code})

    assert claimed.status_code == 201
    _private(claimed)
    html = claimed.get_data(as_text=True)
    key = _key_of(html)
    assert "Ownership registered since" in html
    assert f'href="https://registry.test/own#key={key}"' in html
    # Everywhere else the key is a hidden field of a POST form, never in an address.
    assert "?owner_key" not in html and f"={key}&" not in html
    assert html.count(key) == 4  # shown, in the link twice, in the button's form
    for action in re.findall(r"<form[^>]*>", html):
        assert 'method="post"' in action and key not in action

    owner = _form(client, "/own", {"owner_key": key})
    assert owner.status_code == 200
    _private(owner)
    page = owner.get_data(as_text=True)
    assert _printed(app, code) in page
    assert 'data-action="stolen"' in page and 'data-action="handover"' in page
    # The whole private link, pasted, opens it too.
    pasted = _form(client, "/own", {"owner_key": f"https://registry.test/own#key={key}"})
    assert pasted.status_code == 200
    # A second claim on the pages is refused, the form kept.
    again = _form(client, "/own/claim", {"claim_code": claim_code})
    assert again.status_code == 409
    assert "already been used" in again.get_data(as_text=True)


def test_the_owner_reports_and_hands_over_on_the_pages(app, client, sold):
    code, claim_code = sold
    key = _key_of(_form(client, "/own/claim", {"claim_code": claim_code}).get_data(as_text=True))

    stolen = _form(client, "/own/report", {"owner_key": key, "kind": "stolen"})
    assert stolen.status_code == 200
    assert 'data-report="stolen"' in stolen.get_data(as_text=True)
    assert 'data-action="found"' in stolen.get_data(as_text=True)
    refused = _form(client, "/own/handover", {"owner_key": key})
    assert refused.status_code == 409
    assert "data-refusal" in refused.get_data(as_text=True)
    found = _form(client, "/own/report", {"owner_key": key, "kind": "found"})
    assert 'data-report=""' in found.get_data(as_text=True)

    handed = _form(client, "/own/handover", {"owner_key": key})
    assert handed.status_code == 201
    _private(handed)
    new_code = re.search(r"data-claim-code>([^<]+)<", handed.get_data(as_text=True)).group(1)
    assert _form(client, "/own/claim", {"claim_code": new_code}).status_code == 201
    gone = _form(client, "/own", {"owner_key": key})
    assert gone.status_code == 404
    assert "This owner key is not, or no longer, valid." in gone.get_data(as_text=True)
    _scan_holds(client, code)


def test_the_owner_pages_in_russian(app, client, sold):
    _code, claim_code = sold
    ru = {"Accept-Language": "ru"}
    form = client.get("/own/claim", headers=ru)
    assert '<html lang="ru">' in form.get_data(as_text=True)
    claimed = _form(client, "/own/claim", {"claim_code": claim_code}, headers=ru)
    html = claimed.get_data(as_text=True)
    assert '<html lang="ru">' in html
    key = _key_of(html)
    page = _form(client, "/own", {"owner_key": key}, headers=ru).get_data(as_text=True)
    months = (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    )
    assert any(month in page for month in months)
    assert "Мастер" in page and "Сертификат" in page
    english = _form(client, "/own", {"owner_key": key}, headers={"Accept-Language": "en"})
    assert "Ownership registered since" in english.get_data(as_text=True)


def test_an_owner_page_form_without_its_csrf_token_is_refused(app, client, sold):
    _code, claim_code = sold
    before = events(app)
    refused = client.post("/own/claim", data={"claim_code": claim_code})
    assert refused.status_code == 400
    assert events(app) == before


def test_the_brand_office_resets_an_owner_key_in_its_portal(app, client, world, sold):
    code, claim_code = sold
    key = _claim(client, claim_code).json["owner_key"]
    with app.app_context():
        with_passwords(database.session(), EMAILS["admin"])
    sign_in(client, EMAILS["admin"])
    token = csrf_token(client, "/admin/ownership/reset")

    reset = client.post(
        "/admin/ownership/reset",
        data={"code": code, "note": "Slip shown.", "csrf_token": token},
    )

    assert reset.status_code == 201, reset.get_data(as_text=True)[:500]
    new_code = re.search(r"data-claim-code>([^<]+)<", reset.get_data(as_text=True)).group(1)
    assert _report(client, key, "lost").status_code == 404
    assert _claim(client, new_code).status_code == 201
    # A code of no certificate: the form again, nothing written.
    before = events(app)
    refused = client.post(
        "/admin/ownership/reset",
        data={"code": "nonsense", "note": "Slip shown.", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert events(app) == before


def test_every_owner_event_is_held_by_registry_log_verify(client, world, sold, env):
    """Claims, reports, a withdrawal, a hand-over and a reset: the rows are what the log
    says (registry/log/check/after_sale.py replays them)."""
    code, claim_code = sold
    first = _claim(client, claim_code).json["owner_key"]
    _report(client, first, "lost")
    _report(client, first, "found")
    handed = client.post("/api/v1/ownership/handover", json={"owner_key": first}).json
    second = _claim(client, handed["claim_code"]).json["owner_key"]
    _report(client, second, "stolen")
    reset = client.post(
        "/api/v1/ownership/reset",
        json={"code": code, "note": "Slip shown."},
        headers=bearer(world.admin),
    )
    assert _claim(client, reset.json["claim_code"]).status_code == 201

    result = CliRunner().invoke(cli.main, ["log", "verify"], env=env)

    assert result.exit_code == 0, result.output
