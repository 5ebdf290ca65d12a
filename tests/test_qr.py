"""QR codes of certificates: what they encode, their sizes, and that each is made once.

The PNGs are read back with zxing-cpp, a decoder independent of the `qrcode` library
that makes them.
"""

import io
import re
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, insert, select

from registry import codes, qr
from registry.models import Certificate, QrImage, utcnow
from tests.factories import assay_data, bearer, certify, piece_data

BASE = "https://registry.test"  # PUBLIC_BASE_URL of the `app` fixture
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def code(client, world) -> str:
    """The canonical code of a new valid certificate, issued through the API."""
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert piece.status_code == 201, piece.json
    assay = client.post(
        f"/api/v1/pieces/{piece.json['id']}/assay",
        json=assay_data(),
        headers=bearer(world.inspector),
    )
    assert assay.status_code == 201, assay.json
    return assay.json["certificate"]["code"]


@pytest.fixture
def renders(monkeypatch) -> list[tuple]:
    """Every call of the renderer, as (text, format, scale, border)."""
    calls = []
    real = qr.render

    def counting(text, *, format, scale, border):
        calls.append((text, format, scale, border))
        return real(text, format=format, scale=scale, border=border)

    monkeypatch.setattr(qr, "render", counting)
    return calls


def decoded(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def stored(session) -> int:
    session.rollback()  # a fresh snapshot: the requests commit on their own connections
    return session.scalar(select(func.count()).select_from(QrImage))


def test_png_encodes_exactly_the_verification_address(client, code):
    response = client.get(f"/api/v1/certificates/{code}/qr.png")

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers["ETag"]
    assert decoded(response.data) == [f"{BASE}/v/{code}"]


def test_a_code_typed_leniently_gets_the_canonical_address(client, code):
    typed = codes.printed(code).lower()

    response = client.get(f"/api/v1/certificates/{typed}/qr.png")

    assert response.status_code == 200
    assert decoded(response.data) == [f"{BASE}/v/{code}"]


def test_png_error_correction_is_m(client, code):
    result = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(client.get(f"/api/v1/certificates/{code}/qr.png").data))
    )[0]
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.ec_level == "M"


def test_scale_and_border_set_the_png_size(client, code):
    def side(query: str) -> int:
        response = client.get(f"/api/v1/certificates/{code}/qr.png?{query}")
        assert response.status_code == 200, response.json
        image = Image.open(io.BytesIO(response.data))
        assert image.width == image.height
        assert decoded(response.data) == [f"{BASE}/v/{code}"]
        return image.width

    modules = side("") // 10 - 2 * 4  # defaults: 10 pixels a module, 4 modules of border
    assert modules in range(21, 178, 4)  # QR versions 1 to 40
    assert side("scale=3") == (modules + 2 * 4) * 3
    assert side("scale=1&border=16") == modules + 2 * 16
    assert side("scale=40&border=5") == (modules + 2 * 5) * 40


def test_svg_is_xml_without_style_attributes_sized_by_scale_and_border(client, code):
    response = client.get(f"/api/v1/certificates/{code}/qr.svg?scale=6&border=5")

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == IMMUTABLE
    svg = ET.fromstring(response.data)  # noqa: S314 (our own output, not untrusted input)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    elements = list(svg.iter())
    # The page's Content-Security-Policy allows no inline styles: colour by attributes.
    assert not [e.tag for e in elements if "style" in e.attrib or e.tag.endswith("}style")]
    assert b"style=" not in response.data
    paths = [e for e in elements if e.tag.endswith("}path")]
    assert len(paths) == 1 and paths[0].get("fill") == "#000000"
    _, _, width, height = (int(n) for n in svg.get("viewBox").split())
    assert width == height
    modules = width - 2 * 5
    assert modules in range(21, 178, 4)
    assert svg.get("width") == svg.get("height") == str((modules + 2 * 5) * 6)


def test_svg_and_png_draw_the_same_modules(client, code):
    """The SVG's path covers exactly the dark modules of the PNG."""
    png = Image.open(io.BytesIO(client.get(f"/api/v1/certificates/{code}/qr.png?scale=1").data))
    svg = client.get(f"/api/v1/certificates/{code}/qr.svg?scale=1").data
    path = ET.fromstring(svg).find("{http://www.w3.org/2000/svg}path")  # noqa: S314 (our own)
    drawn = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", path.get("d"))}
    dark = {(x, y) for y in range(png.height) for x in range(png.width) if not png.getpixel((x, y))}
    assert drawn == dark


@pytest.mark.parametrize("image", ["qr.png", "qr.svg"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("scale=0", "scale"),
        ("scale=41", "scale"),
        ("scale=-1", "scale"),
        ("scale=ten", "scale"),
        ("scale=2.5", "scale"),
        ("scale=", "scale"),
        ("border=3", "border"),
        ("border=17", "border"),
        ("border=1e1", "border"),
        ("scale=99999999999999999999999", "scale"),
    ],
)
def test_sizes_out_of_bounds_are_refused_naming_the_parameter(
    client, code, renders, image, query, field
):
    """Like every query parameter of the API: 400 invalid-parameters, naming it."""
    response = client.get(f"/api/v1/certificates/{code}/{image}?{query}")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["type"] == "/problems/invalid-parameters"
    assert list(body["errors"]) == [field]
    assert field in body["detail"]
    assert renders == []


@pytest.mark.parametrize("image", ["qr.png", "qr.svg"])
def test_bad_and_unknown_codes_are_problems(client, code, image):
    mistyped = code[:-1] + ("1" if code.endswith("0") else "0")
    cases = [
        (mistyped, 400, "/problems/mistyped-code"),
        ("not-a-code", 400, "/problems/malformed-code"),
        (codes.new(), 404, "/problems/not-found"),
    ]
    for text, status, kind in cases:
        response = client.get(f"/api/v1/certificates/{text}/{image}")
        assert response.status_code == status, text
        assert response.mimetype == "application/problem+json"
        assert response.json["type"] == kind
        assert "immutable" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("image", ["png", "svg"])
def test_an_image_is_made_once_then_served_from_storage(app, client, session, code, renders, image):
    first = client.get(f"/api/v1/certificates/{code}/qr.{image}")
    again = app.test_client().get(f"/api/v1/certificates/{code}/qr.{image}")

    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert renders == [(f"{BASE}/v/{code}", image, 10, 4)]
    assert stored(session) == 1
    row = session.scalar(select(QrImage))
    assert (row.url, row.format, row.scale, row.border) == (f"{BASE}/v/{code}", image, 10, 4)
    assert row.data == first.data

    # Another size is another image, made once too.
    for _ in range(2):
        assert client.get(f"/api/v1/certificates/{code}/qr.{image}?scale=4").status_code == 200
    assert len(renders) == 2
    assert stored(session) == 2


def test_a_new_public_base_url_makes_a_new_image(app, client, session, code, renders):
    before = client.get(f"/api/v1/certificates/{code}/qr.png")
    app.config["PUBLIC_BASE_URL"] = "https://verify.example.org"

    after = client.get(f"/api/v1/certificates/{code}/qr.png")

    assert decoded(before.data) == [f"{BASE}/v/{code}"]
    assert decoded(after.data) == [f"https://verify.example.org/v/{code}"]
    assert after.headers["ETag"] != before.headers["ETag"]
    assert len(renders) == 2
    assert stored(session) == 2


def test_a_matching_etag_is_answered_304(client, code, renders):
    url = f"/api/v1/certificates/{code}/qr.svg"
    first = client.get(url)

    cached = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    stale = client.get(url, headers={"If-None-Match": '"something-else"'})

    assert cached.status_code == 304
    assert cached.data == b""
    assert cached.headers["ETag"] == first.headers["ETag"]
    assert cached.headers["Cache-Control"] == IMMUTABLE
    assert stale.status_code == 200 and stale.data == first.data
    assert len(renders) == 1


def test_an_image_stored_meanwhile_by_another_request_is_served_all_the_same(
    app, client, session, code, monkeypatch
):
    """Two first requests at once: the one that stores second still answers 200."""
    real = qr.render
    certificate_id = session.scalar(select(Certificate.id).where(Certificate.code == code))

    def render_while_another_stores(text, *, format, scale, border):
        data = real(text, format=format, scale=scale, border=border)
        with app.extensions["registry.engine"].begin() as other:
            other.execute(
                insert(QrImage).values(
                    certificate_id=certificate_id,
                    url=text,
                    format=format,
                    scale=scale,
                    border=border,
                    data=data,
                    created_at=utcnow(),
                )
            )
        return data

    monkeypatch.setattr(qr, "render", render_while_another_stores)
    response = client.get(f"/api/v1/certificates/{code}/qr.png")

    assert response.status_code == 200
    assert decoded(response.data) == [f"{BASE}/v/{code}"]
    assert stored(session) == 1


def test_a_busy_sqlite_database_neither_holds_up_nor_fails_the_image(
    app, client, session, code, database_url, renders
):
    """SQLite's one writer is busy (a long import): serve the image, store it later."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    outcome = {}
    reader = threading.Thread(
        target=lambda: outcome.update(
            response=app.test_client().get(f"/api/v1/certificates/{code}/qr.png")
        )
    )
    started = time.monotonic()
    reader.start()
    reader.join(timeout=10)  # the lock wait would be 30 s if storing waited for it
    waited = time.monotonic() - started
    held_up = reader.is_alive()
    writer.execute("ROLLBACK")
    writer.close()
    reader.join()

    assert not held_up and waited < 5
    assert outcome["response"].status_code == 200
    assert decoded(outcome["response"].data) == [f"{BASE}/v/{code}"]
    assert stored(session) == 0
    # Once the writer is done, the next request stores it.
    assert client.get(f"/api/v1/certificates/{code}/qr.png").data == outcome["response"].data
    assert stored(session) == 1
    assert len(renders) == 2


def test_only_the_usual_sizes_are_kept(client, world, session):
    """Requests for every size there is cannot fill the database: odd sizes are made
    each time and not kept."""
    _, certificate = certify(client, world)
    for scale, border in ((7, 4), (10, 9), (10, 4)):
        url = f"/api/v1/certificates/{certificate['code']}/qr.png?scale={scale}&border={border}"
        assert client.get(url).status_code == 200
    kept = session.execute(select(QrImage.scale, QrImage.border)).all()
    assert [tuple(row) for row in kept] == [(10, 4)]
