"""What the entries of some events say about their subject, written once: the service
that appends the event and the local check that compares the rows with the log
(check/records.py) both read it here, so the two can never drift apart.

Private values are named by their keyed commitment (`ledger.commitment`); `like` takes an
entry as written, so that one written before commitments were keyed is rebuilt in its
own form (plain SHA-256) and still compares equal."""

from typing import Any

from sqlalchemy.orm import Session

from registry.log import ledger
from registry.models import Account, AssayRecord, Maker, NewAssay, Shop


def admission(maker: Maker) -> dict[str, Any]:
    """What the log records of a maker's admission: all of it is public."""
    return {"name": maker.name, "region": maker.region, "city": maker.city, "mark": maker.mark}


def details(maker: Maker) -> dict[str, Any]:
    """What the log records when the brand office changes a maker's details: the public
    details the brand office keeps, all of them public."""
    return {
        "name": maker.name,
        "city": maker.city,
        "contacts": maker.contacts,
    }


def suspension(session: Session, maker: Maker, *, like: object = None) -> dict[str, Any]:
    """What the log records of a maker's suspension: its reason, by commitment (it may
    name an investigation)."""
    reason = maker.suspension_reason or ""
    return {"reason": ledger.committed_as(session, reason, like)}


def shop_admission(shop: Shop) -> dict[str, Any]:
    """What the log records of a shop's admission: all of it is public."""
    return {
        "shop": shop.slug,
        "name": shop.name,
        "kind": shop.kind,
        "region": shop.region,
        "city": shop.city,
        "address": shop.address,
    }


def password_digest(session: Session, account: Account, *, like: object = None) -> str | None:
    """What the log records of an account's password: a commitment to its argon2 hash
    (itself salted and slow, so this tells nothing about the password)."""
    if not account.password_hash:
        return None
    return ledger.committed_as(session, account.password_hash, like)


def attestation(
    session: Session, assay: AssayRecord | NewAssay, *, like: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the log records of an attestation, passed or failed: every field of the
    record, the inspector's notes by commitment."""
    said = (like or {}).get("notes")
    return {
        "assay": assay.id,
        "result": assay.result,
        "metal": assay.metal,
        "fineness": assay.fineness,
        "assay_mark": assay.assay_mark,
        "inspectorate": assay.inspectorate,
        "notes": ledger.committed_as(session, assay.notes, said) if assay.notes else None,
    }
