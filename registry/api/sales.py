"""Sales: a shop, or the maker of the piece, records the sale of a certified piece by
its code, and may cancel it (a return) within the configured window."""

import base64
from datetime import timedelta

from flask import current_app, g
from flask_smorest import Blueprint

from registry import cards, sales, slips
from registry.api.common import guarded
from registry.edge import database, printing
from schemas.sales import SaleCancelledOut, SaleOut
from schemas.standards import Role

bp = Blueprint("sales", __name__, url_prefix="/api/v1", description="Sales")

# The claim code is for the seller's eyes (and the buyer's slip) only: no cache keeps it.
_PRIVATE = {"Cache-Control": "no-store"}


def window() -> timedelta:
    """How long a seller may cancel a sale: REGISTRY_SALE_CANCEL_DAYS."""
    return timedelta(days=current_app.config["SALE_CANCEL_DAYS"])


def fonts() -> cards.Fonts:
    """The slip's fonts, checked before a sale is recorded: a sale whose slip cannot be
    printed would hand the buyer no claim code."""
    found = printing.fonts()
    found.check()
    return found


def slip_of(recorded: sales.Recorded, fonts: cards.Fonts) -> bytes:
    """The sale slip's PDF, for the answer to the sale only (the code is never stored).
    Made after the commit, so that the write lock is not held while it is drawn."""
    config = current_app.config
    content = slips.of(recorded, brand=config["BRAND"], base_url=config["PUBLIC_BASE_URL"])
    return slips.slip(content, fonts=fonts, timezone=config["DISPLAY_TIMEZONE"])


@bp.post("/certificates/<code>/sale")
@guarded(bp, Role.SHOP, Role.MAKER)
@bp.response(201, SaleOut)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def record(code):
    """Record the sale of a certified piece: the answer holds the one-time ownership
    claim code and the sale slip (A6 PDF), never to be shown again. Codes are read
    leniently."""
    printing = fonts()
    recorded = sales.record(database.session(), code, g.actor)
    database.session().commit()
    pdf = slip_of(recorded, printing)
    return (
        {
            "code": recorded.certificate.printed_code,
            "sold_at": recorded.sale.sold_at,
            "shop": sales.sold_by(recorded.sale),
            "claim_code": recorded.printed_claim_code,
            "claim_url": slips.claim_url(
                current_app.config["PUBLIC_BASE_URL"], recorded.claim_code
            ),
            "slip": base64.b64encode(pdf).decode("ascii"),
        },
        201,
        _PRIVATE,
    )


@bp.post("/certificates/<code>/sale/cancel")
@guarded(bp, Role.SHOP, Role.MAKER)
@bp.response(200, SaleCancelledOut)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def cancel(code):
    """Cancel your own sale of a piece (a return) within the window: its unused claim
    code stops working, and the ownership claimed with it ends."""
    cancelled = sales.cancel(database.session(), code, g.actor, window=window())
    database.session().commit()
    sale = cancelled.sale
    return {
        "code": cancelled.certificate.printed_code,
        "sold_at": sale.sold_at,
        "cancelled_at": sale.cancelled_at,
        "shop": sales.sold_by(sale),
    }
