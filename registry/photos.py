"""Piece photos: a maker sets one for an own piece until it is certified.

Whatever a maker sends is decoded and encoded again as a plain JPEG: only JPEG, PNG and
WebP are read (by their content, never by the Content-Type); the pixel count is checked
from the header before anything is decoded (PHOTO_MAX_PIXELS, and PHOTO_MAX_DECODED_PIXELS
for a PNG or WebP, which is decoded in full where a JPEG is decoded at a reduced scale);
the EXIF orientation is applied, and nothing of the original's metadata (EXIF with its
GPS position, XMP, ICC, comments) is kept. The SHA-256 of the stored JPEG names the
photo, and the certificate signs it. Until one does, the photo shows an unreleased
design: only its maker and inspectors may see it.

The thumbnail's SHA-256 is stored with it and recorded in the log beside the photo's.
Neither image is served unless its bytes hash to its recorded hash: bytes changed in the
database are never shown, nor cached, under a name they do not have.
"""

import dataclasses
import hashlib
import io
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from PIL import Image, ImageCms, ImageOps
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import config, db, pieces
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from registry.log import ledger
from registry.models import Account, Certificate, Photo, Piece
from schemas.standards import EventType, PieceStatus, Role

MEDIA_TYPE = "image/jpeg"
#: What Pillow may read; it names the formats by its own plugin names.
_READABLE = ("JPEG", "PNG", "WEBP")
#: A photo may change only while no certificate signs it.
_EDITABLE = (PieceStatus.AWAITING_ASSAY, PieceStatus.ASSAY_FAILED)
_QUALITY = 88
_THUMB_QUALITY = 80

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How large a photo may be sent, and the sizes it is stored at (from configuration)."""

    max_bytes: int = config.Defaults.PHOTO_MAX_BYTES
    max_pixels: int = config.Defaults.PHOTO_MAX_PIXELS
    max_decoded_pixels: int = config.Defaults.PHOTO_MAX_DECODED_PIXELS
    max_side: int = config.Defaults.PHOTO_MAX_SIDE
    thumb_side: int = config.Defaults.PHOTO_THUMB_SIDE

    @classmethod
    def from_config(cls, settings: dict[str, Any]) -> "Limits":
        return cls(**{f.name: settings[f"PHOTO_{f.name.upper()}"] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class _Encoded:
    sha256: str
    data: bytes
    size: tuple[int, int]
    thumb: bytes
    thumb_sha256: str
    thumb_size: tuple[int, int]


def attach(
    session: Session, piece_id: int, data: bytes, *, actor: Account, limits: Limits = Limits()
) -> Photo:
    """Set the photo of one of the actor's pieces, replacing any it had.

    Raises Forbidden (not a maker), NotFound (another maker's piece too), Conflict (the
    piece is certified or revoked), PayloadTooLarge, and InvalidInput naming `photo` for
    anything that is not a whole JPEG, PNG or WebP image within the limits. The same
    image sent again reuses its stored photo. The caller commits.
    """
    piece = _editable_piece(session, piece_id, actor=actor)
    encoded = _encode(data, limits)
    photo = _stored(session, encoded)
    if piece.photo is photo:
        return photo  # nothing changes, so nothing to record
    previous = piece.photo
    piece.photo = photo
    ledger.append(
        session,
        EventType.PIECE_PHOTO_SET,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        data={"sha256": photo.sha256, "thumb_sha256": photo.thumb_sha256},
    )
    _discard_if_unused(session, previous)
    return photo


def cleaned(data: bytes, limits: Limits = Limits()) -> bytes:
    """A photo sent by anyone else (a buyer's report) as it may be kept: checked and
    encoded again exactly as a piece's photo is, a plain JPEG without its metadata (no
    GPS position of the buyer's phone). Raises PayloadTooLarge and InvalidInput (naming
    `photo`) as `attach` does."""
    return _encode(data, limits).data


def remove(session: Session, piece_id: int, *, actor: Account) -> Piece:
    """Remove the photo of one of the actor's pieces.

    Raises Forbidden, NotFound (no such piece, or it has no photo) and Conflict as
    `attach` does. The caller commits.
    """
    piece = _editable_piece(session, piece_id, actor=actor)
    previous = piece.photo
    if previous is None:
        raise NotFound(f"Piece {piece_id} has no photo.")
    piece.photo = None
    ledger.append(
        session,
        EventType.PIECE_PHOTO_REMOVED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        data={"sha256": previous.sha256},
    )
    _discard_if_unused(session, previous)
    return piece


@dataclass(frozen=True)
class Served:
    """A photo's JPEG as it may be served: to anyone, or only to whoever asked."""

    data: bytes
    #: A certificate signs it: anyone may see it, and any cache keep it (its name is its
    #: hash, so it never changes). Otherwise it is an unreleased design, for one viewer.
    public: bool


def _nobody() -> Account | None:
    return None


def image(
    session: Session,
    sha256: str,
    *,
    thumb: bool = False,
    viewer: Callable[[], Account | None] = _nobody,
) -> Served:
    """The JPEG of a stored photo, or its thumbnail, by the SHA-256 of the photo's JPEG
    (lower-case hex).

    A photo that a certificate signs is public. Until then it shows an unreleased design,
    which only the maker of a piece with this photo and inspectors may see: `viewer`, who
    is asking, is called only then, so a public photo's answer depends on nobody. Raises
    NotFound for anyone else, exactly as for a photo that is not stored; and NotFound,
    logged as an error, for one whose stored bytes no longer hash to the photo's name (or
    to its thumbnail's recorded hash): changed by hand, they are not the photo.
    """
    column, expected = (Photo.thumb, Photo.thumb_sha256) if thumb else (Photo.data, Photo.sha256)
    query = select(Photo.id, column, expected).where(Photo.sha256 == sha256)
    row = session.execute(query).first()
    if row is None:
        raise _no_photo()
    photo_id, data, recorded = row
    public = _signed(session, photo_id)
    if not public:
        account = viewer()
        if account is None or not _may_see_unreleased(session, photo_id, account):
            raise _no_photo()
    if hashlib.sha256(data).hexdigest() != recorded:
        what = "thumbnail" if thumb else "image"
        log.error(
            "photo %s (id %d): its stored %s does not hash to %s; it is not served",
            sha256,
            photo_id,
            what,
            recorded,
        )
        raise NotFound(
            f"The stored {what} of this photo does not match its SHA-256: it was changed "
            "outside the registry, so the registry does not serve it."
        )
    return Served(data, public=public)


_THUMB = db.Prepared(
    select(Photo.thumb, Photo.thumb_sha256).where(Photo.sha256 == bindparam("sha256"))
)


def thumbnail_sound(bind: Engine | Session, sha256: str) -> bool:
    """Whether the photo named `sha256` is stored with a thumbnail that hashes to its
    recorded hash: only then may a page show it (a thumbnail changed by hand is not
    served, and logged as an error when it is asked for). One read, for the verdict page."""
    row = _THUMB.one_or_none(bind, sha256=sha256)
    return row is not None and hashlib.sha256(row["thumb"]).hexdigest() == row["thumb_sha256"]


def _no_photo() -> NotFound:
    return NotFound("No photo with this SHA-256 is stored.")


def _signed(session: Session, photo_id: int) -> bool:
    """Whether a certificate signs the photo: a piece showing it has one. A piece's photo
    can no longer change once it is certified, so its certificate signs this photo."""
    query = (
        select(Certificate.id)
        .join(Piece, Certificate.piece_id == Piece.id)
        .where(Piece.photo_id == photo_id)
        .limit(1)
    )
    return session.scalar(query) is not None


def _may_see_unreleased(session: Session, photo_id: int, account: Account) -> bool:
    """Inspectors see every piece; a maker, the photos of its own pieces."""
    if account.role == Role.INSPECTOR:
        return True
    if account.role != Role.MAKER or account.maker_id is None:
        return False
    query = (
        select(Piece.id)
        .where(Piece.photo_id == photo_id, Piece.maker_id == account.maker_id)
        .limit(1)
    )
    return session.scalar(query) is not None


def _stored(session: Session, encoded: _Encoded) -> Photo:
    """The photo row of these bytes: the one stored already, or a new one."""
    query = select(Photo).where(Photo.sha256 == encoded.sha256)
    photo = session.scalar(query)
    if photo is not None:
        return photo
    photo = Photo(
        sha256=encoded.sha256,
        media_type=MEDIA_TYPE,
        width=encoded.size[0],
        height=encoded.size[1],
        data=encoded.data,
        thumb_width=encoded.thumb_size[0],
        thumb_height=encoded.thumb_size[1],
        thumb=encoded.thumb,
        thumb_sha256=encoded.thumb_sha256,
    )
    try:
        with session.begin_nested():
            session.add(photo)
    except IntegrityError:
        # The same photo, stored by a concurrent upload for another piece in between.
        return session.scalars(query).one()
    return photo


def _editable_piece(session: Session, piece_id: int, *, actor: Account) -> Piece:
    if actor.role != Role.MAKER:
        raise Forbidden("Only the maker of a piece can set or remove its photo.")
    piece = pieces.get(session, piece_id, actor=actor, lock=True)
    if piece.status not in _EDITABLE:
        raise Conflict(
            f"Piece {piece_id} is {piece.status.replace('_', ' ')}: its certificate signs the "
            "photo it was issued with, so the photo can no longer change."
        )
    return piece


def _discard_if_unused(session: Session, photo: Photo | None) -> None:
    """Delete a photo no piece shows any more. A certificate signs only the photo of its
    own piece, which can no longer change, so no signed photo is ever deleted."""
    if photo is None:
        return
    session.flush()
    if session.scalar(select(Piece.id).where(Piece.photo_id == photo.id).limit(1)) is None:
        session.delete(photo)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, errors={"photo": [message]})


def _encode(data: bytes, limits: Limits) -> _Encoded:
    """The photo as it is stored: a metadata-free JPEG within `max_side`, and its thumbnail."""
    if not data:
        raise _invalid("The photo is empty.")
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"The photo is larger than the {limits.max_bytes} bytes the registry accepts.",
            errors={"photo": [f"Larger than {limits.max_bytes} bytes."]},
        )
    image = _decode(data, limits)
    image.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    full = _jpeg(image, quality=_QUALITY)
    thumb = image.copy()
    thumb.thumbnail((limits.thumb_side, limits.thumb_side), Image.Resampling.LANCZOS)
    small = _jpeg(thumb, quality=_THUMB_QUALITY)
    return _Encoded(
        sha256=hashlib.sha256(full).hexdigest(),
        data=full,
        size=image.size,
        thumb=small,
        thumb_sha256=hashlib.sha256(small).hexdigest(),
        thumb_size=thumb.size,
    )


def _decode(data: bytes, limits: Limits) -> Image.Image:
    """The image, upright and in sRGB, refusing what is not a whole JPEG, PNG or WebP."""
    kinds = "JPEG, PNG or WebP"
    with warnings.catch_warnings():
        # Pillow warns of corrupt EXIF and the like, which the new encoding drops anyway.
        # Its own bomb check is process-wide and only warns below twice its limit: that
        # warning becomes an error, and our stricter per-call limit is checked first.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_READABLE)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(limits) from None
        except Exception:  # Pillow raises many kinds for a malformed header
            raise _invalid(f"This is not a {kinds} image the registry can read.") from None
        # Both budgets are checked from the header, before any pixel is decoded.
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels(limits, width, height)
        if image.format in ("JPEG", "MPO"):  # MPO: a JPEG with more pictures after it
            # Decode at the smallest scale (1/2 to 1/8) still as large as the stored photo:
            # far faster and smaller in memory than decoding every pixel of a large photo.
            image.draft("RGB", _stored_size(width, height, limits.max_side))
        decoded_width, decoded_height = image.size  # as drafted: what will be decoded
        if decoded_width * decoded_height > limits.max_decoded_pixels:
            raise _too_many_pixels(limits, width, height)
        try:
            image.load()
            return _to_srgb(ImageOps.exif_transpose(image))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(limits) from None
        except Exception:  # and as many for truncated or corrupt data
            raise _invalid("The image is truncated or corrupt.") from None


def _stored_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size a `width`×`height` photo is stored at: within `max_side`, as `thumbnail`
    makes it (rounded up, so a JPEG drafted to it is never smaller)."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _too_many_pixels(limits: Limits, width: int = 0, height: int = 0) -> InvalidInput:
    jpeg, other = f"{limits.max_pixels:,}", f"{limits.max_decoded_pixels:,}"
    if not width:
        return _invalid(
            f"The photo has too many pixels; the registry accepts a JPEG of up to {jpeg} "
            f"pixels, and a PNG or WebP of up to {other} pixels, which it must decode in full."
        )
    return _invalid(
        f"The photo is {width}×{height} pixels; the registry accepts a JPEG of up to {jpeg} "
        f"pixels, and a PNG or WebP of up to {other} pixels, which it must decode in full."
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB in sRGB: 16-bit scaled down, alpha laid on white, colour profiles applied."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = image.convert("F").point(lambda value: value / 257).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        flat.info = image.info
        image = flat
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK", "L"):
        # The profile is not stored (no metadata is), so the colours are converted to
        # sRGB, which every browser assumes for an untagged JPEG.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            # Pillow documents the return as "Either None or a new Image object, depending
            # on the value of inPlace"; without inPlace it is the new image.
            return cast(
                Image.Image, ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or mismatched profile: convert the plain way
    return image.convert("RGB")


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    # A clean copy carries no `info` (comments, EXIF, XMP, ICC, DPI) into the encoder.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, progressive=True, optimize=True)
    return out.getvalue()
