"""QR codes of certificates, made once per certificate and size, then served from storage."""

from flask import Response, current_app
from flask_smorest import Blueprint

from registry import certificates, qr
from registry.edge import database, http_cache, limits
from schemas.qr import QrArgs

bp = Blueprint("qr", __name__, url_prefix="/api/v1", description="QR codes")

# What a QR image shows never changes for its address: the code is for life, and a new
# PUBLIC_BASE_URL is a new deployment. So a phone or a CDN may keep it for a year.
_MAX_AGE = 365 * 24 * 3600

_HEADERS = {
    "ETag": {"description": "Entity tag of the image", "schema": {"type": "string"}},
    "Cache-Control": {"description": "Cacheable for a year", "schema": {"type": "string"}},
}


def _documented(format: qr.Format):
    """The responses of a QR image endpoint, for the OpenAPI document."""

    def decorator(view):
        view = bp.arguments(QrArgs, location="query", error_status_code=400)(view)
        view = bp.alt_response(
            200,
            success=True,
            schema={"type": "string", "format": "binary"},
            content_type=qr.MEDIA_TYPES[format],
            description=f"The QR code ({format.upper()}) of the certificate's verification "
            "address, error correction M",
            headers=_HEADERS,
        )(view)
        view = bp.alt_response(304, response="NOT_MODIFIED")(view)
        view = bp.alt_response(400, response="BAD_REQUEST")(view)
        view = bp.alt_response(404, response="NOT_FOUND")(view)
        view = bp.alt_response(429, response="TOO_MANY_REQUESTS")(view)
        return limits.public(view)

    return decorator


@bp.get("/certificates/<code>/qr.png")
@_documented("png")
def png(args, code):
    """The certificate's QR code as PNG: it encodes `<base URL>/v/<code>`."""
    return _image(code, "png", args)


@bp.get("/certificates/<code>/qr.svg")
@_documented("svg")
def svg(args, code):
    """The certificate's QR code as SVG: it encodes `<base URL>/v/<code>`."""
    return _image(code, "svg", args)


def _image(code: str, format: qr.Format, args: dict) -> Response:
    session = database.session()
    certificate = certificates.find(session, code)
    data = qr.image(
        session,
        certificate,
        base_url=current_app.config["PUBLIC_BASE_URL"],
        format=format,
        scale=args["scale"],
        border=args["border"],
    )
    session.commit()
    response = Response(data, mimetype=qr.MEDIA_TYPES[format])
    return http_cache.public(response, max_age=_MAX_AGE, immutable=True)
