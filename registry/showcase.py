"""What the brand's public pages show: its regions, its makers, each maker's pieces.

A piece is on show while its current certificate is valid: the moment an inspector
revokes it, or a correction supersedes it, it leaves the showcase (after at most the
pages' cache time). Every count here is the number of such pieces, so that the
directory and the showcase agree. Reads only; the caller commits nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

import keys
from registry import codes
from registry.errors import InvalidInput
from registry.models import Certificate, Maker, Photo, Piece, Sale, Shop
from schemas.standards import REGIONS, CertificateStatus

#: Pieces on one page of a maker's showcase.
PAGE_SIZE = 24

#: Keys whose signatures stopped being trusted, and from when: (kid, compromised_since).
Distrust = Sequence[tuple[str, datetime]]


@dataclass(frozen=True)
class Region:
    code: str
    name: dict[str, str]
    makers: int


@dataclass(frozen=True)
class Listed:
    """A maker as the directory lists them."""

    maker: Maker
    pieces: int


@dataclass(frozen=True)
class Showpiece:
    """One certified piece on a maker's showcase."""

    code: str
    title: str
    kind: str
    metal: str
    fineness: int
    photo_sha256: str | None

    @property
    def printed(self) -> str:
        """The code as printed under the piece's QR code."""
        return codes.printed(self.code)


def distrusted(ring: keys.KeyRing) -> list[tuple[str, datetime]]:
    """The ring's compromised keys and their compromise times: what they signed from
    then on is shown as not valid by the verification page, so never on show here."""
    return [(k.kid, k.compromised_since) for k in ring.keys() if k.compromised_since]


def regions(session: Session) -> list[Region]:
    """The brand's three regions, in the brand's order, with how many makers each has."""
    counted = dict(
        session.execute(
            select(Maker.region, func.count(Maker.id))
            .where(Maker.suspended_at.is_(None))
            .group_by(Maker.region)
        ).all()
    )
    return [Region(code, names, counted.get(code, 0)) for code, names in REGIONS.items()]


def directory(
    session: Session, *, region: str | None = None, locale: str = "en", distrust: Distrust = ()
) -> list[Listed]:
    """The admitted makers (of one region, if given), but for the suspended ones, by region
    then by their name in `locale`, each with their number of pieces on show: one query
    for all of them.

    Raises InvalidInput for a region outside the brand.
    """
    if region is not None and region not in REGIONS:
        raise InvalidInput(
            f"{region!r} is not one of the brand's regions.",
            errors={"region": [f"Must be one of: {', '.join(REGIONS)}."]},
        )
    on_show = (
        select(Piece.maker_id, func.count(Certificate.id).label("pieces"))
        .join(Certificate, Certificate.piece_id == Piece.id)
        .where(_on_show(distrust))
        .group_by(Piece.maker_id)
        .subquery()
    )
    name = Maker.name_ru if locale == "ru" else Maker.name_en
    query = (
        select(Maker, func.coalesce(on_show.c.pieces, 0))
        .outerjoin(on_show, on_show.c.maker_id == Maker.id)
        .where(Maker.suspended_at.is_(None))
        .order_by(_region_order(), name, Maker.id)
    )
    if region is not None:
        query = query.where(Maker.region == region)
    return [Listed(maker, pieces) for maker, pieces in session.execute(query)]


def on_show(session: Session, maker: Maker, *, distrust: Distrust = ()) -> int:
    """How many of the maker's pieces are on show."""
    query = (
        select(func.count(Certificate.id))
        .join(Piece, Certificate.piece_id == Piece.id)
        .where(Piece.maker_id == maker.id, _on_show(distrust))
    )
    return session.scalar(query) or 0


def pieces(
    session: Session,
    maker: Maker,
    *,
    after: int | None = None,
    limit: int = PAGE_SIZE,
    distrust: Distrust = (),
) -> tuple[list[Showpiece], int | None]:
    """A page of the maker's pieces on show, the most recently certified first, and the
    cursor of the next page (None on the last): one query, photos included.

    The cursor is the certificate's id, so a piece certified while someone pages
    through shows on the first page, never twice or in place of another.
    """
    query = (
        select(
            Certificate.id,
            Certificate.code,
            Piece.title,
            Piece.kind,
            Piece.metal,
            Piece.fineness,
            Photo.sha256,
        )
        .join(Piece, Certificate.piece_id == Piece.id)
        .outerjoin(Photo, Piece.photo_id == Photo.id)
        .where(Piece.maker_id == maker.id, _on_show(distrust))
        .order_by(Certificate.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(Certificate.id < after)
    rows = session.execute(query).all()
    items = [
        Showpiece(
            code=row.code,
            title=row.title,
            kind=row.kind,
            metal=row.metal,
            fineness=row.fineness,
            photo_sha256=row.sha256,
        )
        for row in rows[:limit]
    ]
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return items, next_after


def sellers(session: Session, maker: Maker) -> list[Shop]:
    """Where the maker's pieces are sold: the maker's own shops, and the shops that
    sold a piece of theirs (a sale that stands), by city then name. One query."""
    sold_there = (
        select(Sale.shop_id)
        .join(Piece, Sale.piece_id == Piece.id)
        .where(Piece.maker_id == maker.id, Sale.cancelled_at.is_(None), Sale.shop_id.is_not(None))
    )
    query = (
        select(Shop)
        .where(or_(Shop.maker_id == maker.id, Shop.id.in_(sold_there)))
        .order_by(Shop.city, Shop.name_en, Shop.id)
    )
    return list(session.scalars(query))


def _on_show(distrust: Iterable[tuple[str, datetime]]):
    """Certificates that vouch for their piece now: valid, and not signed by a key after
    its compromise. (A piece's title, photo and metal change only through a reissue,
    which supersedes the old certificate: the piece row says what the valid one signed.)"""
    condition = Certificate.status == CertificateStatus.VALID
    untrusted = [
        and_(Certificate.kid == kid, Certificate.issued_at >= since) for kid, since in distrust
    ]
    if untrusted:
        condition = and_(condition, not_(or_(*untrusted)))
    return condition


def _region_order():
    """The regions in the brand's own order (REGIONS), not by their codes' spelling."""
    return case({code: position for position, code in enumerate(REGIONS)}, value=Maker.region)
