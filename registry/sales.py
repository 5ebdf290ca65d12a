"""Sales of certified pieces, by a shop or by the piece's maker, and their cancellation.

A sale is what makes a piece read "Sold on <date> at <shop>" when scanned, so that a
"new" piece whose code was sold long ago is suspect. It hands the buyer a one-time claim
code (registry.claims) on the sale slip (registry.slips); the code itself is never
stored, and the log holds only a keyed commitment of it.

At most one sale of a piece stands at a time: the certificate's row is locked while a
sale is recorded, and the partial unique index `uq_sale_standing_piece` holds it when
two sellers race anyway. A sale may be cancelled (a return) by its seller within
REGISTRY_SALE_CANCEL_DAYS; that withdraws its unused claim code and ends the ownership
claimed with it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import certificates, claims, codes, makers
from registry.errors import Conflict, Forbidden, NotFound
from registry.log import checkpoints, ledger
from registry.models import (
    Account,
    Certificate,
    Maker,
    Ownership,
    Piece,
    Sale,
    Shop,
)
from schemas.standards import CertificateStatus, ClaimOrigin, EventType, Role

#: How long a seller may cancel a sale unless configured (REGISTRY_SALE_CANCEL_DAYS).
CANCEL_WINDOW = timedelta(days=14)

_NO_CERTIFICATE = "No certificate with this code was ever issued by the registry."
_NO_SALE = "This piece has no standing sale of yours to cancel."


@dataclass(frozen=True)
class Recorded:
    """A sale just recorded, with the claim code to print on its slip, once."""

    sale: Sale
    piece: Piece
    certificate: Certificate
    claim_code: str

    @property
    def printed_claim_code(self) -> str:
        return claims.printed(self.claim_code)


@dataclass(frozen=True)
class Cancelled:
    """A sale just cancelled, and the certificate it was cancelled by."""

    sale: Sale
    certificate: Certificate


@dataclass(frozen=True)
class Listed:
    """One of a seller's sales, as their portal lists it."""

    sale: Sale
    code: str
    title: str
    cancellable: bool

    @property
    def printed_code(self) -> str:
        return codes.printed(self.code)


def record(session: Session, text: str, actor: Account) -> Recorded:
    """Record the sale of the piece whose certificate code `text` is (read leniently,
    as /verify reads it), by the actor's shop or, for a maker's account, by its maker.

    Raises MalformedCode or MistypedCode for a code mistyped; NotFound for one never
    issued, or another maker's (to a maker); Conflict when the certificate is not valid
    (revoked, superseded) or the piece already has a standing sale; Forbidden for an
    account that sells nothing. The caller commits.
    """
    shop, maker_id = _seller_of(actor)
    certificate = certificates.find(session, text, lock=True)
    piece = certificate.piece
    if maker_id is not None and piece.maker_id != maker_id:
        raise NotFound(_NO_CERTIFICATE)
    if certificate.status != CertificateStatus.VALID:
        raise Conflict(_not_for_sale(certificate))
    makers.active(piece.maker)
    if _standing(session, piece.id) is not None:
        raise Conflict("This piece is already sold: a sale of it stands. Cancel that one first.")
    now = checkpoints.now(session).replace(microsecond=0)
    sale = Sale(
        piece_id=piece.id,
        certificate_id=certificate.id,
        shop_id=shop.id if shop else None,
        maker_id=maker_id,
        seller_id=actor.id,
        sold_at=now,
    )
    try:
        with session.begin_nested():
            session.add(sale)
            session.flush()
    except IntegrityError:
        # Another seller's sale of the piece committed after the check above.
        raise Conflict(
            "This piece is already sold: a sale of it stands. Cancel that one first."
        ) from None
    issued = claims.issue(session, piece, sale, ClaimOrigin.SALE)
    ledger.append(
        session,
        EventType.SALE_RECORDED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=certificate,
        data={"seller": seller(sale), "claim": ledger.commitment(session, issued.code)},
        at=now,
    )
    certificates.seal_piece(session, piece.id)
    return Recorded(sale=sale, piece=piece, certificate=certificate, claim_code=issued.code)


def cancel(
    session: Session, text: str, actor: Account, *, window: timedelta = CANCEL_WINDOW
) -> Cancelled:
    """Cancel the standing sale of the piece whose certificate code `text` is (a
    return), by the seller who recorded it, within `window` of the sale. Its unused
    claim code is withdrawn and the ownership claimed with it ends.

    Raises MalformedCode, MistypedCode or NotFound for the code; NotFound also when the
    piece has no standing sale by this seller (another's sale is not confirmed to
    exist); Conflict when the window has passed. The caller commits.
    """
    shop, maker_id = _seller_of(actor)
    certificate = certificates.find(session, text, lock=True)
    piece = certificate.piece
    sale = _standing(session, piece.id)
    if sale is None or not _sold_by(sale, shop, maker_id):
        raise NotFound(_NO_SALE)
    now = checkpoints.now(session).replace(microsecond=0)
    if now - sale.sold_at > window:
        days = window.days
        raise Conflict(
            f"This sale can no longer be cancelled: a sale is cancelled within {days} days. "
            "Ask the brand office."
        )
    sale.cancelled_at = now
    claims.withdraw_unused(session, piece.id, now)
    owner = session.scalar(
        select(Ownership).where(Ownership.piece_id == piece.id, Ownership.ended_at.is_(None))
    )
    if owner is not None:
        owner.ended_at = now
    ledger.append(
        session,
        EventType.SALE_CANCELLED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=certificate,
        data={"seller": seller(sale), "ownership_ended": owner is not None},
        at=now,
    )
    certificates.seal_piece(session, piece.id)
    return Cancelled(sale=sale, certificate=certificate)


def of_seller(
    session: Session,
    actor: Account,
    *,
    window: timedelta = CANCEL_WINDOW,
    limit: int = 100,
    now: datetime | None = None,
) -> list[Listed]:
    """The actor's shop's (or maker's) sales, newest first, each with whether it may
    still be cancelled. Reads only."""
    shop, maker_id = _seller_of(actor)
    query = (
        select(Sale, Certificate.code, Piece.title)
        .join(Certificate, Certificate.id == Sale.certificate_id)
        .join(Piece, Piece.id == Sale.piece_id)
        .order_by(Sale.sold_at.desc(), Sale.id.desc())
        .limit(limit)
    )
    if shop is not None:
        query = query.where(Sale.shop_id == shop.id)
    else:
        query = query.where(Sale.maker_id == maker_id)
    now = now or checkpoints.now(session)
    return [
        Listed(
            sale=sale,
            code=code,
            title=title,
            cancellable=sale.cancelled_at is None and now - sale.sold_at <= window,
        )
        for sale, code, title in session.execute(query)
    ]


def seller(sale: Sale) -> str:
    """Who sold, as the log names them: "shop:<slug>" or "maker:<slug>"."""
    if sale.shop_id is not None:
        shop = sale.shop
        assert shop is not None  # noqa: S101 - loaded with the sale
        return f"shop:{shop.slug}"
    maker = sale.maker
    assert maker is not None  # noqa: S101 - a sale has one seller (check constraint)
    return f"maker:{maker.slug}"


def sold_by(sale: Sale) -> dict[str, Any]:
    """The seller as the API describes them (schemas.sales.SellerOut)."""
    party: Shop | Maker | None = sale.shop if sale.shop_id is not None else sale.maker
    assert party is not None  # noqa: S101 - a sale has one seller (check constraint)
    return {
        "kind": "shop" if isinstance(party, Shop) else "maker",
        "slug": party.slug,
        "name": party.name,
        "city": party.city,
        "region": party.region,
    }


def _seller_of(actor: Account) -> tuple[Shop | None, int | None]:
    """(the shop, None) for a shop's account, (None, maker id) for a maker's."""
    if actor.role == Role.SHOP and actor.shop is not None:
        return actor.shop, None
    if actor.role == Role.MAKER and actor.maker_id is not None:
        return None, actor.maker_id
    raise Forbidden("Only a shop, or the maker of the piece, records and cancels its sale.")


def _sold_by(sale: Sale, shop: Shop | None, maker_id: int | None) -> bool:
    if shop is not None:
        return sale.shop_id == shop.id
    return sale.maker_id == maker_id


def _standing(session: Session, piece_id: int) -> Sale | None:
    return session.scalar(
        select(Sale).where(Sale.piece_id == piece_id, Sale.cancelled_at.is_(None))
    )


def _not_for_sale(certificate: Certificate) -> str:
    if certificate.status == CertificateStatus.SUPERSEDED and certificate.superseded_by_code:
        successor = codes.printed(certificate.superseded_by_code)
        return f"This certificate was superseded by {successor}: sell the piece under that code."
    return f"This certificate is {certificate.status}: a piece is sold only under a valid one."
