"""The public verdict on a code, as JSON: what a buyer's app or another registry reads."""

import json

from flask import Response, current_app
from flask_smorest import Blueprint

from registry import verification
from registry.edge import answers, database, direct, http_cache, limits, scans
from registry.errors import RegistryError
from registry.log.public import b64
from schemas.common import timestamp
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
    body = _answer(scans.scanned(code, proof=False))
    response = Response(body, mimetype="application/json")
    return http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])


def verify_direct(environ: dict, code: str) -> direct.Answer | None:
    """`verify` below Flask (registry/edge/direct.py), for every scan it answers with
    the verdict: a refusal or an error goes on to the view, which raises it again."""
    if not limits.spend_public(environ):
        return None
    try:
        verdict = scans.scanned_from(code, environ.get("REMOTE_ADDR"), proof=False)
    except RegistryError as refusal:
        scans.hand_on(environ, code, False, refusal)  # the view raises it, as any error
        return None
    return http_cache.public_answer(
        environ,
        _answer(verdict),
        "application/json",
        max_age=current_app.config["VERDICT_MAX_AGE"],
    )


def _answer(verdict: verification.Verdict) -> bytes:
    """The verdict's JSON, kept ready while the verdict stands (registry/edge/answers.py)."""
    return answers.ready(
        ("json", verdict.fingerprint),
        lambda: _body(verification.proved(database.engine(), verdict)),
    )


def _body(verdict: verification.Verdict) -> bytes:
    """The VerdictOut document, with the stored payload placed in it byte for byte.

    The payload is not parsed and dumped again: a scan is the busiest request there is,
    and the bytes the signature covers are the ones to show. Bytes whose signature does
    not hold are not trusted to be JSON, so they are parsed, or given as null.
    """
    certificate = verdict.certificate
    signature = verdict.signature
    revocation = None
    # A state that fails its seal is not shown, not even as what it claims to be.
    untrusted = signature.fault == "record"
    if certificate.revoked_at is not None and not untrusted:
        revocation = {
            "reason": certificate.revocation_reason,
            "note": certificate.revocation_note,
            "revoked_at": timestamp(certificate.revoked_at),
        }
    document = {
        "status": str(verdict.status),
        "code": certificate.code,
        "printed_code": certificate.printed_code,
        "issued_at": timestamp(certificate.issued_at),
        "jws": certificate.jws,
        "signature": {
            "valid": signature.valid,
            "alg": "EdDSA",
            "kid": signature.kid,
            "key_status": signature.key_status,
            "problem": signature.problem,
        },
        "revocation": revocation,
        "superseded_by": None if untrusted else certificate.superseded_by,
        "current": None if untrusted else verdict.current_code,
        "sale": _sale(verdict),
        "ownership": {
            "registered": verdict.owned,
            # The month alone: nothing about the owner is public but that there is one.
            "since": certificate.owned_since.strftime("%Y-%m")
            if verdict.owned and certificate.owned_since
            else None,
        },
        "alerts": [
            {"kind": str(kind), "since": since.isoformat() if since else None}
            for kind, since in verdict.alerts()
        ],
        "links": _links(certificate.code),
    }
    if signature.valid:
        payload = certificate.payload
    else:
        # Escaped to ASCII: bytes written by hand may hold what UTF-8 cannot encode.
        payload = json.dumps(verification.payload(verdict)).encode()
    head = json.dumps(document, separators=(",", ":")).encode()
    return head[:-1] + b',"log":' + _log(verdict) + b',"certificate":' + payload + b"}"


def _sale(verdict: verification.Verdict) -> dict | None:
    """The standing sale of the piece: when, and by which shop (or its maker)."""
    record = verdict.certificate
    if not verdict.sold or record.sold_at is None:
        return None
    return {
        "sold_at": timestamp(record.sold_at),
        "shop": {
            "name": {"ru": record.seller_name_ru, "en": record.seller_name_en},
            "city": record.seller_city,
            "region": record.seller_region,
        },
    }


def _log(verdict: verification.Verdict) -> bytes:
    """The issue's log entry (its stored bytes, which are its leaf) and its inclusion
    proof against the newest checkpoint: enough to check the certificate was logged."""
    certificate = verdict.certificate
    if certificate.log_index is None:
        return b"null"
    inclusion = verdict.inclusion
    if inclusion is not None:
        proof = {
            "tree_size": inclusion.tree_size,
            "root_hash": b64(inclusion.root_hash),
            "proof": [b64(h) for h in inclusion.proof or ()],  # asked for: verify's default
            "checkpoint": inclusion.checkpoint,
        }
    else:
        proof = None
    return b'{"index":%d,"entry":%s,"inclusion":%s}' % (
        certificate.log_index,
        certificate.log_entry,
        json.dumps(proof, separators=(",", ":")).encode(),
    )


def _links(code: str) -> dict[str, str]:
    # Written out rather than built with url_for, three times slower for the same URLs
    # (tests follow each link).
    base = current_app.config["PUBLIC_BASE_URL"]
    return {
        "page": f"{base}/v/{code}",
        "certificate": f"{base}/api/v1/certificates/{code}",
        "jwks": f"{base}/.well-known/jwks.json",
        "qr_png": f"{base}/api/v1/certificates/{code}/qr.png",
        "qr_svg": f"{base}/api/v1/certificates/{code}/qr.svg",
    }
