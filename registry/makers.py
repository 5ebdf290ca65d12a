"""Admitting makers to the brand, keeping their public details, suspending them, and the
public directory of them.

A suspended maker stays admitted: their certificates keep their verdicts (a buyer's piece
did not change), but no piece of theirs is registered or sold, and the showcase and the
public directory leave them out until the brand office reinstates them."""

import re
import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import Conflict, InvalidInput, NotFound
from registry.log import events, ledger
from registry.models import Account, Maker, utcnow
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


#: The details the brand office may change after admission. The region and the maker's
#: mark are what admission vouched for: a maker who moves or re-registers is admitted anew.
DETAILS = ("name_ru", "name_en", "city", "phone", "email", "website")


def update(
    session: Session, maker: Maker, data: dict[str, Any], *, actor: Account | None
) -> list[str]:
    """Change the maker's public details: the names, the city and the showcase's
    contacts, each given in `data` (a loaded MakerDetailsIn; a contact given as None is
    removed). Certificates already issued keep the names they were signed with.

    Returns the names of the fields that changed; nothing is logged when none did. The
    caller commits."""
    changed = [name for name in DETAILS if name in data and data[name] != getattr(maker, name)]
    for name in changed:
        setattr(maker, name, data[name])
    if changed:
        ledger.append(
            session, EventType.MAKER_UPDATED, actor=actor, maker=maker, data=events.details(maker)
        )
    return changed


def suspend(session: Session, maker: Maker, reason: str, *, actor: Account | None) -> Maker:
    """Suspend the maker for `reason` (kept private: the log holds its commitment).
    Raises Conflict when already suspended. The caller commits."""
    if maker.suspended_at is not None:
        raise Conflict(f"{maker.name_en} is already suspended.")
    maker.suspended_at = utcnow()
    maker.suspension_reason = reason
    ledger.append(
        session,
        EventType.MAKER_SUSPENDED,
        actor=actor,
        maker=maker,
        data=events.suspension(session, maker),
    )
    return maker


def reinstate(session: Session, maker: Maker, *, actor: Account | None) -> Maker:
    """End the maker's suspension. Raises Conflict when not suspended. The caller commits."""
    if maker.suspended_at is None:
        raise Conflict(f"{maker.name_en} is not suspended.")
    maker.suspended_at = None
    maker.suspension_reason = None
    ledger.append(session, EventType.MAKER_REINSTATED, actor=actor, maker=maker, data={})
    return maker


def active(maker: Maker) -> None:
    """Raises Conflict when the maker is suspended: nothing of theirs is registered or
    sold until the brand office reinstates them."""
    if maker.suspended_at is not None:
        raise Conflict(
            f"The brand office has suspended {maker.name_en}: no piece of theirs can be "
            "registered or sold until it reinstates them."
        )


def get(session: Session, slug: str, *, public: bool = False) -> Maker:
    """The maker with this slug; raises NotFound, for a suspended maker too where the
    answer is `public`."""
    # Text that cannot be a slug is never looked up: PostgreSQL refuses some (a NUL) outright.
    maker = session.scalar(select(Maker).where(Maker.slug == slug)) if SLUG.match(slug) else None
    if maker is None or (public and maker.suspended_at is not None):
        raise NotFound(f"No maker {slug!r} is admitted to the brand.")
    return maker


def directory(session: Session, *, region: str | None = None, public: bool = False) -> list[Maker]:
    """The brand's makers, by region then name; without the suspended ones where `public`."""
    query = select(Maker).order_by(Maker.region, Maker.name_en)
    if region:
        query = query.where(Maker.region == region)
    if public:
        query = query.where(Maker.suspended_at.is_(None))
    return list(session.scalars(query))
