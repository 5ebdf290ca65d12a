"""Admitting shops (points of sale) to the brand, and the public directory of them.

A shop is where the brand's pieces are sold: the Jewellery Centre, a maker's own shop,
an authorised retailer. Buyers are told where that is (`GET /api/v1/shops`, the
showcase), so everything about a shop is public, and its admission a log event.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import makers
from registry.errors import Conflict, InvalidInput, NotFound
from registry.log import events, ledger
from registry.models import Account, Maker, Shop
from schemas.common import SLUG
from schemas.standards import REGIONS, EventType, ShopKind


def admit(session: Session, data: dict[str, Any], *, actor: Account | None) -> Shop:
    """Admit a shop of one of the brand's regions; a maker's own shop names its maker.

    Raises InvalidInput for a region outside the brand, or a maker's shop without its
    maker (or a maker named by another kind of shop); NotFound for an unknown maker;
    Conflict for a slug already admitted. The caller commits.
    """
    if data["region"] not in REGIONS:
        raise InvalidInput(
            "Only shops of Krasnoyarsk Krai, Khakassia and Tuva can be admitted.",
            errors={"region": [f"Must be one of: {', '.join(REGIONS)}."]},
        )
    maker: Maker | None = None
    if data.get("maker"):
        try:
            maker = makers.get(session, data["maker"])
        except NotFound as exc:
            raise NotFound(
                exc.detail, errors={"maker": ["No admitted maker has this slug."]}
            ) from exc
    if (data["kind"] == ShopKind.MAKERS_SHOP) != (maker is not None):
        raise InvalidInput(
            "A maker's own shop names its maker, and only such a shop does.",
            errors={"maker": ["Required for a maker's own shop, and only for one."]},
        )
    slug = data["slug"]
    if session.scalar(select(Shop.id).where(Shop.slug == slug)) is not None:
        raise Conflict(
            f"A shop with slug {slug!r} is already admitted.", errors={"slug": ["Already taken."]}
        )
    shop = Shop(
        slug=slug,
        name_ru=data["name_ru"],
        name_en=data["name_en"],
        kind=data["kind"],
        region=data["region"],
        city=data["city"],
        address=data.get("address") or None,
        maker=maker,
    )
    session.add(shop)
    ledger.append(
        session, EventType.SHOP_ADMITTED, actor=actor, maker=maker, data=events.shop_admission(shop)
    )
    return shop


def described(shop: Shop) -> dict[str, Any]:
    """A shop as the public directory gives it (schemas.shops.ShopOut)."""
    return {
        "slug": shop.slug,
        "name": shop.name,
        "kind": shop.kind,
        "region": {"code": shop.region, "name": REGIONS[shop.region]},
        "city": shop.city,
        "address": shop.address,
        "maker": shop.maker.slug if shop.maker else None,
        "admitted_at": shop.admitted_at,
    }


def get(session: Session, slug: str) -> Shop:
    """The shop with this slug; raises NotFound."""
    # Text that cannot be a slug is never looked up: PostgreSQL refuses some (a NUL) outright.
    shop = session.scalar(select(Shop).where(Shop.slug == slug)) if SLUG.match(slug) else None
    if shop is None:
        raise NotFound(f"No shop {slug!r} is admitted to the brand.")
    return shop


def directory(session: Session, *, region: str | None = None) -> list[Shop]:
    """The brand's shops, by region then city then name."""
    query = select(Shop).order_by(Shop.region, Shop.city, Shop.name_en, Shop.id)
    if region:
        query = query.where(Shop.region == region)
    return list(session.scalars(query))
