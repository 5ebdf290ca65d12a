"""Scan answers kept ready (registry/edge/answers.py): a scan of an unchanged verdict is
answered from what was rendered for the last one, yet a revocation, a state written by
hand and a new checkpoint show at the very next scan, every scan is still counted, and
nothing is kept longer than VERDICT_MAX_AGE."""

import re
import time

import pytest
from sqlalchemy import select, text

from registry.edge import database
from registry.edge import scans as edge_scans
from registry.models import Certificate, ScanDay
from tests.factories import bearer, certify


@pytest.fixture
def settings() -> dict:
    return {"VERDICT_MAX_AGE": 2}


def _scan(client, code: str, kind: str, language: str = "en"):
    if kind == "json":
        return client.get(f"/api/v1/verify/{code}")
    return client.get(f"/v/{code}?lang={language}")


def _shows(answer, kind: str) -> str:
    if kind == "json":
        return answer.json["status"]
    heading = re.search(r'<h1 id="verdict">([^<]*)</h1>', answer.get_data(as_text=True))
    return {"Authentic": "valid", "Revoked": "revoked", "Not valid": "invalid"}.get(
        heading.group(1) if heading else "", "unreadable"
    )


@pytest.mark.parametrize("kind", ["json", "page"])
def test_a_revocation_shows_at_the_next_scan_though_the_answer_was_ready(client, world, kind):
    _, certificate = certify(client, world)
    code = certificate["code"]
    first, second = _scan(client, code, kind), _scan(client, code, kind)
    assert _shows(first, kind) == _shows(second, kind) == "valid"
    assert first.get_data() == second.get_data()  # the same answer, kept ready

    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": "data_error", "note": "Wrong weight."},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200
    assert _shows(_scan(client, code, kind), kind) == "revoked"


@pytest.mark.parametrize("kind", ["json", "page"])
def test_a_state_written_by_hand_fails_its_seal_at_the_next_scan_though_the_answer_was_ready(
    app, client, world, kind
):
    """Someone who can write the database but not read the keys revokes nothing and
    restores nothing: the seal check runs on every scan, before any answer is taken."""
    _, certificate = certify(client, world)
    code = certificate["code"]
    assert _shows(_scan(client, code, kind), kind) == "valid"
    with app.app_context():
        session = database.session()
        session.execute(
            text("UPDATE certificate SET status = 'superseded' WHERE code = :code"),
            {"code": code},
        )
        session.commit()
    assert _shows(_scan(client, code, kind), kind) == "invalid"


def test_a_ready_answer_proves_inclusion_in_the_newest_checkpoint(client, world):
    _, certificate = certify(client, world)
    code = certificate["code"]
    before = _scan(client, code, "json").json["log"]["inclusion"]
    certify(client, world)  # another write, and its checkpoint
    after = _scan(client, code, "json").json["log"]["inclusion"]
    assert after["tree_size"] > before["tree_size"]
    assert after["proof"] != before["proof"]


def test_every_scan_is_counted_though_its_answer_was_ready(app, client, world):
    _, certificate = certify(client, world)
    code = certificate["code"]
    for kind in ("json", "page", "json", "page", "json"):
        assert _scan(client, code, kind).status_code == 200
    with app.app_context():
        assert edge_scans.flush()
        session = database.session()
        counted = session.scalar(
            select(ScanDay.scans)
            .join(Certificate, Certificate.id == ScanDay.certificate_id)
            .where(Certificate.code == code)
        )
    assert counted == 5


def test_nothing_is_kept_longer_than_the_verdicts_max_age(app, client, world):
    """What the key does not hold (here the brand's name, changed by a deployment) shows
    once VERDICT_MAX_AGE has passed, and the answer is not served stale before then."""
    _, certificate = certify(client, world)
    code = certificate["code"]
    brand = app.config["BRAND"]
    assert brand in _scan(client, code, "page").get_data(as_text=True)
    app.config["BRAND"] = "Another Name Entirely"
    time.sleep(app.config["VERDICT_MAX_AGE"] + 0.2)
    assert "Another Name Entirely" in _scan(client, code, "page").get_data(as_text=True)
