"""Piece photos: a maker uploads one for an own piece; anyone fetches a certified piece's
photo by its SHA-256, and only its maker and inspectors one not yet certified."""

import re

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from registry import accounts, photos
from registry.api.common import guarded
from registry.edge import bodies, database, http_cache, limits
from registry.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from registry.models import Account
from registry.web import session as portal_session
from schemas.pieces import PhotoOut
from schemas.standards import Role

bp = Blueprint("photos", __name__, url_prefix="/api/v1", description="Piece photos")

_RAW_TYPES = ("image/jpeg", "image/png", "image/webp")
_BINARY = {"type": "string", "format": "binary"}
_PHOTO_BODY = {
    "required": True,
    "description": "A JPEG, PNG or WebP image, as the body itself or as the file field "
    "`photo` of a form, of at most PHOTO_MAX_PIXELS pixels (a 48 MP phone photo), or "
    "PHOTO_MAX_DECODED_PIXELS for a PNG or WebP, which must be decoded in full. Its format "
    "is read from its content; it is stored re-encoded as "
    "a JPEG of at most PHOTO_MAX_SIDE pixels a side, without any metadata (EXIF, GPS, "
    "XMP, ICC).",
    "content": {
        **{media_type: {"schema": _BINARY} for media_type in _RAW_TYPES},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["photo"],
                "properties": {"photo": _BINARY},
            }
        },
    },
}
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The bytes at a photo's address never change: its name is their hash.
_YEAR = 365 * 24 * 3600
_IMMUTABLE = f"public, max-age={_YEAR}, immutable"
_CACHE_HEADERS = {
    "ETag": {
        "description": "The photo's SHA-256, quoted",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "required": True,
        "description": f"`{_IMMUTABLE}` for the photo of a certified piece; `private, "
        "no-store` for one not yet certified, which only its maker and inspectors see",
        "schema": {"type": "string", "example": _IMMUTABLE},
    },
}
_IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "An ETag received before: a 304 answers when it still matches",
    "schema": {"type": "string"},
}


@bp.put("/pieces/<id:piece_id>/photo")
@guarded(bp, Role.MAKER)
@bp.doc(requestBody=_PHOTO_BODY)
@bp.response(200, PhotoOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bodies.uploads
def attach(piece_id):
    """Set the photo of one of your pieces until it is certified; its SHA-256 is signed."""
    limits = photos.Limits.from_config(current_app.config)
    photo = photos.attach(
        database.session(), piece_id, _uploaded(limits.max_bytes), actor=g.actor, limits=limits
    )
    database.session().commit()
    return photo


@bp.delete("/pieces/<id:piece_id>/photo")
@guarded(bp, Role.MAKER)
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def remove(piece_id):
    """Remove the photo of one of your pieces until it is certified."""
    photos.remove(database.session(), piece_id, actor=g.actor)
    database.session().commit()
    return Response(status=204)


def _served(view):
    """A JPEG by SHA-256: counted, documented; public and cacheable for ever once certified."""
    view = bp.alt_response(429, response="TOO_MANY_REQUESTS")(view)
    view = bp.alt_response(404, response="NOT_FOUND")(view)
    view = bp.alt_response(304, response="NOT_MODIFIED")(view)
    view = bp.response(200, _BINARY, content_type="image/jpeg", headers=_CACHE_HEADERS)(view)
    view = bp.doc(parameters=[_IF_NONE_MATCH])(view)
    return limits.public(view)


@bp.get("/photos/<sha256>.jpg")
@_served
def photo(sha256):
    """A piece's photo: the JPEG whose SHA-256 is in the name (and in its certificate).

    Public once the piece is certified. Before, it shows an unreleased design: only the
    piece's maker and inspectors get it (by bearer token, or the portal's session), and
    anyone else a 404, as for an unknown hash. Stored bytes that no longer hash to the
    name (changed outside the registry) are never served: a 404 saying so, not cached."""
    return _jpeg(sha256, thumb=False)


@bp.get("/photos/<sha256>/thumb.jpg")
@_served
def thumb(sha256):
    """The thumbnail of a piece's photo, at most PHOTO_THUMB_SIDE pixels a side; public
    or private as the photo is. Served only if it hashes to the thumbnail's SHA-256
    recorded with the photo (and in the log): else a 404 saying so, not cached."""
    return _jpeg(sha256, thumb=True)


def _uploaded(max_bytes: int) -> bytes:
    """The photo's bytes, from a raw image body or a form's file field `photo`."""
    if request.mimetype in _RAW_TYPES:
        if request.content_length is not None and request.content_length > max_bytes:
            raise _too_large(max_bytes)
        return request.get_data(cache=False)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("photo")
        if upload is None:
            message = "Send the photo as the file field `photo` of the form."
            raise InvalidInput(message, errors={"photo": [message]})
        return upload.stream.read(max_bytes + 1)  # one more: too large is told apart
    raise UnsupportedMediaType(
        "Send the photo as image/jpeg, image/png or image/webp, "
        "or as the file field `photo` of a multipart/form-data form."
    )


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The photo is larger than the {max_bytes} bytes the registry accepts.",
        errors={"photo": [f"Larger than {max_bytes} bytes."]},
    )


def _jpeg(sha256: str, *, thumb: bool) -> Response:
    if not _SHA256.fullmatch(sha256):
        raise NotFound("A photo's name is the SHA-256 of its JPEG, in lower-case hex.")
    served = photos.image(database.session(), sha256, thumb=thumb, viewer=_viewer)
    response = Response(served.data, mimetype="image/jpeg")
    if served.public:
        return http_cache.public(response, max_age=_YEAR, immutable=True, etag=sha256)
    # An unreleased design, for this viewer alone: no cache keeps it, shared or not.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _viewer() -> Account | None:
    """Who asks for a photo not yet public: the API's bearer token, or else the portal's
    session, whose pages show these photos. A refused token is nobody, not a 401: a 401
    here and a 404 for an unknown hash would tell that an unreleased photo exists."""
    authorization = request.headers.get("Authorization")
    if authorization:
        try:
            return accounts.authenticate(database.session(), authorization).account
        except Unauthorized:
            return None
    return portal_session.current()
