"""The scans answered below Flask (registry/edge/direct.py) answer exactly what Flask's
views would, count each scan and each client once, and leave every error to Flask."""

import pytest
from sqlalchemy import text
from werkzeug.test import Client

from registry import codes
from registry.edge import database, direct
from registry.edge import scans as edge_scans
from tests.factories import bearer, certify


def _both(app) -> tuple[Client, Client]:
    """A client of the direct layer (and Flask behind it), and one of Flask alone: the
    same middleware sits outside both."""
    return Client(app.extensions["registry.direct"]), Client(direct.flask_only(app))


def _same(app, method: str, path: str, headers: dict | None = None) -> None:
    through, flask = _both(app)
    expected = flask.open(path, method=method, headers=headers or {})
    answered = through.open(path, method=method, headers=headers or {})
    assert answered.status == expected.status, path
    assert sorted(answered.headers.items()) == sorted(expected.headers.items()), path
    assert answered.get_data() == expected.get_data(), path


def _code_in(state: str, app, client, world) -> str:
    _, certificate = certify(client, world)
    code = certificate["code"]
    if state == "revoked":
        response = client.post(
            f"/api/v1/certificates/{code}/revoke",
            json={"reason": "fraud", "note": "Sold as a copy of another maker's ring."},
            headers=bearer(world.inspector),
        )
        assert response.status_code == 200, response.json
    elif state == "written by hand":
        # Someone who can write the database but not read the keys.
        with app.app_context():
            session = database.session()
            session.execute(
                text("UPDATE certificate SET status = 'revoked' WHERE code = :code"),
                {"code": code},
            )
            session.commit()
    return code


@pytest.mark.parametrize("state", ["valid", "revoked", "written by hand"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_direct_answer_is_the_one_flask_sends_byte_for_byte(app, client, world, state, method):
    code = _code_in(state, app, client, world)
    _same(app, method, f"/api/v1/verify/{code}")
    # Typed leniently: lower case, dashes, O for 0.
    printed = client.get(f"/api/v1/verify/{code}").json["printed_code"]
    _same(app, method, f"/api/v1/verify/{printed.lower()}")


def test_conditional_requests_get_the_same_304_or_200(app, client, world):
    code = _code_in("valid", app, client, world)
    etag = client.get(f"/api/v1/verify/{code}").headers["ETag"]
    for asked in (etag, f"W/{etag}", '"another"', f'"another", {etag}', "*"):
        _same(app, "GET", f"/api/v1/verify/{code}", {"If-None-Match": asked})
    assert client.get(f"/api/v1/verify/{code}", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/verify/hello",  # malformed
        "/api/v1/verify/0000000000000U",  # no check symbol
        "/api/v1/verify/NEW",  # never issued (a new code, drawn below)
        "/api/v1/verify/",  # no code
        "/api/v1/verify/a/b",  # two segments
        "/api/v1/verify/%00",
        "/api/v1/verify/" + "7" * 5000,
    ],
)
def test_what_is_refused_is_refused_by_flask_as_problem_json(app, client, world, path):
    certify(client, world)
    path = path.replace("NEW", codes.new())
    _same(app, "GET", path)
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert response.mimetype == "application/problem+json"


def test_a_mistyped_code_is_the_same_400(app, client, world):
    code = _code_in("valid", app, client, world)
    mistyped = ("1" if code[0] != "1" else "2") + code[1:]
    _same(app, "GET", f"/api/v1/verify/{mistyped}")
    assert client.get(f"/api/v1/verify/{mistyped}").json["type"].endswith("mistyped-code")


def test_other_methods_go_to_flask(app, client, world):
    code = _code_in("valid", app, client, world)
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        _same(app, method, f"/api/v1/verify/{code}")
    assert client.post(f"/api/v1/verify/{code}").status_code == 405


def test_each_request_counts_once_against_the_allowance_answered_or_handed_on(app, client, world):
    """Five requests against an allowance of five: refusals (handed on to Flask) and
    answers (direct) alike count one each, and the sixth is the 429."""
    code = _code_in("valid", app, client, world)
    app.config["PUBLIC_RATE_LIMIT"] = "5 per minute"
    paths = [
        "/api/v1/verify/hello",
        f"/api/v1/verify/{code}",
        f"/api/v1/verify/{codes.new()}",
        f"/api/v1/verify/{code}",
        f"/v/{code}",
    ]
    assert [client.get(p).status_code for p in paths] == [400, 200, 404, 200, 200]
    refused = client.get(f"/api/v1/verify/{code}")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


def test_each_scan_is_counted_once_and_a_refusal_read_once(app, client, world, monkeypatch):
    code = _code_in("valid", app, client, world)
    counted: list[int] = []
    original = edge_scans.record

    def record(certificate_id, address, **kwargs):
        counted.append(certificate_id)
        return original(certificate_id, address, **kwargs)

    monkeypatch.setattr(edge_scans, "record", record)
    checked: list[str] = []
    original_checked = edge_scans.checked

    def spy(text, **kwargs):
        checked.append(text)
        return original_checked(text, **kwargs)

    monkeypatch.setattr(edge_scans, "checked", spy)
    client.get(f"/api/v1/verify/{code}")
    client.head(f"/api/v1/verify/{code}")
    unknown = codes.new()
    client.get(f"/api/v1/verify/{unknown}")
    assert len(counted) == 2
    assert checked == [code, code, unknown]


def test_a_failure_below_flask_is_answered_by_flask(app, client, world, monkeypatch):
    """Anything unforeseen in the direct route (here, the counter) is handed on: the
    buyer gets Flask's answer, never a bare server error."""
    code = _code_in("valid", app, client, world)

    def broken(*args, **kwargs):
        raise RuntimeError("the counter is broken")

    monkeypatch.setattr(edge_scans, "state", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as deployed: Flask answers the error
    response = client.get(f"/api/v1/verify/{code}")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
