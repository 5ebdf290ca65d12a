"""Proofs that a row was written by the registry itself, not by hand in the database.

The threat is someone who can write the database but cannot read the keys directory (a
leaked backup restored with changes, an SQL injection, a careless operator). Whatever
they write must neither reach a buyer's page nor be signed. So the registry's own writes
carry keyed hashes (HMAC-SHA256) under keys derived from the directory's commitment key:

- every log entry, a MAC of its index and bytes, made as it is appended: the checkpoint
  signer refuses to sign over an entry without a valid one (registry/log/checkpoints.py),
  and `registry log verify` names it;
- every certificate, a seal of what a scan shows beside the signed payload (its status,
  revocation, successor) and of the index of the newest entry about it, made with each
  change and checked on every scan (registry/verification.py). The index is what makes an
  old, once-genuine state restored from a backup fail: a later entry about the
  certificate (its revocation) is still there.

Both are checked with the same key by the registry only; to anyone else they prove
nothing, and the public log and the signatures are what they verify.
"""

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from keys.commitments import CommitmentKey
from schemas import canonical
from schemas.common import timestamp

_KEY = "registry.log.proofs"


@dataclass(frozen=True)
class AfterSale:
    """What a scan shows of the piece after its sale: the standing sale, by whom, the
    current owner's registration, and the owner's report of theft or loss."""

    sold_at: datetime | None = None
    #: "shop:<slug>" or "maker:<slug>".
    sold_by: str | None = None
    owned_since: datetime | None = None
    owner_report: str | None = None
    reported_at: datetime | None = None
    #: The piece's current certificate was revoked as lost or stolen (shown on every
    #: certificate of the piece, the superseded ones too).
    revoked_as_stolen: bool = False

    def sealed(self) -> dict[str, Any] | None:
        if self == _NOTHING_AFTER_SALE:
            return None  # as sealed before sales existed: those seals still hold
        return {
            "sold_at": _time(self.sold_at),
            "sold_by": self.sold_by,
            "owned_since": _time(self.owned_since),
            "owner_report": self.owner_report,
            "reported_at": _time(self.reported_at),
            "revoked_as_stolen": self.revoked_as_stolen,
        }


_NOTHING_AFTER_SALE = AfterSale()


def _time(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment else None


@dataclass(frozen=True)
class CertificateState:
    """What a scan shows of a certificate beside its signed bytes."""

    code: str
    status: str
    revoked_at: datetime | None
    revocation_reason: str | None
    revocation_note: str | None
    superseded_by: str | None
    #: The index of the newest log entry about the certificate.
    last_index: int | None
    after_sale: AfterSale = _NOTHING_AFTER_SALE

    @classmethod
    def of(
        cls,
        row: Any,
        *,
        superseded_by: str | None,
        last_index: int | None,
        after_sale: AfterSale = _NOTHING_AFTER_SALE,
    ):
        """The state of a certificate as `row` (a model, or a row read for a scan) holds
        it, with its successor's code, the newest entry about it, and its piece's state
        after the sale."""
        return cls(
            code=row.code,
            status=row.status,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            revocation_note=row.revocation_note,
            superseded_by=superseded_by,
            last_index=last_index,
            after_sale=after_sale,
        )

    def sealed_bytes(self) -> bytes:
        sealed: dict[str, Any] = {
            "code": self.code,
            "status": self.status,
            "revoked_at": _time(self.revoked_at),
            "reason": self.revocation_reason,
            "note": self.revocation_note,
            "superseded_by": self.superseded_by,
            "last_index": self.last_index,
        }
        after_sale = self.after_sale.sealed()
        if after_sale is not None:
            sealed["after_sale"] = after_sale
        return canonical.dumps(sealed)


class Proofs:
    """The registry's keys for its own writes; the repr never shows them."""

    def __init__(self, key: CommitmentKey):
        self._entries = key.derive("log entry v1")
        self._states = key.derive("certificate state v1")

    def __repr__(self) -> str:
        return "Proofs(…)"

    def entry_mac(self, index: int, entry: bytes) -> str:
        """The MAC of the entry at `index`: bound to its place, so that moving a genuine
        entry elsewhere in the log fails too."""
        return self._entries.commit(_entry_bytes(index, entry))

    def entry_holds(self, index: int, entry: bytes, mac: str | None) -> bool:
        return self._entries.holds(_entry_bytes(index, entry), mac)

    def seal(self, state: CertificateState) -> str:
        return self._states.commit(state.sealed_bytes())

    def seal_holds(self, state: CertificateState, seal: str | None) -> bool:
        return self._states.holds(state.sealed_bytes(), seal)


def _entry_bytes(index: int, entry: bytes) -> bytes:
    return struct.pack(">Q", index) + entry


def keep(session_info: dict, proofs: Proofs) -> None:
    """Have the sessions whose `info` this is prove their writes with `proofs`."""
    session_info[_KEY] = proofs


def of(session: Session) -> Proofs:
    """The proofs of the session's writes. Raises RuntimeError for a session made without
    them (registry.log.ledger.keep_private gives them with the commitment key)."""
    proofs = session.info.get(_KEY)
    if proofs is None:
        raise RuntimeError("this session has no keys to prove its writes (ledger.keep_private)")
    return proofs
