"""Owners of sold pieces: claiming a piece from its slip, the owner's reports of theft or
loss, handing it over, and the brand office's reset of a lost owner key.

No account and nothing personal: an owner is known only by the SHA-256 of a private
owner key (registry/claims.py), given once when they claim. Every change here is a log
event naming claim codes and owner keys only by their keyed commitments, and seals every
certificate of the piece again, since scans show the ownership and its reports.

Exactly one of two claims of one code wins, on SQLite and PostgreSQL alike: the claim's
row is locked (SQLite's writer lock does as much), its use is a conditional UPDATE whose
row count is checked, and the unique partial index uq_ownership_current_piece holds one
current owner per piece whatever happens.
"""

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from registry import certificates, claims
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.log import checkpoints, ledger
from registry.models import Account, Ownership, OwnershipClaim, Piece, Sale
from schemas.standards import ClaimOrigin, EventType, OwnerReport, Role


@dataclass(frozen=True)
class Claimed:
    """A claim that succeeded: the new ownership, and its owner key, to show once."""

    ownership: Ownership
    piece: Piece
    owner_key: str


@dataclass(frozen=True)
class Owned:
    """What an owner key opens: the current ownership and its piece."""

    ownership: Ownership
    piece: Piece


# One answer for a key never issued and one that stopped working: which it is would tell
# a finder of an old key whether it ever worked.
_NO_OWNER = "This owner key is not, or no longer, valid."


def claim(session: Session, claim_code: str) -> Claimed:
    """Claim the piece of a claim code: the previous owner (if any) ends, a new owner key
    is made. The caller commits.

    Raises InvalidInput for text that is not a claim code or is mistyped, NotFound for a
    code never issued, Conflict for one already used, withdrawn (replaced by a newer
    code, or its sale cancelled) or of a cancelled sale.
    """
    code = claims.parse(claim_code)
    row = session.scalar(
        select(OwnershipClaim)
        .where(OwnershipClaim.code_hash == claims.digest(code))
        .with_for_update()
        # A racing claim may have used it while this one waited for the lock: re-read.
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(
            "There is no such claim code. Check it against the sale slip.",
            errors={"claim_code": ["No such claim code."]},
        )
    if row.used_at is not None:
        raise _already_used()
    sale = session.get(Sale, row.sale_id)
    if row.withdrawn_at is not None or sale is None or sale.cancelled_at is not None:
        raise Conflict(
            "This claim code is no longer valid: the sale was cancelled, or a newer code "
            "replaced it.",
            errors={"claim_code": ["No longer valid."]},
        )
    now = checkpoints.now(session)
    used = session.execute(
        update(OwnershipClaim)
        .where(
            OwnershipClaim.id == row.id,
            OwnershipClaim.used_at.is_(None),
            OwnershipClaim.withdrawn_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        raise _already_used()
    set_committed_value(row, "used_at", now)
    piece = session.get_one(Piece, row.piece_id)
    previous = _current(session, piece.id)
    if previous is not None:
        # The hand-over completes: the previous owner key stops working now. Flushed
        # before the new owner is added, for the index of one current owner per piece.
        previous.ended_at = now
        session.flush()
    key = claims.new_owner_key()
    ownership = Ownership(
        piece_id=piece.id, claim_id=row.id, key_hash=claims.digest(key), since=now
    )
    session.add(ownership)
    ledger.append(
        session,
        EventType.OWNERSHIP_CLAIMED,
        actor=None,
        maker=piece.maker,
        piece=piece,
        certificate=piece.current_certificate,
        data={
            "claim": ledger.commitment(session, code),
            "key": ledger.commitment(session, key),
            "origin": row.origin,
        },
        at=now,
    )
    certificates.seal_piece(session, piece.id)
    return Claimed(ownership=ownership, piece=piece, owner_key=key)


def owned(session: Session, owner_key: str, *, lock: bool = False) -> Owned:
    """The current ownership an owner key opens. Raises InvalidInput for text that is not
    an owner key, NotFound for a key never issued or no longer current (one answer)."""
    key = claims.owner_key(owner_key)
    query = select(Ownership).where(Ownership.key_hash == claims.digest(key))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    ownership = session.scalar(query)
    if ownership is None or ownership.ended_at is not None:
        raise NotFound(_NO_OWNER, errors={"owner_key": ["Not a valid owner key."]})
    return Owned(ownership=ownership, piece=session.get_one(Piece, ownership.piece_id))


def report(session: Session, owner_key: str, kind: str) -> Owned:
    """The owner reports the piece stolen or lost, or withdraws that report (found). The
    caller commits.

    Raises InvalidInput for an unknown kind, NotFound for a key that opens nothing, and
    Conflict for a report already standing, or a withdrawal of none.
    """
    if kind not in set(OwnerReport):
        raise InvalidInput(
            "Say stolen, lost or found.", errors={"kind": ["Must be stolen, lost or found."]}
        )
    found = owned(session, owner_key, lock=True)
    ownership, piece = found.ownership, found.piece
    now = checkpoints.now(session)
    if kind == OwnerReport.FOUND:
        if ownership.report is None:
            raise Conflict(
                "There is no report of theft or loss to withdraw.",
                errors={"kind": ["Nothing to withdraw."]},
            )
        withdrawn = ownership.report
        ownership.report, ownership.reported_at = None, None
        action, data = EventType.OWNERSHIP_WITHDRAWN, {"kind": withdrawn}
    else:
        if ownership.report == kind:
            raise Conflict(
                f"The piece is already reported {kind}.",
                errors={"kind": ["Already reported."]},
            )
        ownership.report, ownership.reported_at = str(kind), now
        action, data = EventType.OWNERSHIP_REPORTED, {"kind": str(kind)}
    ledger.append(
        session,
        action,
        actor=None,
        maker=piece.maker,
        piece=piece,
        certificate=piece.current_certificate,
        data=data,
        at=now,
    )
    certificates.seal_piece(session, piece.id)
    return found


def handover(session: Session, owner_key: str) -> claims.Issued:
    """A new one-time claim code for the next owner; the current owner stays the owner
    until it is claimed (an earlier unused code stops working). The caller commits.

    Raises NotFound for a key that opens nothing, Conflict while the piece is reported
    stolen or lost (withdraw the report first) or when its sale no longer stands.
    """
    found = owned(session, owner_key, lock=True)
    ownership, piece = found.ownership, found.piece
    if ownership.report is not None:
        raise Conflict(
            f"The piece is reported {ownership.report}: withdraw the report before handing "
            "it over.",
            errors={"owner_key": ["Reported stolen or lost."]},
        )
    issued = claims.issue(session, piece, _standing_sale(session, piece), ClaimOrigin.HANDOVER)
    ledger.append(
        session,
        EventType.OWNERSHIP_HANDED_OVER,
        actor=None,
        maker=piece.maker,
        piece=piece,
        certificate=piece.current_certificate,
        data={"claim": ledger.commitment(session, issued.code)},
    )
    return issued


def reset(session: Session, target: Piece | str, *, note: str, actor: Account) -> claims.Issued:
    """The brand office, on evidence, resets a lost owner key: the current ownership (if
    any) ends, and a claim code for the owner is made. `target` is the piece, or a code of
    any certificate of it. The caller commits.

    Raises Forbidden for anyone but the brand office, MalformedCode, MistypedCode or
    NotFound for the code, and Conflict for a piece whose sale does not stand.
    """
    if actor.role != Role.ADMIN:
        raise Forbidden("Only the brand office can reset an owner key.")
    if not note or not note.strip():
        raise InvalidInput("Say what evidence the reset rests on.", errors={"note": ["Required."]})
    piece = target if isinstance(target, Piece) else certificates.find(session, target).piece
    sale = _standing_sale(session, piece)
    now = checkpoints.now(session)
    current = _current(session, piece.id, lock=True)
    if current is not None:
        current.ended_at = now
    issued = claims.issue(session, piece, sale, ClaimOrigin.RESET)
    ledger.append(
        session,
        EventType.OWNER_KEY_RESET,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=piece.current_certificate,
        data={
            "claim": ledger.commitment(session, issued.code),
            "note": ledger.commitment(session, note.strip()),
            "ended": current is not None,
        },
        at=now,
    )
    certificates.seal_piece(session, piece.id)
    return issued


def _current(session: Session, piece_id: int, *, lock: bool = True) -> Ownership | None:
    query = select(Ownership).where(Ownership.piece_id == piece_id, Ownership.ended_at.is_(None))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def _standing_sale(session: Session, piece: Piece) -> Sale:
    sale = session.scalar(
        select(Sale).where(Sale.piece_id == piece.id, Sale.cancelled_at.is_(None))
    )
    if sale is None:
        raise Conflict(
            "This piece has no standing sale: there is no owner to hand over from or to.",
            errors={"code": ["Not sold."]},
        )
    return sale


def _already_used() -> Conflict:
    return Conflict(
        "This claim code has already been used: each code works once.",
        errors={"claim_code": ["Already used."]},
    )
