"""A phone's photo as it is (issue 14, item 10): taken up to PHOTO_MAX_BYTES through the
maker's forms and the photo API and scaled down on the server, even above the body limit
of every other request; one over the limit refused with every value typed kept; the
limit stated beside the field and checked in the form by the pages' one script."""

import base64
import hashlib
import io
import os
import re

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from registry.edge import database
from tests.factories import bearer, csrf_token, piece_data, sign_in, with_passwords
from tests.test_photos import new_piece, put_photo

FIELDS = {
    "reference": "PH-1",
    "kind": "ring",
    "title": "Кольцо «Тайга»",
    "metal": "silver",
    "fineness": "925",
    "weight_g": "3,5",
}


def _phone_photo() -> bytes:
    """A 12 MP photo of noise: over 10 MB, as a phone saves a detailed scene."""
    image = Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def maker(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    return client


def _register(client, photo: bytes, **extra):
    token = csrf_token(client, "/maker/pieces/new")
    fields = {**FIELDS, **extra, "csrf_token": token}
    # Encoded here, in memory: the test client would spool a large file it never closes.
    boundary, body = encode_multipart(
        {**fields, "photo": FileStorage(io.BytesIO(photo), "IMG_0001.jpg", "photo")}
    )
    return client.post(
        "/maker/pieces/new", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_a_phone_photo_over_the_old_8_mb_is_taken_and_scaled_down(app, maker, world):
    photo = _phone_photo()
    assert len(photo) > app.config["MAX_CONTENT_LENGTH"]  # above every other body's limit
    registered = _register(maker, photo)
    assert registered.status_code == 303, registered.get_data(as_text=True)[:500]
    piece_id = int(registered.headers["Location"].rsplit("/", 1)[1])
    shown = maker.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.maker)).json
    stored = maker.get(
        f"/api/v1/photos/{shown['photo']['sha256']}.jpg", headers=bearer(world.maker)
    )
    assert stored.status_code == 200
    assert max(Image.open(io.BytesIO(stored.data)).size) == app.config["PHOTO_MAX_SIDE"]


@pytest.mark.parametrize(("lang", "words"), [("ru", "больше"), ("en", "larger than")])
def test_a_photo_over_the_limit_keeps_every_value_typed(app, maker, lang, words):
    app.config["PHOTO_MAX_BYTES"] = 100_000
    maker.get(f"/maker/?lang={lang}")
    page = _register(maker, b"\xff\xd8" + b"\0" * 200_000, description="Серебро, чернение")
    assert page.status_code == 413
    text = page.get_data(as_text=True)
    for value in ("PH-1", "Кольцо «Тайга»", "Серебро, чернение"):
        assert value in text.replace("&#34;", '"').replace("&laquo;", "«").replace("&raquo;", "»")
    assert words in text.split("data-error-summary")[1].split("</div>")[0].lower()
    assert maker.get("/maker/").get_data(as_text=True).count("PH-1") == 0  # nothing stored


def test_a_body_beyond_even_the_upload_limit_is_a_page_not_a_crash(app, maker):
    app.config["UPLOAD_MAX_BODY"] = 50_000
    page = _register(maker, b"\xff\xd8" + b"\0" * 100_000)
    assert page.status_code == 413
    assert "text/html" in page.headers["Content-Type"]


def test_the_photo_api_takes_a_photo_above_the_body_limit_of_other_requests(app, client, world):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    piece_id = new_piece(client, world.maker)
    photo = io.BytesIO()
    Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(photo, "JPEG")
    assert len(photo.getvalue()) > 10_000
    assert put_photo(client, world.maker, piece_id, photo.getvalue()).status_code == 200
    # Every other request keeps to MAX_CONTENT_LENGTH.
    refused = client.post(
        "/api/v1/pieces",
        json=piece_data(description="x" * 20_000),
        headers=bearer(world.maker),
    )
    assert refused.status_code == 413


def test_the_form_states_the_limit_and_checks_it_with_the_one_script_its_policy_allows(
    maker, client, world
):
    page = maker.get("/maker/pieces/new?lang=en")
    text = page.get_data(as_text=True)
    assert "at most 24 MB" in text
    assert 'data-max-bytes="25165824"' in text
    script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page.headers["Content-Security-Policy"]
    # The verification pages run no script at all.
    assert "script-src" not in client.get("/verify").headers["Content-Security-Policy"]
