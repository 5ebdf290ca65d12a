"""Whatever goes wrong, a program gets RFC 9457 problem JSON and a person a page, never a
stack trace; registry.edge.problems chooses which, per request."""

import sqlite3

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import TooManyRequests

from registry import create_app
from registry.errors import Conflict, Forbidden, InvalidToken, Unavailable
from tests.factories import bearer, piece_data


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


# -- what the database's refusal was: busy, deadlocked, full or unreachable ---------------


def _wrapped(orig: Exception):
    """`orig`, a driver's exception, as SQLAlchemy raises it: wrapped in its DBAPIError."""
    # SQLAlchemy picks its class by the PEP 249 name in the driver's class's ancestry
    # (psycopg.errors.DiskFull is a psycopg.OperationalError): an OperationalError here.
    return DBAPIError.instance("INSERT INTO piece ...", {}, orig, Exception)


@pytest.mark.parametrize(
    ("orig", "slug", "words", "retry_after"),
    [
        (sqlite3.OperationalError("database is locked"), "database-busy", "busy", "2"),
        (sqlite3.OperationalError("database table is locked"), "database-busy", "busy", "2"),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), "database-busy", "busy", "2"),
        (
            psycopg.errors.DeadlockDetected("deadlock detected"),
            "database-deadlock",
            "deadlock",
            "1",
        ),
        (
            psycopg.errors.SerializationFailure("could not serialize"),
            "database-deadlock",
            "same time",
            "1",
        ),
        (sqlite3.OperationalError("database or disk is full"), "database-full", "full", None),
        (
            psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device'),
            "database-full",
            "full",
            None,
        ),
        (
            psycopg.OperationalError("could not extend file: No space left on device"),
            "database-full",
            "full",
            None,
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                "Connection refused"
            ),
            "database-unreachable",
            "reach",
            "5",
        ),
        (
            psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
            "database-unreachable",
            "reach",
            "5",
        ),
        (
            sqlite3.OperationalError("unable to open database file"),
            "database-unreachable",
            "reach",
            "5",
        ),
    ],
    ids=[
        "sqlite-locked",
        "sqlite-table-locked",
        "pg-lock-not-available",
        "pg-deadlock",
        "pg-serialization",
        "sqlite-full",
        "pg-disk-full",
        "pg-no-space-without-sqlstate",
        "pg-refused",
        "pg-shutdown",
        "sqlite-cannot-open",
    ],
)
def test_a_database_refusal_says_which_it_is(app, orig, slug, words, retry_after):
    error = _wrapped(orig)
    assert isinstance(error, DBAPIError)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/api/v1/boom", "pieces.boom", _raiser(error))
    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    body = response.json
    assert body["type"] == f"/problems/{slug}", body
    assert words in body["detail"], body
    assert response.headers.get("Retry-After") == retry_after
    assert str(orig) not in response.get_data(as_text=True)


def test_each_database_refusal_has_its_own_words(app):
    """Busy, deadlock, disk full and unreachable never read alike."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    origs = [
        sqlite3.OperationalError("database is locked"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        sqlite3.OperationalError("database or disk is full"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ]
    for n, orig in enumerate(origs):
        app.add_url_rule(f"/api/v1/boom{n}", f"pieces.boom{n}", _raiser(_wrapped(orig)))
    client = app.test_client()
    details = {client.get(f"/api/v1/boom{n}").json["detail"] for n in range(len(origs))}
    assert len(details) == len(origs)


def test_a_full_disk_on_a_portal_page_says_so_in_english(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = _wrapped(sqlite3.OperationalError("database or disk is full"))
    app.add_url_rule("/maker/boom", "maker.boom", _raiser(error))
    response = app.test_client().get("/maker/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "full" in response.get_data(as_text=True)
    assert "Retry-After" not in response.headers


def test_an_unreachable_database_end_to_end_is_a_503_saying_so(tmp_path):
    """A real PostgreSQL URL whose port refuses: the driver's own error, answered."""
    app = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2",
            "KEYS_DIR": str(tmp_path / "keys"),
            "GENERATE_KEY_ON_START": False,
        }
    )
    response = app.test_client().get("/api/v1/makers")
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.json["type"] == "/problems/database-unreachable"
    assert response.headers["Retry-After"]


def test_a_full_sqlite_database_end_to_end_is_a_503_saying_so(app, world, database_url):
    """SQLite's own SQLITE_FULL, from a database allowed no more pages than it has."""
    if not database_url.startswith("sqlite"):
        pytest.skip("max_page_count is SQLite's")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    engine = app.extensions["registry.engine"]

    @event.listens_for(engine, "connect")
    def _no_room(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # clamped to its pages now

    engine.dispose()
    client = app.test_client()
    # The pages it has may still hold some room (free pages, space left in a page): write
    # until there is none, a bounded number of times.
    for attempt in range(100):
        response = client.post(
            "/api/v1/pieces",
            json=piece_data(reference=f"FULL-{attempt}", description="d" * 1900, title="t" * 200),
            headers=bearer(world.maker),
        )
        if response.status_code != 201:
            break
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.json["type"] == "/problems/database-full"
    assert "Retry-After" not in response.headers


def test_form_fields_without_a_usable_name_are_refused_as_problem_json_not_a_500(client):
    """Found by the fuzzer: a form whose field names are empty or a line break had its
    errors reported under None, which JSON cannot name, and the refusal itself failed."""
    boundary = "db5a9f8e44efba6ee33b8aa058a649dc"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=""\r\n\r\nnull\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="\n"\r\n\r\nnull\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncopied_tag\r\n'
        f"--{boundary}--\r\n"
    )
    answer = client.post(
        "/api/v1/reports",
        data=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert "" in answer.json["errors"]
