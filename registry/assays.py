"""Assay attestation: the inspector's statement that issues, or withholds, a certificate."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from registry import certificates, pieces
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.log import events, ledger
from registry.models import Account, AssayRecord, utcnow
from schemas.standards import AssayResult, EventType, PieceStatus, Role

# A piece may be (re-)assayed while it has no current certificate.
_ASSAYABLE = (PieceStatus.AWAITING_ASSAY, PieceStatus.ASSAY_FAILED)


def attest(
    session: Session,
    ring: keys.KeyRing,
    piece_id: int,
    data: dict[str, Any],
    *,
    issuer: certificates.Issuer,
    actor: Account,
) -> AssayRecord:
    """Record an assay of a piece; a pass issues its certificate in the same transaction.

    Only inspectors attest. The piece row is locked first, so two attestations racing
    on one piece are serialised and the second finds it already certified (Conflict);
    the unique index on current certificates is the last line of defence. A pass must
    confirm the declared metal and at least the declared fineness. The caller commits:
    everything or nothing is stored.
    """
    if actor.role != Role.INSPECTOR:
        raise Forbidden("Only an assay inspector can attest a piece.")
    piece = pieces.get(session, piece_id, actor=actor, lock=True)
    if piece.status not in _ASSAYABLE:
        raise Conflict(
            f"Piece {piece.id} is {piece.status.replace('_', ' ')}; only a piece awaiting "
            "assay can be attested (a certified piece is corrected by reissuing).",
        )
    if data["result"] == AssayResult.PASSED and data["metal"] != piece.metal:
        raise InvalidInput(
            f"A pass must confirm the declared metal ({piece.metal}); record the assay as "
            "failed when the metal differs.",
            errors={"metal": [f"Declared metal is {piece.metal}."]},
        )
    if data["result"] == AssayResult.PASSED and data["fineness"] < piece.fineness:
        # The certificate states the declared fineness: a pass must not sign less as more.
        raise InvalidInput(
            f"A pass must find at least the declared fineness ({piece.fineness}); record "
            "the assay as failed when it is lower.",
            errors={"fineness": [f"Declared fineness is {piece.fineness}."]},
        )
    inspectorate = issuer.inspectorate(data.get("inspectorate"))
    if inspectorate is None:
        known = "; ".join(f"{i.en} ({i.ru})" for i in issuer.inspectorates)
        raise InvalidInput(
            f"{data['inspectorate']!r} is not an inspectorate the registry records; "
            f"known: {known}.",
            errors={"inspectorate": [f"Unknown inspectorate; known: {known}."]},
        )
    assay = AssayRecord(
        piece=piece,
        inspector_id=actor.id,
        result=data["result"],
        metal=data["metal"],
        fineness=data["fineness"],
        assay_mark=data["assay_mark"],
        inspectorate=inspectorate.en,
        notes=data.get("notes"),
        attested_at=utcnow().replace(microsecond=0),
    )
    session.add(assay)
    session.flush()  # the log names the assay by its id
    passed = data["result"] == AssayResult.PASSED
    ledger.append(
        session,
        EventType.ASSAY_PASSED if passed else EventType.ASSAY_FAILED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        data=events.attestation(session, assay),
        at=assay.attested_at,
    )
    if passed:
        certificates.issue(session, ring, piece, assay, issuer=issuer, actor=actor)
    else:
        piece.status = PieceStatus.ASSAY_FAILED
    return assay


def latest(session: Session, piece_id: int) -> AssayRecord | None:
    """A piece's most recent assay: after a failure, what the inspector found and noted."""
    query = select(AssayRecord).where(AssayRecord.piece_id == piece_id)
    return session.scalar(query.order_by(AssayRecord.id.desc()).limit(1))
