"""The request body limit holds for every body, with a Content-Length or chunked.

A WSGI server that reads `Transfer-Encoding: chunked` itself (gunicorn, werkzeug's own)
passes the body on without a length and sets `wsgi.input_terminated`; these tests send
such requests through the test client as the server hands them over.
"""

import http.client
import io
import json
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart

from registry import create_app
from registry.edge import database
from registry.models import Piece
from tests.factories import bearer, csrf_token, sign_in, with_passwords

LIMIT = 16 * 1024
CSV_HEADER = "reference,kind,title,description,metal,fineness,weight_g,stones,uin"


@pytest.fixture
def small_app(database_url, tmp_path, world):
    """An app over `world`'s database with a small body limit."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            "BABEL_DEFAULT_LOCALE": "en",
            "MAX_CONTENT_LENGTH": LIMIT,
            # A photo's request may be larger than others: held to this limit instead.
            "UPLOAD_MAX_BODY": LIMIT,
        }
    )
    yield app
    with app.app_context():
        engine = database.engine()
    engine.dispose()


@pytest.fixture
def small_client(small_app):
    return small_app.test_client()


def _pieces(app) -> int:
    with app.app_context():
        return database.session().scalar(select(func.count()).select_from(Piece))


def _csv(size: int) -> bytes:
    """A CSV of good rows, `size` bytes or a little more."""
    lines = [CSV_HEADER]
    size_now = len(CSV_HEADER) + 1
    while size_now < size:
        line = f"CH-{len(lines)},ring,Кольцо,,silver,925,2.5,,"
        lines.append(line)
        size_now += len(line.encode()) + 1
    return ("\n".join(lines) + "\n").encode()


def _chunked(client, path: str, body: bytes, content_type: str, headers=None):
    """POST `body` as a server hands on a chunked request: input terminated, and no length
    (werkzeug ignores the Content-Length the test client adds, as Transfer-Encoding wins)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked", **(headers or {})},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_import_over_the_limit_is_413_and_stores_nothing(small_app, small_client, world):
    body = _csv(LIMIT + 4096)
    response = _chunked(
        small_client, "/api/v1/pieces/import", body, "text/csv", bearer(world.maker)
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert "larger than" in response.json["detail"]
    assert _pieces(small_app) == 0


def test_a_chunked_import_within_the_limit_is_read_whole(small_app, small_client, world):
    body = _csv(LIMIT - 1024)
    rows = body.count(b"\n") - 1
    response = _chunked(
        small_client, "/api/v1/pieces/import", body, "text/csv", bearer(world.maker)
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.json["created"] == rows
    assert _pieces(small_app) == rows


def test_a_body_of_exactly_the_limit_is_read_whole(small_app, small_client, world):
    body = _csv(LIMIT - 200)
    body += b" " * (LIMIT - len(body))  # trailing blanks: the same rows, exactly LIMIT bytes
    assert len(body) == LIMIT
    response = _chunked(
        small_client, "/api/v1/pieces/import", body, "text/csv", bearer(world.maker)
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_a_chunked_json_body_over_the_limit_is_413(small_app, small_client, world):
    body = b'{"reference": "J-1", "description": "' + b"d" * LIMIT + b'"}'
    response = _chunked(
        small_client, "/api/v1/pieces", body, "application/json", bearer(world.maker)
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"


def test_a_chunked_photo_over_the_limit_is_413(small_app, small_client, world):
    created = small_client.post(
        "/api/v1/pieces",
        json={
            "reference": "PH-1",
            "kind": "ring",
            "title": "Кольцо",
            "metal": "gold",
            "fineness": 585,
            "weight_g": "2.5",
        },
        headers=bearer(world.maker),
    )
    assert created.status_code == 201, created.json
    path = f"/api/v1/pieces/{created.json['id']}/photo"
    response = small_client.put(
        path,
        input_stream=io.BytesIO(b"\xff\xd8" + b"\0" * (LIMIT + 10)),
        content_type="image/jpeg",
        headers={"Transfer-Encoding": "chunked", **bearer(world.maker)},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:500]


def test_a_chunked_import_form_over_the_limit_is_413_and_stores_nothing(
    small_app, small_client, world
):
    with small_app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(small_client, "maker@test.example").status_code == 302
    token = csrf_token(small_client, "/maker/import")
    boundary, body = encode_multipart(
        {
            "csrf_token": token,
            "charset": "utf-8",
            "file": FileStorage(io.BytesIO(_csv(LIMIT + 4096)), "pieces.csv", "file"),
        }
    )
    response = _chunked(
        small_client, "/maker/import", body, f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    assert _pieces(small_app) == 0


def test_over_real_http_a_chunked_import_over_the_limit_is_413(small_app, world):
    """The same through a real server that decodes the chunks itself (werkzeug's)."""
    server = make_server("127.0.0.1", 0, small_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    body = _csv(LIMIT + 4096)

    def chunks():
        for at in range(0, len(body), 1000):
            yield body[at : at + 1000]

    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        connection.request(
            "POST",
            "/api/v1/pieces/import",
            body=chunks(),
            headers={"Content-Type": "text/csv", **bearer(world.maker)},
            encode_chunked=True,
        )
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
        connection.close()
    finally:
        server.shutdown()
        thread.join()
    assert status == 413, answer
    assert _pieces(small_app) == 0
