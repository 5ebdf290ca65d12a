"""What the entries of some events say about their subject, written once: the service
that appends the event and the local check that compares the rows with the log
(check/records.py) both read it here, so the two can never drift apart."""

from typing import Any

from registry.log import ledger
from registry.models import Account, AssayRecord, Maker


def admission(maker: Maker) -> dict[str, Any]:
    """What the log records of a maker's admission: all of it is public."""
    return {"name": maker.name, "region": maker.region, "city": maker.city, "mark": maker.mark}


def password_digest(account: Account) -> str | None:
    """What the log records of an account's password: the SHA-256 of its argon2 hash
    (itself salted and slow, so the digest tells nothing about the password)."""
    return ledger.digest(account.password_hash) if account.password_hash else None


def attestation(assay: AssayRecord) -> dict[str, Any]:
    """What the log records of an attestation, passed or failed: every field of the
    record, the inspector's notes by hash."""
    return {
        "assay": assay.id,
        "result": assay.result,
        "metal": assay.metal,
        "fineness": assay.fineness,
        "assay_mark": assay.assay_mark,
        "inspectorate": assay.inspectorate,
        "notes": ledger.digest(assay.notes) if assay.notes else None,
    }
