"""Admitting makers to the brand, and the public directory of them."""

import re
import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import Conflict, InvalidInput, NotFound
from registry.log import events, ledger
from registry.models import Account, Maker
from schemas.common import SLUG
from schemas.standards import REGIONS, EventType


def _slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")


def admit(session: Session, data: dict[str, Any], *, actor: Account | None) -> Maker:
    """Admit a maker of one of the brand's regions.

    Raises InvalidInput for a region outside the brand, Conflict for a slug or maker's
    mark already admitted. The caller commits.
    """
    if data["region"] not in REGIONS:
        raise InvalidInput(
            "Only makers of Krasnoyarsk Krai, Khakassia and Tuva can be admitted.",
            errors={"region": [f"Must be one of: {', '.join(REGIONS)}."]},
        )
    slug = data.get("slug") or _slugify(data["name_en"])
    if len(slug) < 2:
        raise InvalidInput(
            "Give a slug: the English name has too few Latin letters to make one.",
            errors={"slug": ["Required when name_en has no Latin letters."]},
        )
    if session.scalar(select(Maker.id).where(Maker.slug == slug)) is not None:
        raise Conflict(
            f"A maker with slug {slug!r} is already admitted.", errors={"slug": ["Already taken."]}
        )
    mark = data["mark"].upper()
    if session.scalar(select(Maker.id).where(Maker.mark == mark)) is not None:
        raise Conflict(
            f"The maker's mark {mark!r} is already registered to another maker.",
            errors={"mark": ["Already registered."]},
        )
    maker = Maker(
        slug=slug,
        name_ru=data["name_ru"],
        name_en=data["name_en"],
        region=data["region"],
        city=data["city"],
        mark=mark,
    )
    session.add(maker)
    ledger.append(
        session,
        EventType.MAKER_ADMITTED,
        actor=actor,
        maker=maker,
        data=events.admission(maker),
    )
    return maker


def get(session: Session, slug: str) -> Maker:
    """The maker with this slug; raises NotFound."""
    # Text that cannot be a slug is never looked up: PostgreSQL refuses some (a NUL) outright.
    maker = session.scalar(select(Maker).where(Maker.slug == slug)) if SLUG.match(slug) else None
    if maker is None:
        raise NotFound(f"No maker {slug!r} is admitted to the brand.")
    return maker


def directory(session: Session, *, region: str | None = None) -> list[Maker]:
    """The brand's makers, by region then name."""
    query = select(Maker).order_by(Maker.region, Maker.name_en)
    if region:
        query = query.where(Maker.region == region)
    return list(session.scalars(query))
