"""The public verdict on a code, as JSON: what a buyer's app or another registry reads."""

from flask import current_app, url_for
from flask_smorest import Blueprint

from registry import db, http_cache, limits, signing, verification
from schemas.verification import VerdictOut

bp = Blueprint("verification_api", __name__, url_prefix="/api/v1", description="Verification")


@bp.get("/verify/<code>")
@limits.public
@bp.response(200, VerdictOut)
@bp.alt_response(304, description="Not modified (If-None-Match)")
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def verify(code):
    """The verdict on a code: status, signed payload and JWS, the signature's check.

    Codes are read leniently (case, dashes, O for 0). A mistyped code (its check
    character does not match) is a 400, a code never issued a 404.
    """
    verdict = verification.verify(db.session(), signing.keyring(), code)
    certificate = verdict.certificate
    body = VerdictOut().dump(
        {
            "status": verdict.status,
            "code": certificate.code,
            "printed_code": certificate.printed_code,
            "issued_at": certificate.issued_at,
            "certificate": verdict.payload,
            "jws": certificate.jws,
            "signature": {
                "valid": verdict.signature.valid,
                "alg": "EdDSA",
                "kid": verdict.signature.kid,
                "key_status": verdict.signature.key_status,
                "problem": verdict.signature.problem,
            },
            "revocation": certificate.revocation,
            "superseded_by": certificate.superseded_by_code
            if certificate.status == "superseded"
            else None,
            "current": verdict.current_code,
            "links": _links(certificate.code),
        }
    )
    response = current_app.json.response(body)
    return http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])


def _links(code: str) -> dict[str, str]:
    base = current_app.config["PUBLIC_BASE_URL"]
    return {
        "page": f"{base}{url_for('verification.page', code=code)}",
        "certificate": f"{base}{url_for('certificates.show', code=code)}",
        "jwks": f"{base}{url_for('wellknown.jwks')}",
        "qr_png": f"{base}/api/v1/certificates/{code}/qr.png",
        "qr_svg": f"{base}/api/v1/certificates/{code}/qr.svg",
    }
