"""Whatever goes wrong, a program gets RFC 9457 problem JSON and a person a page, never a
stack trace; registry.edge.problems chooses which, per request."""

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import TooManyRequests

from registry.errors import Conflict, Forbidden, InvalidToken, Unavailable


def _raiser(exc):
    def view():
        raise exc

    return view


@pytest.mark.parametrize(
    ("exc", "status", "title"),
    [
        (IntegrityError("INSERT", {}, Exception("unique")), 409, "Conflict with the current state"),
        (DataError("INSERT", {}, Exception("value too long")), 422, "Invalid input"),
        (OperationalError("SELECT", {}, Exception("database is locked")), 503, None),
        (ZeroDivisionError("secret internals"), 500, "Internal error"),
    ],
    ids=["integrity", "data", "operational", "bug"],
)
def test_failures_become_problem_json_without_internals(app, exc, status, title):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, not as in TESTING
    app.add_url_rule("/boom", "boom", _raiser(exc))
    response = app.test_client().get("/boom")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["detail"]
    if title:
        assert body["title"] == title
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret internals" not in text
    assert "value too long" not in text and "unique" not in text
    if status == 503:
        assert response.headers["Retry-After"]


def test_unknown_addresses_and_methods_are_problems_too(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.delete("/api/v1/makers")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]


def test_only_the_edge_registers_handlers_and_for_the_whole_app(app):
    """Blueprints have none of their own: registry.edge.problems chooses per request."""
    assert set(app.error_handler_spec) == {None}


@pytest.mark.parametrize(
    ("exc", "status", "retry_after"),
    [
        (Conflict("Taken."), 409, None),
        (Forbidden("Not yours."), 404, None),  # another maker's object is "not found"
        (OperationalError("SELECT", {}, Exception("database is locked")), 503, "2"),
    ],
    ids=["conflict", "forbidden", "operational"],
)
def test_a_portal_page_fails_with_a_page_for_one_visitor(app, exc, status, retry_after):
    app.add_url_rule("/maker/boom", "maker.boom", _raiser(exc))  # in the maker's blueprint
    response = app.test_client().get("/maker/boom", headers={"Accept": "application/json"})
    assert response.status_code == status and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("Retry-After") == retry_after


def test_the_verification_pages_have_their_own_busy_and_unavailable_pages(app):
    app.add_url_rule("/v-busy", "verification.busy", _raiser(TooManyRequests()))
    app.add_url_rule("/v-down", "verification.down", _raiser(OperationalError("S", {}, None)))
    app.add_url_rule("/v-bug", "verification.bug", _raiser(Unavailable("No key.")))
    client = app.test_client()
    busy = client.get("/v-busy")
    assert busy.status_code == 429 and busy.mimetype == "text/html"
    down = client.get("/v-down")
    assert down.status_code == 503 and down.mimetype == "text/html"
    assert down.headers["Retry-After"] == "2" and "no-store" not in down.headers.get(
        "Cache-Control", ""
    )
    # Anything else there is answered as outside the pages.
    assert client.get("/v-bug").mimetype == "application/problem+json"


def test_an_unknown_address_is_a_page_for_a_browser_and_a_problem_for_the_rest(client):
    browser = client.get("/nothing-here", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 404 and browser.mimetype == "text/html"
    program = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert program.status_code == 404 and program.mimetype == "application/problem+json"
    api = client.get("/api/v1/nothing-here", headers={"Accept": "text/html"})
    assert api.mimetype == "application/problem+json"


def test_a_refused_token_is_answered_with_its_challenge(app):
    app.add_url_rule("/api/v1/boom", "pieces.boom", _raiser(InvalidToken("Unknown token.")))
    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == InvalidToken.challenge
    assert response.json["type"] == "/problems/invalid-token"
