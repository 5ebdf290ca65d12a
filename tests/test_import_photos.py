"""Imported rows name their photos in a .zip uploaded with the sheet (issue 14, item 8):
through the portal and the API; a photo missing, unreadable or too large refuses its row
alone, and a .zip that is not one refuses the form, with the reason in the page's
language."""

import io
import zipfile

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from registry.edge import database
from tests.factories import bearer, csrf_token, sign_in, with_passwords
from tests.test_photos import jpeg

SHEET = (
    "артикул;вид;название;металл;проба;масса;фото\n"
    "Z-1;кольцо;Кольцо «Тайга»;серебро;925;3,5;IMG_0001.JPG\n"
    "Z-2;серьги;Серьги «Саяны»;золото;585;2,1;photos/img_0002.jpg\n"
    "Z-3;кольцо;Кольцо «Кедр»;серебро;925;4;нет-такого.jpg\n"
    "Z-4;кольцо;Кольцо «Ока»;серебро;925;4;notes.txt\n"
    "Z-5;брошь;Брошь «Енисей»;серебро;925;6;\n"
)


def _zip(files: dict[str, bytes], *, compression=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


PHOTOS = {
    "IMG_0001.jpg": jpeg((640, 480)),
    "photos/IMG_0002.JPG": jpeg((480, 640)),
    "notes.txt": b"not a photo",
}


@pytest.fixture
def maker(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    return client


def _import(client, sheet: str, archive: bytes | None, **fields):
    form = {"csrf_token": csrf_token(client, "/maker/import"), "charset": "auto", **fields}
    form["file"] = FileStorage(io.BytesIO(sheet.encode("utf-8")), "pieces.csv", "file")
    if archive is not None:
        form["photos"] = FileStorage(io.BytesIO(archive), "photos.zip", "photos")
    boundary, body = encode_multipart(form)
    return client.post(
        "/maker/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def _pieces(client, world) -> dict[str, dict]:
    items = client.get("/api/v1/pieces?limit=100", headers=bearer(world.maker)).json["items"]
    return {p["reference"]: p for p in items}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_rows_get_the_photos_they_name_and_a_bad_photo_refuses_its_row_only(maker, world, lang):
    maker.get(f"/maker/import?lang={lang}")
    page = _import(maker, SHEET, _zip(PHOTOS)).get_data(as_text=True)
    report = page.split("<tbody>")[1].split("</tbody>")[0]
    assert 'data-line="4"' in report and 'data-line="5"' in report  # Z-3, Z-4
    assert 'data-line="2"' not in report and 'data-line="3"' not in report
    if lang == "ru":
        assert "нет-такого.jpg" in report and "No file" not in report
    else:
        assert "No file нет-такого.jpg in the .zip." in report
    stored = _pieces(maker, world)
    assert set(stored) == {"Z-1", "Z-2", "Z-5"}  # the refused rows stored nothing
    assert stored["Z-1"]["photo"] and stored["Z-2"]["photo"]
    assert stored["Z-5"]["photo"] is None
    assert stored["Z-1"]["photo"]["sha256"] != stored["Z-2"]["photo"]["sha256"]


def test_a_sheet_naming_photos_without_a_zip_refuses_those_rows(maker, world):
    page = _import(maker, SHEET, None).get_data(as_text=True)
    report = page.split("<tbody>")[1].split("</tbody>")[0]
    for line in (2, 3, 4, 5):
        assert f'data-line="{line}"' in report
    assert set(_pieces(maker, world)) == {"Z-5"}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_zip_that_is_not_one_refuses_the_form_beside_its_field(maker, world, lang):
    maker.get(f"/maker/import?lang={lang}")
    refused = _import(maker, SHEET, b"PK not really")
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="e-photos"' in text
    assert ("Not a .zip file." in text) == (lang == "en")
    assert _pieces(maker, world) == {}


def test_a_photo_over_the_limit_in_the_zip_is_refused_unread(app, maker, world):
    """A member's stated size is checked first: 30 MB of zeros, compressed to a few kB,
    is refused without being inflated."""
    bomb = _zip({"IMG_0001.jpg": b"\0" * (30 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    page = _import(maker, SHEET.splitlines()[0] + "\n" + SHEET.splitlines()[1] + "\n", bomb)
    text = page.get_data(as_text=True)
    assert 'data-line="2"' in text.split("<tbody>")[1]
    assert _pieces(maker, world) == {}


def test_the_api_imports_a_sheet_with_its_photos(client, world):
    boundary, body = encode_multipart(
        {
            "file": FileStorage(io.BytesIO(SHEET.encode()), "pieces.csv", "file"),
            "photos": FileStorage(io.BytesIO(_zip(PHOTOS)), "photos.zip", "photos"),
        }
    )
    report = client.post(
        "/api/v1/pieces/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=bearer(world.maker),
    )
    assert report.status_code == 200, report.json
    assert (report.json["created"], report.json["rejected"]) == (3, 2)
    rejected = {r["reference"]: r["errors"] for r in report.json["rows"] if r["errors"]}
    assert rejected["Z-3"] == {"photo": ["No file нет-такого.jpg in the .zip."]}
    assert "photo" in rejected["Z-4"]
    assert _pieces(client, world)["Z-1"]["photo"]
