"""Owners of sold pieces: claim with the slip's code, report or withdraw, hand over; the
brand office resets a lost owner key.

Owner keys and claim codes travel in request and response bodies only, never in an
address, so no access log holds them; every answer is kept by no cache (the app sends
Referrer-Policy: no-referrer on every response).
"""

from flask import current_app, g
from flask_smorest import Blueprint

from registry import claims, ownership, slips
from registry.api.common import guarded, json_body
from registry.edge import database, limits
from schemas.ownership import (
    ClaimCodeOut,
    ClaimedOut,
    ClaimIn,
    OwnerKeyIn,
    OwnershipOut,
    ReportIn,
    ResetIn,
)
from schemas.standards import Role

bp = Blueprint("ownership", __name__, url_prefix="/api/v1", description="Ownership")

_PRIVATE = {"Cache-Control": "no-store"}


@bp.post("/ownership/claim")
@limits.public
@json_body(bp, ClaimIn)
@bp.response(201, ClaimedOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def claim(data):
    """Claim a sold piece with the code on its sale slip: the owner key, shown once.

    No account and nothing personal. A mistyped or malformed code is a 422, an unknown
    one a 404; one already used, replaced or of a cancelled sale a 409.
    """
    claimed = ownership.claim(database.session(), data["claim_code"])
    database.session().commit()
    return _view(claimed.ownership, claimed.piece, owner_key=claimed.owner_key), 201, _PRIVATE


@bp.post("/ownership/report")
@limits.public
@json_body(bp, ReportIn)
@bp.response(200, OwnershipOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def report(data):
    """The owner reports the piece stolen or lost, or withdraws the report (found)."""
    found = ownership.report(database.session(), data["owner_key"], data["kind"])
    database.session().commit()
    return _view(found.ownership, found.piece), 200, _PRIVATE


@bp.post("/ownership/handover")
@limits.public
@json_body(bp, OwnerKeyIn)
@bp.response(201, ClaimCodeOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def handover(data):
    """A new one-time claim code for the next owner; the owner key works until it is
    claimed."""
    issued = ownership.handover(database.session(), data["owner_key"])
    database.session().commit()
    return _code(issued), 201, _PRIVATE


@bp.post("/ownership/reset")
@guarded(bp, Role.ADMIN)
@json_body(bp, ResetIn)
@bp.response(201, ClaimCodeOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def reset(data):
    """The brand office resets a lost owner key on evidence: the owner key stops working,
    and a claim code for the owner is made (by any certificate code of the piece)."""
    issued = ownership.reset(database.session(), data["code"], note=data["note"], actor=g.actor)
    database.session().commit()
    return _code(issued), 201, _PRIVATE


def _view(owned, piece, *, owner_key: str | None = None) -> dict:
    certificate = piece.current_certificate
    view = {
        "certificate": certificate.printed_code if certificate else None,
        "since": owned.since,
        "report": owned.report,
        "reported_at": owned.reported_at,
    }
    if owner_key is not None:
        view["owner_key"] = owner_key
    return view


def _code(issued: claims.Issued) -> dict:
    return {
        "claim_code": issued.printed,
        "claim_url": slips.claim_url(current_app.config["PUBLIC_BASE_URL"], issued.code),
    }
