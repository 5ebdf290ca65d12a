"""QR codes of certificates: made once per certificate, URL, format and size, then stored.

A QR code encodes the verification address `<PUBLIC_BASE_URL>/v/<code>` and nothing else,
so that it stays small enough for a jewellery tag; error correction M, with a quiet zone.
Making one costs milliseconds of CPU, so each variant is made on its first request and
kept in `qr_image`; storing is best effort and never fails the request.
"""

import contextlib
import io
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

import qrcode
import qrcode.image.pil
import qrcode.image.svg
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from registry import db
from registry.models import Certificate, QrImage

log = logging.getLogger(__name__)

Format = Literal["png", "svg"]

MEDIA_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}

#: The sizes kept once made: the default and the usual label sizes, with the standard
#: quiet zone. Other sizes are made on request and not kept, so that requests for every
#: size there is cannot fill the database.
STORED_SCALES = frozenset({2, 3, 4, 5, 6, 8, 10, 12, 16, 20})
STORED_BORDER = 4

# How long storing an image may wait for SQLite's write lock (held by an import, say)
# before the request serves the image unstored instead.
_STORE_WAIT_MS = 250


class _Svg(qrcode.image.svg.SvgPathFillImage):
    """One `<path>` on a white square, coloured by attributes, not `style`: a page whose
    Content-Security-Policy has no 'unsafe-inline' for styles still draws it.

    Made with a box size of 1, it draws one user unit per module (`viewBox="0 0 n n"`,
    whole numbers), not qrcode's tenths of a millimetre; the caller sets the size.
    """

    def units(self, pixels, text=True):
        units = Decimal(pixels)
        return str(units) if text else units


def url(base_url: str, code: str) -> str:
    """What a certificate's QR code encodes: its verification page, by its canonical code."""
    return f"{base_url}/v/{code}"


def render(text: str, *, format: Format, scale: int, border: int) -> bytes:
    """The QR image of `text`: PNG with `scale` pixels per module, or SVG `scale` CSS
    pixels per module (it scales, having a viewBox); `border` modules of quiet zone."""
    # The SVG is drawn a unit per module and sized by its width and height below.
    code = _code(text, box_size=scale if format == "png" else 1, border=border)
    out = io.BytesIO()
    if format == "png":
        code.make_image(image_factory=qrcode.image.pil.PilImage).save(out, kind="PNG")
        return out.getvalue()
    image = code.make_image(image_factory=_Svg)
    side = str((code.modules_count + 2 * border) * scale)
    svg = image.get_image()
    svg.set("width", side)
    svg.set("height", side)
    # Module edges fall on device pixels: no hairlines between neighbours when scaled.
    svg.set("shape-rendering", "crispEdges")
    image.save(out)
    return out.getvalue()


def modules(text: str, *, border: int) -> list[list[bool]]:
    """The QR code of `text` as rows of modules (True: dark), `border` modules of quiet
    zone included: for a page that draws the code itself (the printed card)."""
    return _code(text, box_size=1, border=border).get_matrix()


def _code(text: str, *, box_size: int, border: int) -> qrcode.QRCode:
    """Every QR code of the registry: error correction M, the smallest version that fits."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border
    )
    code.add_data(text.encode())
    code.make(fit=True)
    return code


def image(
    session: Session,
    certificate: Certificate,
    *,
    base_url: str,
    format: Format,
    scale: int,
    border: int,
) -> bytes:
    """A certificate's QR image: the stored one, or one made now and stored.

    Storing happens in a SAVEPOINT; when another request stored the same image first,
    or the database cannot take the write at once, the image made here is served all
    the same. The caller commits.
    """
    text = url(base_url, certificate.code)
    variant = (
        QrImage.certificate_id == certificate.id,
        QrImage.url == text,
        QrImage.format == format,
        QrImage.scale == scale,
        QrImage.border == border,
    )
    stored = session.scalar(select(QrImage.data).where(*variant))
    if stored is not None:
        return stored
    data = render(text, format=format, scale=scale, border=border)
    if scale not in STORED_SCALES or border != STORED_BORDER:
        return data
    stored_image = QrImage(
        certificate_id=certificate.id,
        url=text,
        format=format,
        scale=scale,
        border=border,
        data=data,
    )
    try:
        with _brief_lock_wait(session), session.begin_nested():
            session.add(stored_image)
    except IntegrityError:
        log.info("QR image of certificate %s stored meanwhile by another request", certificate.id)
    except (OperationalError, DataError) as exc:
        log.warning("QR image of certificate %s not stored: %s", certificate.id, exc.orig)
    return data


@contextlib.contextmanager
def _brief_lock_wait(session: Session) -> Iterator[None]:
    """On SQLite, wait for the write lock only briefly inside the block."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    # A setting of the connection, not of the transaction: set back on leaving.
    connection = session.connection()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {_STORE_WAIT_MS}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {db.SQLITE_BUSY_TIMEOUT_MS}")
