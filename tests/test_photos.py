"""Piece photos: upload by the piece's maker, re-encoding without metadata, the signed
SHA-256, and public serving with cache headers."""

import hashlib
import io
import json
import re
import struct
import zlib

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select, update

from registry import accounts, demo, photos, pieces
from registry.edge import database, signing
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.models import Certificate, Event, Photo, Piece
from schemas.pieces import PieceIn
from tests.factories import EMAILS, assay_data, bearer, piece_data, sign_in, with_passwords

# --- images -----------------------------------------------------------------------------


def _encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _halves(size=(40, 20), left="red", right="blue") -> Image.Image:
    """Left half one colour, right half another: rotation shows where they end up."""
    image = Image.new("RGB", size, left)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return image


def jpeg(size=(40, 20), **options) -> bytes:
    return _encoded(_halves(size), "JPEG", quality=95, **options)


def jpeg_with_gps_and_orientation() -> bytes:
    """A 40×20 JPEG to be shown turned 90° clockwise, with GPS, XMP and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Workshop camera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (56.0, 0.0, 36.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (92.0, 52.0, 12.0)
    return jpeg(exif=exif, comment=b"workshop at home", xmp=b"<x:xmpmeta>secret</x:xmpmeta>")


def png_with_alpha() -> bytes:
    """Transparent everywhere except an opaque red square in the middle."""
    image = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (10, 10), (255, 0, 0, 255)), (10, 10))
    return _encoded(image, "PNG")


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width`×`height` pixels and holds almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def markers(data: bytes) -> set[int]:
    """The JPEG marker segments before the image data (APPn, COM, DQT, SOF, …)."""
    assert data[:2] == b"\xff\xd8"
    found, at = set(), 2
    while data[at] == 0xFF:
        marker = data[at + 1]
        found.add(marker)
        if marker == 0xDA:  # start of scan: the metadata segments are all before it
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return found


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- helpers ------------------------------------------------------------------------------


def new_piece(client, token: str, **overrides) -> int:
    response = client.post("/api/v1/pieces", json=piece_data(**overrides), headers=bearer(token))
    assert response.status_code == 201, response.json
    return response.json["id"]


def put_photo(client, token: str, piece_id: int, data: bytes, content_type="image/jpeg"):
    return client.put(
        f"/api/v1/pieces/{piece_id}/photo",
        data=data,
        headers={**bearer(token), "Content-Type": content_type},
    )


def put_form(client, token: str, piece_id: int, data: bytes, field="photo"):
    return client.put(
        f"/api/v1/pieces/{piece_id}/photo",
        data={field: (io.BytesIO(data), "ring.jpg")},
        content_type="multipart/form-data",
        headers=bearer(token),
    )


def attest(client, world, piece_id: int, **overrides):
    response = client.post(
        f"/api/v1/pieces/{piece_id}/assay",
        json=assay_data(**overrides),
        headers=bearer(world.inspector),
    )
    assert response.status_code == 201, response.json
    return response.json


def count(app, model) -> int:
    with app.app_context():
        return database.session().scalar(select(func.count()).select_from(model))


def events(app, action: str) -> list[Event]:
    with app.app_context():
        return list(database.session().scalars(select(Event).where(Event.action == action)))


def fetch(client, path: str, token: str | None = None, **headers):
    """GET a photo, as `token`'s account (an uncertified piece's photo is its maker's)."""
    return client.get(path, headers={**(bearer(token) if token else {}), **headers})


# --- re-encoding --------------------------------------------------------------------------


def test_a_jpeg_is_stored_upright_without_exif_gps_or_other_metadata(client, world):
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg_with_gps_and_orientation())

    assert response.status_code == 200, response.json
    described = response.json
    assert (described["width"], described["height"]) == (20, 40)  # turned as EXIF said
    assert described["media_type"] == "image/jpeg"
    stored = fetch(client, described["url"], world.maker).data
    assert described["sha256"] == hashlib.sha256(stored).hexdigest()
    image = opened(stored)
    assert image.format == "JPEG"
    assert image.size == (20, 40)
    assert not image.getexif()
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    # Only JFIF's APP0 among the application segments; no APP1 (EXIF, XMP), APP2 (ICC),
    # COM (comments) or any other.
    segments = markers(stored)
    assert {m for m in segments if 0xE0 <= m <= 0xEF or m == 0xFE} <= {0xE0}
    assert b"workshop" not in stored and b"secret" not in stored
    # Left (red) was the top: the photo was turned, not only relabelled.
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_a_png_with_alpha_is_laid_on_white(client, world):
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, png_with_alpha(), "image/png")

    assert response.status_code == 200, response.json
    image = opened(fetch(client, response.json["url"], world.maker).data)
    assert image.mode == "RGB"
    assert min(image.getpixel((2, 2))) > 245  # transparent became white
    red = image.getpixel((15, 15))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60, red


def test_a_webp_is_accepted_and_stored_as_jpeg(client, world):
    piece_id = new_piece(client, world.maker)
    webp = _encoded(_halves((64, 48)), "WEBP", quality=90)

    response = put_photo(client, world.maker, piece_id, webp, "image/webp")

    assert response.status_code == 200, response.json
    assert (response.json["width"], response.json["height"]) == (64, 48)
    assert opened(fetch(client, response.json["url"], world.maker).data).format == "JPEG"


def test_the_content_type_is_not_trusted(client, world):
    """A PNG labelled as a JPEG is read as the PNG it is."""
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, png_with_alpha(), "image/jpeg")

    assert response.status_code == 200, response.json
    assert (response.json["width"], response.json["height"]) == (30, 30)


def test_a_large_photo_is_scaled_down_and_has_a_small_thumbnail(app, client, world):
    app.config["PHOTO_MAX_SIDE"] = 300
    app.config["PHOTO_THUMB_SIDE"] = 120
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg((800, 600)))

    assert response.status_code == 200, response.json
    assert (response.json["width"], response.json["height"]) == (300, 225)
    assert opened(fetch(client, response.json["url"], world.maker).data).size == (300, 225)
    thumb = fetch(client, response.json["thumb_url"], world.maker)
    assert thumb.status_code == 200
    assert thumb.mimetype == "image/jpeg"
    image = opened(thumb.data)
    assert image.format == "JPEG"
    assert image.size == (120, 90)


def test_the_default_thumbnail_is_at_most_the_thumb_side(app, client, world):
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg((1600, 1200)))

    assert response.status_code == 200, response.json
    assert (response.json["width"], response.json["height"]) == (1600, 1200)
    thumb = opened(fetch(client, response.json["thumb_url"], world.maker).data)
    assert max(thumb.size) <= app.config["PHOTO_THUMB_SIDE"]
    assert thumb.size == (640, 480)


# --- what is refused ----------------------------------------------------------------------


def _truncated_jpeg() -> bytes:
    whole = jpeg((200, 150))
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        (_encoded(Image.new("P", (10, 10)), "GIF"), "image/png", "not a JPEG, PNG or WebP"),
        (b"This is a ring, honestly.", "image/jpeg", "not a JPEG, PNG or WebP"),
        (_truncated_jpeg(), "image/jpeg", "truncated or corrupt"),
        (b"", "image/jpeg", "empty"),
        (png_header(20_000, 20_000), "image/png", "pixels"),  # Pillow's own error
        (png_header(10_000, 10_000), "image/png", "pixels"),  # Pillow's warning
        (png_header(7_000, 7_000), "image/png", "7000×7000 pixels"),  # only our limit
    ],
    ids=["gif", "text", "truncated", "empty", "bomb", "bomb-warning", "too-many-pixels"],
)
def test_what_is_not_a_readable_photo_is_refused_and_nothing_is_stored(
    app, client, world, data, content_type, says
):
    piece_id = new_piece(client, world.maker)
    before = count(app, Event)

    response = put_photo(client, world.maker, piece_id, data, content_type)

    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert says in response.json["detail"]
    assert list(response.json["errors"]) == ["photo"]
    assert count(app, Photo) == 0
    assert count(app, Event) == before
    shown = client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.maker))
    assert shown.json["photo"] is None


def test_the_pixel_limit_comes_from_the_configuration(app, client, world):
    app.config["PHOTO_MAX_PIXELS"] = 100
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg((20, 10)))

    assert response.status_code == 422, response.json
    assert "20×10 pixels" in response.json["detail"]


def test_a_48_megapixel_phone_jpeg_is_accepted(client, world):
    """8000×6000, what a 48 MP phone camera saves: within the budget, and decoded at a
    reduced scale, so it costs little whatever its size."""
    piece_id = new_piece(client, world.maker)
    data = _encoded(Image.new("RGB", (8000, 6000), (180, 140, 60)), "JPEG", quality=80)

    response = put_photo(client, world.maker, piece_id, data)

    assert response.status_code == 200, response.json
    assert (response.json["width"], response.json["height"]) == (2000, 1500)


def test_a_png_is_decoded_in_full_only_within_its_own_budget(client, world):
    """A PNG or WebP has no reduced-scale decoding: beyond PHOTO_MAX_DECODED_PIXELS it is
    refused from its header, before any pixel is decoded, naming both budgets."""
    piece_id = new_piece(client, world.maker)

    # Declares 6000×4000 and holds almost nothing: decoding it would find it truncated.
    response = put_photo(client, world.maker, piece_id, png_header(6000, 4000), "image/png")

    assert response.status_code == 422, response.json
    detail = response.json["detail"]
    assert "6000×4000 pixels" in detail
    assert "PNG or WebP of up to 12,500,000 pixels" in detail
    assert "JPEG of up to 48,000,000" in detail
    assert list(response.json["errors"]) == ["photo"]


def test_a_phone_sized_png_is_accepted(client, world):
    piece_id = new_piece(client, world.maker)
    data = _encoded(Image.new("RGB", (4032, 3024), "white"), "PNG")

    response = put_photo(client, world.maker, piece_id, data, "image/png")

    assert response.status_code == 200, response.json


def test_the_decoded_pixel_budget_comes_from_the_configuration(app, client, world):
    app.config["PHOTO_MAX_DECODED_PIXELS"] = 1000
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, png_with_alpha(), "image/png")
    assert response.status_code == 200, response.json  # 30×30: 900 pixels

    response = put_photo(client, world.maker, piece_id, _encoded(_halves((40, 30)), "WEBP"))
    assert response.status_code == 422, response.json
    assert "40×30 pixels" in response.json["detail"]


def test_the_pixel_budgets_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_PHOTO_MAX_PIXELS", "12000000")
    monkeypatch.setenv("REGISTRY_PHOTO_MAX_DECODED_PIXELS", "4000000")
    monkeypatch.setenv("REGISTRY_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    from registry import create_app

    limits = photos.Limits.from_config(create_app().config)

    assert (limits.max_pixels, limits.max_decoded_pixels) == (12_000_000, 4_000_000)


@pytest.mark.parametrize("form", [False, True], ids=["raw", "multipart"])
def test_a_photo_over_the_byte_limit_is_413(app, client, world, form):
    app.config["PHOTO_MAX_BYTES"] = 1000
    piece_id = new_piece(client, world.maker)
    data = jpeg((400, 300))
    assert len(data) > 1000

    send = put_form if form else put_photo
    response = send(client, world.maker, piece_id, data)

    assert response.status_code == 413, response.json
    assert response.mimetype == "application/problem+json"
    assert count(app, Photo) == 0


def test_a_body_over_the_request_limit_is_413(app, client, world):
    # A photo's request may be larger than any other, up to UPLOAD_MAX_BODY.
    app.config["UPLOAD_MAX_BODY"] = 1000
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg((400, 300)))

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("content_type", ["text/plain", "image/gif", "application/json"])
def test_another_content_type_is_415(client, world, content_type):
    piece_id = new_piece(client, world.maker)

    response = put_photo(client, world.maker, piece_id, jpeg(), content_type)

    assert response.status_code == 415, response.json
    assert response.mimetype == "application/problem+json"


def test_a_form_without_the_photo_field_is_422(client, world):
    piece_id = new_piece(client, world.maker)

    response = put_form(client, world.maker, piece_id, jpeg(), field="picture")

    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == ["photo"]


# --- raw and multipart --------------------------------------------------------------------


def test_raw_and_multipart_uploads_store_the_same_photo_once(app, client, world):
    first, second = new_piece(client, world.maker), new_piece(client, world.maker)
    data = jpeg((120, 80))

    raw = put_photo(client, world.maker, first, data)
    form = put_form(client, world.maker, second, data)

    assert raw.status_code == 200, raw.json
    assert form.status_code == 200, form.json
    assert raw.json == form.json
    assert count(app, Photo) == 1  # one row, shown by both pieces
    [set_first, set_second] = events(app, "piece:photo_set")
    assert set_first.piece_id == first and set_second.piece_id == second
    assert b'"data":{"sha256":"' + raw.json["sha256"].encode() in set_first.entry


def test_the_piece_shows_its_photo(client, world):
    piece_id = new_piece(client, world.maker)
    sent = put_photo(client, world.maker, piece_id, jpeg()).json

    shown = client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.inspector)).json

    sha = sent["sha256"]
    assert shown["photo"] == {
        "sha256": sha,
        "media_type": "image/jpeg",
        "width": 40,
        "height": 20,
        "url": f"/api/v1/photos/{sha}.jpg",
        "thumb_url": f"/api/v1/photos/{sha}/thumb.jpg",
    }
    listed = client.get("/api/v1/pieces", headers=bearer(world.maker)).json["items"]
    assert [item["photo"] for item in listed if item["id"] == piece_id] == [shown["photo"]]


def test_sending_the_same_photo_again_records_nothing_new(app, client, world):
    piece_id = new_piece(client, world.maker)
    put_photo(client, world.maker, piece_id, jpeg())
    before = count(app, Event)

    again = put_photo(client, world.maker, piece_id, jpeg())

    assert again.status_code == 200
    assert count(app, Event) == before


def test_a_replaced_photo_no_piece_shows_is_deleted(app, client, world):
    piece_id = new_piece(client, world.maker)
    old = put_photo(client, world.maker, piece_id, jpeg((40, 20))).json

    new = put_photo(client, world.maker, piece_id, jpeg((60, 30))).json

    assert old["sha256"] != new["sha256"]
    assert fetch(client, old["url"], world.maker).status_code == 404
    assert fetch(client, new["url"], world.maker).status_code == 200
    assert count(app, Photo) == 1


def test_removing_a_photo(app, client, world):
    shared, own = new_piece(client, world.maker), new_piece(client, world.maker)
    sent = put_photo(client, world.maker, shared, jpeg()).json
    put_photo(client, world.maker, own, jpeg())

    removed = client.delete(f"/api/v1/pieces/{own}/photo", headers=bearer(world.maker))

    assert removed.status_code == 204
    assert removed.data == b""
    shown = client.get(f"/api/v1/pieces/{own}", headers=bearer(world.maker)).json
    assert shown["photo"] is None
    # Still shown by the other piece, so still served.
    assert fetch(client, sent["url"], world.maker).status_code == 200
    [event] = events(app, "piece:photo_removed")
    assert event.piece_id == own
    again = client.delete(f"/api/v1/pieces/{own}/photo", headers=bearer(world.maker))
    assert again.status_code == 404
    assert again.mimetype == "application/problem+json"


# --- who may, and when --------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["other_maker", "inspector", "admin"])
def test_only_the_pieces_maker_sets_or_removes_its_photo(app, client, world, caller):
    piece_id = new_piece(client, world.maker)
    token = getattr(world, caller)

    refused = put_photo(client, token, piece_id, jpeg())
    refused_delete = client.delete(f"/api/v1/pieces/{piece_id}/photo", headers=bearer(token))

    # Another maker's piece is not found, as an unknown one; other roles may not act.
    expected = 404 if caller == "other_maker" else 403
    assert refused.status_code == expected, refused.json
    assert refused_delete.status_code == expected, refused_delete.json
    assert count(app, Photo) == 0


def test_nobody_without_a_token_sets_a_photo(client, world):
    piece_id = new_piece(client, world.maker)

    response = client.put(
        f"/api/v1/pieces/{piece_id}/photo", data=jpeg(), content_type="image/jpeg"
    )

    assert response.status_code == 401


def test_an_unknown_piece_is_404(client, world):
    response = put_photo(client, world.maker, 987654, jpeg())

    assert response.status_code == 404, response.json


def test_the_service_refuses_an_inspector_and_knows_no_other_makers_piece(app, world):
    with app.app_context():
        writer = database.session()
        maker = accounts.by_email(writer, "maker@test.example")
        piece = pieces.register(writer, maker.maker, PieceIn().load(piece_data()), actor=maker)
        writer.commit()
        piece_id = piece.id
        inspector = accounts.by_email(writer, "inspector@test.example")
        other = accounts.by_email(writer, "other@test.example")
        with pytest.raises(Forbidden, match="Only the maker"):
            photos.attach(writer, piece_id, jpeg(), actor=inspector)
        with pytest.raises(NotFound, match=f"No piece {piece_id}"):
            photos.attach(writer, piece_id, jpeg(), actor=other)
        with pytest.raises(InvalidInput, match="not a JPEG"):
            photos.attach(writer, piece_id, b"GIF89a", actor=maker)
        writer.rollback()


def test_a_certified_or_revoked_pieces_photo_cannot_change(app, client, world):
    piece_id = new_piece(client, world.maker)
    put_photo(client, world.maker, piece_id, jpeg())
    code = attest(client, world, piece_id)["certificate"]["code"]

    replaced = put_photo(client, world.maker, piece_id, jpeg((60, 30)))
    removed = client.delete(f"/api/v1/pieces/{piece_id}/photo", headers=bearer(world.maker))

    for response in (replaced, removed):
        assert response.status_code == 409, response.json
        assert "certificate signs the photo it was issued with" in response.json["detail"]

    revoke = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": "data_error", "note": "Wrong weight."},
        headers=bearer(world.inspector),
    )
    assert revoke.status_code == 200, revoke.json
    assert put_photo(client, world.maker, piece_id, jpeg((60, 30))).status_code == 409
    assert count(app, Photo) == 1


def test_the_service_raises_conflict_for_a_certified_piece(app, client, world):
    piece_id = new_piece(client, world.maker)
    attest(client, world, piece_id)
    with app.app_context():
        maker = accounts.by_email(database.session(), "maker@test.example")
        with pytest.raises(Conflict, match="certified"):
            photos.attach(database.session(), piece_id, jpeg(), actor=maker)


def test_a_piece_that_failed_assay_may_get_a_photo(client, world):
    piece_id = new_piece(client, world.maker)
    attest(client, world, piece_id, result="failed")

    response = put_photo(client, world.maker, piece_id, jpeg())

    assert response.status_code == 200, response.json


# --- the signed hash and public serving ---------------------------------------------------


def test_the_certificate_signs_the_hash_of_the_photo_served(app, client, world):
    piece_id = new_piece(client, world.maker)
    uploaded = put_photo(client, world.maker, piece_id, jpeg_with_gps_and_orientation())
    assert uploaded.status_code == 200, uploaded.json

    code = attest(client, world, piece_id)["certificate"]["code"]

    certificate = client.get(f"/api/v1/certificates/{code}").json
    signed = certificate["payload"]["piece"]["photo"]
    served = client.get(f"/api/v1/photos/{signed['sha256']}.jpg")
    assert served.status_code == 200
    assert signed == {
        "sha256": hashlib.sha256(served.data).hexdigest(),
        "media_type": "image/jpeg",
    }
    with app.app_context():
        piece = database.session().get(Piece, piece_id)
        assert piece.photo.sha256 == signed["sha256"]


def test_a_certificate_of_a_piece_without_photo_signs_null(client, world):
    piece_id = new_piece(client, world.maker)
    code = attest(client, world, piece_id)["certificate"]["code"]

    payload = client.get(f"/api/v1/certificates/{code}").json["payload"]

    assert payload["piece"]["photo"] is None


@pytest.mark.parametrize("suffix", [".jpg", "/thumb.jpg"])
def test_certified_photos_are_public_immutable_with_their_hash_as_etag(client, world, suffix):
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, jpeg()).json["sha256"]
    attest(client, world, piece_id)
    path = f"/api/v1/photos/{sha}{suffix}"

    response = fetch(client, path)

    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["ETag"] == f'"{sha}"'
    assert opened(response.data).format == "JPEG"

    again = fetch(client, path, **{"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == f'"{sha}"'
    assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    other = fetch(client, path, **{"If-None-Match": '"' + "0" * 64 + '"'})
    assert other.status_code == 200
    assert other.data == response.data


# --- photos of pieces not yet certified: their maker's and the inspectors' alone ----------


def _uncertified_photo(client, world) -> str:
    piece_id = new_piece(client, world.maker)
    response = put_photo(client, world.maker, piece_id, jpeg())
    assert response.status_code == 200, response.json
    return response.json["sha256"]


@pytest.mark.parametrize("suffix", [".jpg", "/thumb.jpg"])
@pytest.mark.parametrize("caller", ["anonymous", "other_maker", "admin", "revoked"])
def test_an_uncertified_photo_is_404_to_others_exactly_as_an_unknown_one(
    client, world, suffix, caller
):
    sha = _uncertified_photo(client, world)
    token = None if caller == "anonymous" else getattr(world, caller)
    # A refused token too: a 401 for it here, beside the 404 of an unknown hash, would
    # tell that this unreleased photo exists.
    unknown = fetch(client, f"/api/v1/photos/{'0' * 64}{suffix}", token)

    response = fetch(client, f"/api/v1/photos/{sha}{suffix}", token)

    assert response.status_code == 404
    assert response.json == unknown.json
    assert response.headers.get("Cache-Control") == unknown.headers.get("Cache-Control")
    assert "ETag" not in response.headers


@pytest.mark.parametrize("suffix", [".jpg", "/thumb.jpg"])
@pytest.mark.parametrize("caller", ["maker", "inspector"])
def test_an_uncertified_photo_is_served_privately_to_its_maker_and_inspectors(
    client, world, suffix, caller
):
    sha = _uncertified_photo(client, world)

    response = fetch(client, f"/api/v1/photos/{sha}{suffix}", getattr(world, caller))

    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert opened(response.data).format == "JPEG"


def test_the_portals_show_an_uncertified_photo_to_its_maker_and_inspectors_only(app, client, world):
    sha = _uncertified_photo(client, world)
    thumb = f"/api/v1/photos/{sha}/thumb.jpg"
    with app.app_context():
        with_passwords(database.session(), *EMAILS.values())
    for who, status in [("maker", 200), ("inspector", 200), ("other-maker", 404)]:
        browser = app.test_client()
        assert sign_in(browser, EMAILS[who]).status_code == 302
        response = browser.get(thumb)
        assert response.status_code == status, who
        if status == 200:
            assert response.headers["Cache-Control"] == "private, no-store"
    assert app.test_client().get(thumb).status_code == 404


def test_the_maker_portal_page_of_a_piece_awaiting_assay_shows_its_photo(app, client, world):
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, jpeg()).json["sha256"]
    with app.app_context():
        with_passwords(database.session(), EMAILS["maker"], EMAILS["inspector"])
    for who, page in [
        ("maker", f"/maker/pieces/{piece_id}"),
        ("inspector", f"/inspector/pieces/{piece_id}"),
    ]:
        browser = app.test_client()
        assert sign_in(browser, EMAILS[who]).status_code == 302
        html = browser.get(page).get_data(as_text=True)
        src = re.search(r'<img[^>]* src="([^"]+)"', html)
        assert src and sha in src.group(1), who
        assert browser.get(src.group(1)).status_code == 200, who


def test_a_photo_becomes_public_when_its_piece_is_certified(client, world):
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, jpeg()).json["sha256"]
    assert fetch(client, f"/api/v1/photos/{sha}.jpg").status_code == 404

    attest(client, world, piece_id)

    response = fetch(client, f"/api/v1/photos/{sha}.jpg")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_photo_of_a_failed_assay_stays_private(client, world):
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, jpeg()).json["sha256"]

    attest(client, world, piece_id, result="failed")

    assert fetch(client, f"/api/v1/photos/{sha}.jpg").status_code == 404
    assert fetch(client, f"/api/v1/photos/{sha}.jpg", world.maker).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["nonsense", "A" * 64, "0" * 63, "0" * 64, "0" * 64 + "0"],
    ids=["nonsense", "upper-case", "short", "unknown", "long"],
)
@pytest.mark.parametrize("suffix", [".jpg", "/thumb.jpg"])
def test_an_unknown_or_malformed_photo_name_is_404(client, name, suffix):
    response = client.get(f"/api/v1/photos/{name}{suffix}")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_every_demo_certificate_signs_the_photo_served(app, client):
    with app.app_context():
        session = database.session()
        demo.load(session, signing.keyring(), signing.issuer())
        session.commit()
        codes = list(session.scalars(select(Certificate.code)))
        photographed = session.scalar(select(func.count()).where(Piece.photo_id.is_not(None)))
    assert photographed == sum(len(items) for items in demo.PIECES.values())
    for code in codes:
        signed = client.get(f"/api/v1/certificates/{code}").json["payload"]["piece"]["photo"]
        served = client.get(f"/api/v1/photos/{signed['sha256']}.jpg")
        assert hashlib.sha256(served.data).hexdigest() == signed["sha256"]
        assert opened(served.data).size == demo.PHOTO_SIZE


def test_demo_photos_are_drawn_the_same_every_time():
    backdrop = demo.BACKDROPS["RU-TY"]
    stones = [{"type": "diamond", "count": 3, "carat": "0.15"}]

    assert demo.photo("ring", "gold", stones, backdrop=backdrop) == demo.photo(
        "ring", "gold", stones, backdrop=backdrop
    )


# --- bytes held to their hashes: a photo or thumbnail changed in the database ---------------


def _certified(client, world, data: bytes) -> tuple[str, str]:
    """A certified piece with this photo: (the photo's SHA-256, the certificate's code)."""
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, data).json["sha256"]
    return sha, attest(client, world, piece_id)["certificate"]["code"]


def _two_certified(client, world) -> tuple[tuple[str, str], tuple[str, str]]:
    first = _certified(client, world, jpeg())
    second = _certified(client, world, _encoded(_halves(left="green", right="yellow"), "JPEG"))
    return first, second


def _swap_thumbnails(app, first: str, second: str) -> tuple[bytes, bytes]:
    """Swap two photos' thumbnails behind the registry's back; their thumbnails before."""
    with app.app_context():
        session = database.session()
        query = select(Photo.sha256, Photo.thumb).where(Photo.sha256.in_((first, second)))
        thumbs = {sha: thumb for sha, thumb in session.execute(query)}
        for sha, other in ((first, second), (second, first)):
            session.execute(update(Photo).where(Photo.sha256 == sha).values(thumb=thumbs[other]))
        session.commit()
    return bytes(thumbs[first]), bytes(thumbs[second])


def _refused_as_damaged(response, caplog, sha: str) -> None:
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "max-age" not in response.headers.get("Cache-Control", "")
    assert "ETag" not in response.headers
    assert any(r.levelname == "ERROR" and sha in r.getMessage() for r in caplog.records)


def test_a_swapped_thumbnail_is_not_served(app, client, world, caplog):
    (first, _), (second, _) = _two_certified(client, world)
    _, second_thumb = _swap_thumbnails(app, first, second)

    response = client.get(f"/api/v1/photos/{first}/thumb.jpg")

    assert response.data != second_thumb
    _refused_as_damaged(response, caplog, first)


def test_a_swapped_thumbnail_is_not_served_to_its_maker_either(app, client, world, caplog):
    first = _uncertified_photo(client, world)
    second = _uncertified_photo_of(client, world, jpeg(size=(60, 30)))
    _swap_thumbnails(app, first, second)

    response = fetch(client, f"/api/v1/photos/{first}/thumb.jpg", world.maker)

    _refused_as_damaged(response, caplog, first)


def _uncertified_photo_of(client, world, data: bytes) -> str:
    piece_id = new_piece(client, world.maker)
    return put_photo(client, world.maker, piece_id, data).json["sha256"]


def test_a_photo_edited_under_its_name_is_not_served(app, client, world, caplog):
    sha, _ = _certified(client, world, jpeg())
    edited = jpeg(size=(60, 30))
    with app.app_context():
        database.session().execute(update(Photo).where(Photo.sha256 == sha).values(data=edited))
        database.session().commit()

    response = client.get(f"/api/v1/photos/{sha}.jpg")

    assert response.data != edited
    _refused_as_damaged(response, caplog, sha)
    # Its thumbnail is still the one recorded, and still served.
    assert client.get(f"/api/v1/photos/{sha}/thumb.jpg").status_code == 200


def test_the_verification_page_shows_no_swapped_thumbnail(app, client, world):
    (first, code), (second, _) = _two_certified(client, world)
    page = client.get(f"/v/{code}").get_data(as_text=True)
    assert f'src="/api/v1/photos/{first}/thumb.jpg"' in page
    _, second_thumb = _swap_thumbnails(app, first, second)

    page = client.get(f"/v/{code}").get_data(as_text=True)

    assert 'data-verdict="valid"' in page  # the signed photo is still whole
    for src in re.findall(r'<img[^>]* src="([^"]+)"', page):
        shown = client.get(src)
        assert shown.status_code != 200 or shown.data != second_thumb, src
    assert f"/api/v1/photos/{first}/thumb.jpg" not in page  # no photo, not a broken one


def test_the_photo_set_entry_records_the_thumbnails_hash(app, client, world):
    piece_id = new_piece(client, world.maker)
    sha = put_photo(client, world.maker, piece_id, jpeg()).json["sha256"]
    thumb = fetch(client, f"/api/v1/photos/{sha}/thumb.jpg", world.maker).data

    (entry,) = events(app, "piece:photo_set")

    data = json.loads(entry.entry)["data"]
    assert data == {"sha256": sha, "thumb_sha256": hashlib.sha256(thumb).hexdigest()}


def test_the_same_upload_is_encoded_to_the_same_bytes():
    """Encoding is deterministic (same Pillow, same upload: same photo and thumbnail), but
    a thumbnail cannot be made again from the stored photo: it is made from the upload
    before the photo's JPEG compression. So a thumbnail whose hash the log never recorded
    (one set before it did) cannot be checked against the photo's, and is reported as
    unverified rather than regenerated."""
    upload = jpeg(size=(1600, 1200))
    limits = photos.Limits()

    once, again = photos._encode(upload, limits), photos._encode(upload, limits)

    assert (once.data, once.thumb) == (again.data, again.thumb)
    remade = opened(once.data)
    remade.thumbnail((limits.thumb_side, limits.thumb_side), Image.Resampling.LANCZOS)
    assert photos._jpeg(remade, quality=photos._THUMB_QUALITY) != once.thumb
