"""Certificates: issue (signed, in the attestation's transaction), revoke, reissue.

The payload is built by the schema, turned into RFC 8785 bytes, and signed by the key
ring; those bytes are stored and served as they are, never rebuilt.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, update
from sqlalchemy.orm import Session, aliased

import keys
from registry import codes, db, pieces, words
from registry.config import Defaults
from registry.errors import Conflict, Forbidden, NotFound, Unavailable
from registry.log import checkpoints, ledger, proofs
from registry.models import (
    Account,
    AssayRecord,
    Certificate,
    Event,
    NewAssay,
    NewCertificate,
    Ownership,
    Piece,
    Sale,
)
from schemas import canonical
from schemas.certificates import SCHEMA_VERSION
from schemas.common import timestamp
from schemas.standards import CertificateStatus, EventType, PieceStatus, RevocationReason, Role

_SEAL_BATCH = 2_000  # certificates sealed per read by seal_unsealed
_CERTIFICATES = Certificate.__table__
_SEAL_UPDATE = (
    update(_CERTIFICATES)  # type: ignore[arg-type]  # a mapped class's Table
    .where(_CERTIFICATES.c.id == bindparam("row_id"))
    .values(state_seal=bindparam("new_seal"))
)


@dataclass(frozen=True)
class Inspectorate:
    """An assay inspectorate by its names, as certificates sign it (schema version 3)."""

    ru: str
    en: str

    def names(self) -> dict[str, str]:
        return {"ru": self.ru, "en": self.en}


#: The regions' own: the first of REGISTRY_INSPECTORATES by default (registry/config.py).
EAST_SIBERIAN = Inspectorate(**Defaults.INSPECTORATES[0])


@dataclass(frozen=True)
class Issuer:
    """Who signs: the registry's name, public address and brand, and the inspectorates
    whose attestations it records (from configuration)."""

    name: str
    url: str
    brand: str
    inspectorates: tuple[Inspectorate, ...] = (EAST_SIBERIAN,)

    def inspectorate(self, typed: str | None) -> Inspectorate | None:
        """The configured inspectorate a name stands for, in either language and any
        case; the first when none is given; None for one the registry does not know."""
        if not typed:
            return self.inspectorates[0]
        return self._by_name.get(words.folded(typed))

    @functools.cached_property
    def _by_name(self) -> dict[str, Inspectorate]:
        # Built once: a page of a certificate that signed one name looks it up per scan.
        return {
            words.folded(name): known
            for known in reversed(self.inspectorates)
            for name in (known.ru, known.en)
        }

    def inspectorate_names(self, stored: str) -> dict[str, str]:
        """What a certificate signs of an attestation's inspectorate (stored by its English
        name): both names when configured, else the one name stored, in both places."""
        known = self.inspectorate(stored)
        return known.names() if known else {"ru": stored, "en": stored}


def issue(
    session: Session,
    ring: keys.KeyRing,
    piece: Piece,
    assay: AssayRecord,
    *,
    issuer: Issuer,
    actor: Account | None,
    supersedes: Certificate | None = None,
) -> Certificate:
    """Sign and store a certificate for a piece that passed assay. The caller commits.

    Its issue time is never earlier than the newest checkpoint signed; raises Unavailable
    when the clock is behind it (registry.log.checkpoints.now), or nothing can sign.
    """
    now = checkpoints.now(session).replace(microsecond=0)
    (code,) = _unused_codes(session, 1)
    payload_bytes = payload(
        piece, assay, code=code, issued_at=now, issuer=issuer, supersedes=supersedes
    )
    certificate = _signed(
        ring,
        payload_bytes,
        code=code,
        issued_at=now,
        piece=piece,
        assay=assay,
        supersedes=supersedes,
    )
    session.add(certificate)
    piece.status = PieceStatus.CERTIFIED
    ledger.append(
        session,
        EventType.CERTIFICATE_ISSUED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=certificate,
        data=issuance(certificate),
        at=now,
    )
    seal_state(session, certificate)
    return certificate


def issue_many(
    session: Session,
    ring: keys.KeyRing,
    passed: Sequence[tuple[Piece, NewAssay]],
    *,
    issuer: Issuer,
    issued_at: datetime,
) -> list[NewCertificate]:
    """Sign, together, the certificates of pieces that passed assay (a batch of
    attestations), as `issue` signs one, with unused codes checked in one read. They hold
    their ids but are neither stored nor in the session: the caller appends their entries
    (`issuance`) and stores them with their states sealed (`store_issued`), and commits.

    Raises Unavailable when nothing can sign.
    """
    codes_for = _unused_codes(session, len(passed))
    certificates = []
    for (piece, assay), code in zip(passed, codes_for, strict=True):
        payload_bytes = payload(piece, assay, code=code, issued_at=issued_at, issuer=issuer)
        kid, jws, seal = _signature(ring, payload_bytes)
        certificates.append(
            NewCertificate(
                code=code,
                piece_id=piece.id,
                assay_id=assay.id,
                kid=kid,
                payload=payload_bytes,
                jws=jws,
                seal=seal,
                issued_at=issued_at,
            )
        )
    for certificate, certificate_id in zip(
        certificates, db.new_ids(session, Certificate, len(certificates)), strict=True
    ):
        certificate.id = certificate_id
    return certificates


def store_issued(
    session: Session, certificates: Sequence[NewCertificate], indices: Sequence[int]
) -> None:
    """Store certificates signed together (`issue_many`) by one insert, each with its
    state sealed after the entry of its issue, at `indices`: sealed before the insert, as
    the rows are written once (an update of a certificate row after its insert rewrote
    two kilobytes a certificate)."""
    seals = proofs.of(session)
    columns = ("id", "code", "piece_id", "assay_id", "kid", "payload", "jws", "seal", "issued_at")
    db.insert_rows(
        session,
        Certificate,
        [
            {
                **{column: getattr(certificate, column) for column in columns},
                "status": certificate.status,
                "state_seal": seals.seal(state(certificate, index)),
            }
            for certificate, index in zip(certificates, indices, strict=True)
        ],
    )


def _unused_codes(session: Session, count: int) -> list[str]:
    # 65 random bits make a collision all but impossible; one indexed read finds any.
    wanted: set[str] = set()
    while len(wanted) < count:
        fresh = {codes.new() for _ in range(count - len(wanted))} - wanted
        taken = set(session.scalars(select(Certificate.code).where(Certificate.code.in_(fresh))))
        wanted |= fresh - taken
    return list(wanted)


def state(
    certificate: Certificate | NewCertificate,
    last_index: int | None,
    after_sale: proofs.AfterSale | None = None,
) -> proofs.CertificateState:
    """What the certificate's state seal covers, as the row holds it now."""
    return proofs.CertificateState.of(
        certificate,
        superseded_by=certificate.superseded_by_code,
        last_index=last_index,
        after_sale=after_sale or proofs.AfterSale(),
    )


def after_sale(session: Session, piece_id: int) -> proofs.AfterSale:
    """The piece's state after its sale, as every certificate of it shows it: its standing
    sale, its current owner and their report, and a revocation of it as stolen."""
    sale = session.scalar(
        select(Sale).where(Sale.piece_id == piece_id, Sale.cancelled_at.is_(None))
    )
    owner = session.scalar(
        select(Ownership).where(Ownership.piece_id == piece_id, Ownership.ended_at.is_(None))
    )
    stolen = session.scalar(select(revoked_as_stolen(literal(piece_id))))
    return proofs.AfterSale(
        sold_at=sale.sold_at if sale else None,
        sold_by=seller(sale.shop_id, sale.maker_id) if sale else None,
        owned_since=owner.since if owner else None,
        owner_report=owner.report if owner else None,
        reported_at=owner.reported_at if owner else None,
        revoked_as_stolen=stolen is not None,
    )


def revoked_as_stolen(piece_id: Any) -> Any:
    """When a certificate of the piece `piece_id` names (a value, or a column of an outer
    statement) was revoked as lost or stolen; NULL if none was. A scalar subquery: the
    seal and the scan's one read both take it from here."""
    stolen = aliased(Certificate)
    return (
        select(func.max(stolen.revoked_at))
        .where(
            stolen.piece_id == piece_id,
            stolen.status == CertificateStatus.REVOKED,
            stolen.revocation_reason == RevocationReason.PIECE_LOST_OR_STOLEN,
        )
        .scalar_subquery()
    )


def seller(shop_id: int | None, maker_id: int | None) -> str | None:
    """Who sold, as a seal names them: "shop:<id>" or "maker:<id>"."""
    if shop_id is not None:
        return f"shop:{shop_id}"
    return f"maker:{maker_id}" if maker_id is not None else None


def seal_piece(session: Session, piece_id: int) -> None:
    """Seal again every certificate of a piece, current and superseded: after a change of
    what each of them shows of the piece (a sale, its cancellation, an owner's claim or
    report, a revocation as stolen). Every such change ends here."""
    for certificate in session.scalars(select(Certificate).where(Certificate.piece_id == piece_id)):
        seal_state(session, certificate)


def seal_unsealed(session: Session | Connection, seals: proofs.Proofs | None = None) -> int:
    """Seal the state of every certificate stored before states were sealed, as it
    stands (at `registry init`, after the upgrade), in batches of plain reads and
    updates, for a registry of millions; how many. The caller commits."""
    if seals is None:
        assert isinstance(session, Session)  # noqa: S101 - a connection comes with seals
        seals = proofs.of(session)
    successor = aliased(Certificate)
    last_index = (
        select(func.max(Event.log_index))
        .where(Event.certificate_id == Certificate.id)
        .scalar_subquery()
    )
    query = (
        select(
            Certificate.id,
            Certificate.code,
            Certificate.status,
            Certificate.revoked_at,
            Certificate.revocation_reason,
            Certificate.revocation_note,
            successor.code.label("superseded_by"),
            last_index.label("last_index"),
        )
        .outerjoin(successor, successor.supersedes_id == Certificate.id)
        .where(Certificate.state_seal.is_(None))
        .order_by(Certificate.id)
        .limit(_SEAL_BATCH)
    )
    query = query.add_columns(revoked_as_stolen(Certificate.piece_id).label("revoked_as_stolen_at"))
    sealed = 0
    while rows := session.execute(query).all():
        values = [
            {
                "row_id": row.id,
                "new_seal": seals.seal(
                    proofs.CertificateState.of(
                        row,
                        superseded_by=row.superseded_by,
                        last_index=row.last_index,
                        # Stored before sales existed: a theft by revocation is all there is.
                        after_sale=proofs.AfterSale(
                            revoked_as_stolen=row.revoked_as_stolen_at is not None
                        ),
                    )
                ),
            }
            for row in rows
        ]
        session.execute(_SEAL_UPDATE, values)
        sealed += len(values)
    return sealed


def seal_state(session: Session, certificate: Certificate) -> None:
    """Seal the certificate's state as it now stands, after the entry that changed it:
    every change of what a scan shows ends here (registry/log/proofs.py)."""
    session.flush()
    last_index = session.scalar(
        select(func.max(Event.log_index)).where(Event.certificate_id == certificate.id)
    )
    certificate.state_seal = proofs.of(session).seal(
        state(certificate, last_index, after_sale(session, certificate.piece_id))
    )


def issuance(certificate: Certificate | NewCertificate) -> dict:
    """What the log records of an issue: enough for `registry log verify` to tell that
    the stored certificate is the one issued (its signed bytes, by hash)."""
    if isinstance(certificate, NewCertificate):  # issued together, not in the session
        assay, supersedes = certificate.assay_id, None
    else:
        assay = certificate.assay.id
        supersedes = certificate.supersedes.code if certificate.supersedes else None
    return {
        "kid": certificate.kid,
        "assay": assay,
        "payload": ledger.digest(certificate.payload),
        "jws": ledger.digest(certificate.jws),
        "supersedes": supersedes,
    }


def payload(
    piece: Piece,
    assay: AssayRecord | NewAssay,
    *,
    code: str,
    issued_at: datetime,
    issuer: Issuer,
    supersedes: Certificate | None = None,
) -> bytes:
    """The RFC 8785 bytes of the statement the registry signs for a piece and its assay,
    in the shape schemas.certificates.CertificatePayload documents. Built as plain JSON
    values, not dumped through the schema: a dump walks some fifty fields, a third of
    what a batch spends on each certificate. The tests load what is built here through
    the schema, which refuses any field missing, unknown or of the wrong kind."""
    photo = piece.photo
    maker = piece.maker
    statement = {
        "schema_version": SCHEMA_VERSION,
        "code": codes.printed(code),
        "issued_at": timestamp(issued_at),
        "issuer": {"name": issuer.name, "url": issuer.url},
        "brand": issuer.brand,
        "piece": {
            "reference": piece.reference,
            "kind": str(piece.kind),
            "title": piece.title,
            "description": piece.description,
            "metal": str(piece.metal),
            "fineness": piece.fineness,
            "weight_g": float(piece.weight_g),
            "stones": [pieces.stone_json(stone) for stone in piece.stones],
            "uin": piece.uin,
            "photo": {"sha256": photo.sha256, "media_type": photo.media_type} if photo else None,
        },
        "maker": {"slug": maker.slug, "name": maker.name, "mark": maker.mark, "city": maker.city},
        "region": maker.region_out,
        "assay": {
            "result": str(assay.result),
            "metal": str(assay.metal),
            "fineness": assay.fineness,
            "mark": assay.assay_mark,
            "inspectorate": issuer.inspectorate_names(assay.inspectorate),
            "attested_at": timestamp(assay.attested_at),
        },
        "supersedes": codes.printed(supersedes.code) if supersedes else None,
    }
    return canonical.dumps(statement)


def sealed_bytes(jws: str, payload: bytes) -> bytes:
    """What a certificate's seal covers: its JWS and its payload, as stored."""
    return jws.encode("ascii", "replace") + b"\n" + payload


def _signed(ring: keys.KeyRing, payload_bytes: bytes, **row: Any) -> Certificate:
    """The certificate of `payload_bytes`, signed by the active key and sealed, with the
    rest of its row (`row`). Raises Unavailable when nothing can sign."""
    kid, jws, seal = _signature(ring, payload_bytes)
    return Certificate(kid=kid, payload=payload_bytes, jws=jws, seal=seal, **row)


def _signature(ring: keys.KeyRing, payload_bytes: bytes) -> tuple[str, str, str]:
    """The active key's kid, its JWS of `payload_bytes`, and the seal of both. Raises
    Unavailable when nothing can sign."""
    try:
        signed = ring.sign(payload_bytes)
        seal = ring.seal(signed.kid, sealed_bytes(signed.jws, payload_bytes))
    except keys.KeyRingError as exc:
        raise Unavailable(f"The registry cannot sign right now: {exc}") from exc
    return signed.kid, signed.jws, seal


def find(session: Session, text: str, *, lock: bool = False) -> Certificate:
    """The certificate for a code as a person typed it.

    Raises MalformedCode for text that cannot be a code, MistypedCode when the check
    symbol does not match, NotFound for a well-formed code never issued. With `lock`,
    the row stays locked for the rest of the transaction.
    """
    code = codes.readable(codes.parse(text))
    query = select(Certificate).where(Certificate.code == code)
    if lock:
        # Serialises changes of one certificate; re-read, since the wait may have seen one.
        query = query.with_for_update(of=Certificate).execution_options(populate_existing=True)
    certificate = session.scalar(query)
    if certificate is None:
        raise NotFound("No certificate with this code was ever issued by the registry.")
    return certificate


def revoke(session: Session, text: str, *, reason: str, note: str, actor: Account) -> Certificate:
    """Revoke a certificate with a reason; the public page then says so.

    Raises Conflict when it is already revoked or superseded. The caller commits.
    """
    if actor.role != Role.INSPECTOR:
        raise Forbidden("Only an assay inspector can revoke a certificate.")
    certificate = find(session, text, lock=True)
    if certificate.status != CertificateStatus.VALID:
        raise Conflict(f"This certificate is already {certificate.status}.")
    now = checkpoints.now(session).replace(microsecond=0)
    certificate.status = CertificateStatus.REVOKED
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    certificate.revocation_note = note
    piece = certificate.piece
    piece.status = PieceStatus.REVOKED
    ledger.append(
        session,
        EventType.CERTIFICATE_REVOKED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=certificate,
        data={"reason": reason, "note": note},
        at=now,
    )
    seal_piece(session, certificate.piece_id)  # a theft shows on its superseded codes too
    return certificate


def reissue(
    session: Session,
    ring: keys.KeyRing,
    text: str,
    corrections: dict[str, Any],
    *,
    issuer: Issuer,
    actor: Account,
) -> Certificate:
    """Correct a certified piece and issue a new certificate that supersedes the old.

    Works from a valid certificate, or from one revoked for a data error (that is how
    it is mended). Raises Conflict for one superseded or revoked for another reason.
    """
    if actor.role != Role.INSPECTOR:
        raise Forbidden("Only an assay inspector can reissue a certificate.")
    old = find(session, text, lock=True)
    if old.status == CertificateStatus.SUPERSEDED:
        successor = old.superseded_by_code
        assert successor is not None  # noqa: S101 - reissue links one whenever it supersedes
        raise Conflict(f"This certificate was already superseded by {codes.printed(successor)}.")
    if (
        old.status == CertificateStatus.REVOKED
        and old.revocation_reason != RevocationReason.DATA_ERROR
    ):
        # A stolen, destroyed or forged piece must keep reading "revoked" when scanned.
        reason = old.revocation_reason
        assert reason is not None  # noqa: S101 - revoke sets the status and reason together
        raise Conflict(
            f"This certificate was revoked for {reason.replace('_', ' ')}; "
            "only a revocation for a data error is mended by reissuing."
        )
    piece = pieces.get(session, old.piece_id, actor=actor, lock=True)
    changed = _correct(session, piece, corrections)
    old.status = CertificateStatus.SUPERSEDED
    session.flush()  # the old one stops being current before the new one is stored
    ledger.append(
        session,
        EventType.CERTIFICATE_SUPERSEDED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        certificate=old,
        data={"note": corrections["note"], "changed": sorted(changed)},
    )
    new = issue(session, ring, piece, old.assay, issuer=issuer, actor=actor, supersedes=old)
    seal_state(session, old)  # now that it names its successor
    return new


def _correct(session: Session, piece: Piece, corrections: dict[str, Any]) -> set[str]:
    changed = set()
    if "uin" in corrections and corrections["uin"] != piece.uin:
        uin = corrections["uin"]
        if uin and session.scalar(select(Piece.id).where(Piece.uin == uin, Piece.id != piece.id)):
            raise Conflict(
                f"The state UIN {uin} is already registered to another piece.",
                errors={"uin": ["Already registered."]},
            )
        piece.uin = uin
        changed.add("uin")
    for field in ("title", "description"):
        if field in corrections and corrections[field] != getattr(piece, field):
            setattr(piece, field, corrections[field])
            changed.add(field)
    if "weight_g" in corrections:
        weight = pieces.centigrams(corrections["weight_g"])
        if weight != piece.weight_cg:
            piece.weight_cg = weight
            changed.add("weight_g")
    if "stones" in corrections:
        stones = [pieces.stone_json(s) for s in corrections["stones"]]
        if stones != piece.stones:
            piece.stones = stones
            changed.add("stones")
    return changed
