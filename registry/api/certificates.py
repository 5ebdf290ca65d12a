"""Certificates: public reading; revocation and reissue by inspectors."""

from flask import g
from flask_smorest import Blueprint

from registry import certificates
from registry.api.common import guarded, json_body
from registry.edge import database, limits, signing
from schemas.certificates import CertificateOut, ReissueIn, RevokeIn
from schemas.standards import Role

bp = Blueprint("certificates", __name__, url_prefix="/api/v1", description="Certificates")


@bp.get("/certificates/<code>")
@limits.public
@bp.response(200, CertificateOut)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def show(code):
    """The signed certificate: payload, JWS, key id and status. Codes are read leniently."""
    return certificates.find(database.session(), code)


@bp.post("/certificates/<code>/revoke")
@guarded(bp, Role.INSPECTOR)
@json_body(bp, RevokeIn)
@bp.response(200, CertificateOut)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def revoke(data, code):
    """Revoke a certificate with a reason; verification then reports it revoked."""
    certificate = certificates.revoke(
        database.session(), code, reason=data["reason"], note=data["note"], actor=g.actor
    )
    database.session().commit()
    return certificate


@bp.post("/certificates/<code>/reissue")
@guarded(bp, Role.INSPECTOR)
@json_body(bp, ReissueIn)
@bp.response(201, CertificateOut)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def reissue(data, code):
    """Correct a certified piece and issue a certificate that supersedes this one."""
    certificate = certificates.reissue(
        database.session(),
        signing.keyring(),
        code,
        data,
        issuer=signing.issuer(),
        actor=g.actor,
    )
    database.session().commit()
    return certificate
