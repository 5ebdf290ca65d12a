"""Whatever goes wrong, the client gets RFC 9457 problem JSON and never a stack trace."""

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError


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
