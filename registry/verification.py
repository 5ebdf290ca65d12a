"""Verification: what a scan of a code is told, for the page and the verify API alike.

A verdict is judged afresh on every request from the stored certificate: its status
(revocation and supersession show at once), that the row is the one its signature
speaks of, the signature itself, and whether the key that made it was compromised
before the certificate was issued. The signature is confirmed by the seal made at issue
(an HMAC under a key derived from the signing key, microseconds), or else verified with
Ed25519 and remembered per worker; the key's status is read every time.
"""

import dataclasses
import enum
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

import keys
from registry import certificates, codes, db
from registry.errors import NotFound, Unavailable
from registry.log import checkpoints, ledger, merkle, proofs, public, tree
from registry.models import Certificate, Checkpoint, Event, Maker, Ownership, Sale, Shop
from schemas.common import timestamp
from schemas.standards import (
    AlertKind,
    CertificateStatus,
    EventType,
    OwnerReport,
    RevocationReason,
)

log = logging.getLogger(__name__)

# Bounded, so that a worker's memory stays flat however many codes are scanned: about
# 100 bytes an entry. Emptied when full; a miss costs one signature check.
_VERIFIED_LIMIT = 100_000
_verified: set[bytes] = set()
_verified_lock = threading.Lock()

# Longest chain of reissues followed to find the current certificate.
_MAX_CHAIN = 100

# A code never issued (its check symbol U is one that codes.new() never draws), looked
# up in place of a mistyped or malformed one so that every refusal costs the same read.
_NEVER_ISSUED = "0" * codes.DATA_LENGTH + "U"

_successor = aliased(Certificate)
_issued = aliased(Event)
_about = aliased(Event)
_seller = aliased(Maker)
# The newest checkpoint with a quorum of witnesses' cosignatures (any, without witnesses),
# read in the same statement: the proof is given against it. The newest of all is read
# too: a log behind the last one signed was rolled back, witnessed or not.
_newest = checkpoints.newest_query(witnessed=True).subquery("newest")
_newest_size = select(func.max(Checkpoint.tree_size)).scalar_subquery()
# One indexed read of the columns a verdict needs, through Core: a scan is the registry's
# busiest request, and building ORM objects would cost more than the read.
_RECORD = db.Prepared(
    select(
        Certificate.id,
        Certificate.code,
        Certificate.status,
        Certificate.kid,
        Certificate.payload,
        Certificate.jws,
        Certificate.seal,
        Certificate.state_seal,
        Certificate.issued_at,
        Certificate.revoked_at,
        Certificate.revocation_reason,
        Certificate.revocation_note,
        _successor.code.label("superseded_by"),
        select(func.max(_about.log_index))
        .where(_about.certificate_id == Certificate.id)
        .scalar_subquery()
        .label("last_index"),
        _issued.log_index,
        _issued.entry.label("log_entry"),
        _newest.c.tree_size.label("checkpoint_size"),
        _newest.c.root_hash.label("checkpoint_root"),
        _newest.c.note.label("checkpoint_note"),
        _newest_size.label("newest_size"),
        # The piece after its sale: the standing sale and its seller, the current owner.
        Sale.sold_at,
        Sale.shop_id.label("sold_by_shop"),
        Sale.maker_id.label("sold_by_maker"),
        func.coalesce(Shop.name_ru, _seller.name_ru).label("seller_name_ru"),
        func.coalesce(Shop.name_en, _seller.name_en).label("seller_name_en"),
        func.coalesce(Shop.city, _seller.city).label("seller_city"),
        func.coalesce(Shop.region, _seller.region).label("seller_region"),
        Ownership.since.label("owned_since"),
        Ownership.report.label("owner_report"),
        Ownership.reported_at,
        certificates.revoked_as_stolen(Certificate.piece_id).label("revoked_as_stolen_at"),
    )
    .outerjoin(_successor, _successor.supersedes_id == Certificate.id)
    .outerjoin(
        _issued,
        (_issued.certificate_id == Certificate.id)
        & (_issued.action == EventType.CERTIFICATE_ISSUED),
    )
    .outerjoin(_newest, true())
    .outerjoin(Sale, (Sale.piece_id == Certificate.piece_id) & Sale.cancelled_at.is_(None))
    .outerjoin(Shop, Shop.id == Sale.shop_id)
    .outerjoin(_seller, _seller.id == Sale.maker_id)
    .outerjoin(
        Ownership, (Ownership.piece_id == Certificate.piece_id) & Ownership.ended_at.is_(None)
    )
    .where(Certificate.code == bindparam("code"))
)
_SUCCESSOR = db.Prepared(
    select(_successor.code.label("code")).where(
        _successor.supersedes_id
        == select(Certificate.id).where(Certificate.code == bindparam("code")).scalar_subquery()
    )
)


@dataclass(frozen=True)
class Record:
    """What the registry stores about one certificate, as read for a verdict."""

    id: int
    code: str
    status: str
    kid: str
    payload: bytes
    jws: str
    seal: str | None
    state_seal: str | None
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    revocation_note: str | None
    superseded_by: str | None
    #: The index of the newest log entry about the certificate.
    last_index: int | None
    #: The log entry that records the issue, and its index.
    log_index: int | None
    log_entry: bytes | None
    #: The newest checkpoint with a quorum of cosignatures when it was read, its note as
    #: served (with them), and the size of the newest of all.
    checkpoint_size: int | None
    checkpoint_root: bytes | None
    checkpoint_note: str | None
    newest_size: int | None
    #: The piece after its sale (all None before it).
    sold_at: datetime | None
    sold_by_shop: int | None
    sold_by_maker: int | None
    seller_name_ru: str | None
    seller_name_en: str | None
    seller_city: str | None
    seller_region: str | None
    owned_since: datetime | None
    owner_report: str | None
    reported_at: datetime | None
    #: When a certificate of the piece (this one, or the current one) was revoked as
    #: lost or stolen.
    revoked_as_stolen_at: datetime | None

    @property
    def printed_code(self) -> str:
        return codes.printed(self.code)

    @property
    def after_sale(self) -> proofs.AfterSale:
        return proofs.AfterSale(
            sold_at=self.sold_at,
            sold_by=certificates.seller(self.sold_by_shop, self.sold_by_maker),
            owned_since=self.owned_since,
            owner_report=self.owner_report,
            reported_at=self.reported_at,
            revoked_as_stolen=self.revoked_as_stolen_at is not None,
        )


class Status(enum.StrEnum):
    VALID = CertificateStatus.VALID.value
    REVOKED = CertificateStatus.REVOKED.value
    SUPERSEDED = CertificateStatus.SUPERSEDED.value
    #: The signature does not hold, or its key was compromised before the issue date.
    INVALID = "invalid"


@dataclass(frozen=True)
class Signature:
    """The registry's own check of the stored JWS against its published keys."""

    valid: bool
    kid: str
    key_status: str | None
    #: Why it is not valid, in words, and as a word: "signature" or "compromised".
    problem: str | None = None
    fault: str | None = None


@dataclass(frozen=True)
class Verdict:
    status: Status
    certificate: Record
    signature: Signature
    #: For a superseded certificate: the code of the one that now stands for the piece.
    current_code: str | None
    #: The issue's entry proved to be in the tree of the newest checkpoint; None while
    #: that checkpoint does not yet cover it.
    inclusion: public.Inclusion | None = None

    #: The day a copy caution began for the code (registry/scans.py), if it did.
    copy_since: date | None = None

    @property
    def fingerprint(self) -> tuple:
        """Everything the verdict was judged from, and nothing else: equal for two scans
        exactly when their answers are (registry/edge/answers.py). The row holds the
        sealed state, the newest checkpoint and the after-sale; the signature's check
        holds the key's status; the successor and the copy caution are read apart."""
        return (self.certificate, self.signature, self.current_code, self.copy_since)

    @property
    def trusted(self) -> bool:
        """Whether what the rows say of the piece may be shown: not when the certificate
        is invalid (its state may be a hand-made one)."""
        return self.status is not Status.INVALID

    @property
    def reported_stolen(self) -> bool:
        """Stolen, by an inspector's revocation of this or the piece's current
        certificate, or by its owner's report: on every certificate of the piece."""
        record = self.certificate
        if self.status is Status.REVOKED and record.revocation_reason == (
            RevocationReason.PIECE_LOST_OR_STOLEN
        ):
            return True
        return self.trusted and (
            record.revoked_as_stolen_at is not None or record.owner_report == OwnerReport.STOLEN
        )

    @property
    def reported_lost(self) -> bool:
        return self.trusted and self.certificate.owner_report == OwnerReport.LOST

    @property
    def sold(self) -> bool:
        return self.trusted and self.certificate.sold_at is not None

    @property
    def owned(self) -> bool:
        return self.trusted and self.certificate.owned_since is not None

    def alerts(self) -> list[tuple[AlertKind, date | None]]:
        """What the verdict warns of beside its status, each with the day it began."""
        record = self.certificate
        found: list[tuple[AlertKind, date | None]] = []
        if self.reported_stolen:
            since = record.reported_at if record.owner_report == OwnerReport.STOLEN else None
            since = since or record.revoked_as_stolen_at or record.revoked_at
            found.append((AlertKind.REPORTED_STOLEN, since.date() if since else None))
        elif self.reported_lost:
            lost = record.reported_at
            found.append((AlertKind.REPORTED_LOST, lost.date() if lost else None))
        if self.trusted and self.copy_since is not None:
            found.append((AlertKind.POSSIBLE_COPY, self.copy_since))
        return found


def verify(
    bind: Engine | Session,
    ring: keys.KeyRing,
    text: str,
    *,
    seals: proofs.Proofs,
    signed: int = 0,
    proof: bool = True,
    quorum: int = 0,
) -> Verdict:
    """The verdict on a code as a person typed or scanned it, read through `bind` (the
    engine will do: this reads once, outside any transaction, and writes nothing).

    What the row says beside the signed payload (status, revocation, successor) counts
    only under the registry's seal of it (`seals`): a row that fails it is invalid. A
    database whose log is smaller than `signed`, the size of the last checkpoint the
    signer remembers signing, was rolled back (rows taken back to an older, genuine and
    sealed state): no verdict is given from it, and Unavailable is raised.

    Raises MistypedCode when the check symbol does not match, MalformedCode for text
    that cannot be a code, NotFound for a well-formed code never issued; each after the
    same single indexed read, so that the answer's timing tells nothing about the code.
    Without `proof`, the inclusion names its checkpoint but holds no audit path (the
    page links to it; only the JSON carries it). The proof is against the newest
    checkpoint that `quorum` witnesses cosigned (registry/log/witnessing.py).
    """
    parsed = codes.parse(text)
    with db.Reader(bind) as reader:  # one pooled connection for every read below
        row = _RECORD.one_or_none(reader, code=parsed.code or _NEVER_ISSUED, quorum=quorum)
        codes.readable(parsed)
        if row is None:
            raise NotFound("No certificate with this code was ever issued by the registry.")
        entry = None if row["log_entry"] is None else ledger.stored_bytes(row["log_entry"])
        if entry is not None:
            row["log_entry"] = ledger.as_json(entry)
        certificate = Record(**row)
        if (certificate.newest_size or 0) < signed:
            log.critical(
                "the database's log (%s entries) is behind the last checkpoint signed (%d): "
                "it was rolled back; no verdict is given until it is repaired",
                certificate.newest_size,
                signed,
            )
            raise Unavailable(
                "The registry's records are older than its signed log (restored from an "
                "older copy?): no verdict can be given until they are checked."
            )
        signature = check_state(seals, certificate) or check_signature(ring, certificate)
        status = Status(certificate.status) if signature.valid else Status.INVALID
        successor = certificate.superseded_by
        current = _current_code(reader, successor) if successor else None
        return Verdict(
            status=status,
            certificate=certificate,
            signature=signature,
            current_code=current,
            inclusion=_inclusion(reader, certificate, entry, proof),
        )


def _inclusion(
    reader: db.Reader, certificate: Record, entry: bytes | None, proof: bool
) -> public.Inclusion | None:
    index, size, root = (
        certificate.log_index,
        certificate.checkpoint_size,
        certificate.checkpoint_root,
    )
    if index is None or size is None or root is None or entry is None or index >= size:
        return None
    path: list[bytes] | None = None
    if proof:
        try:
            path = tree.inclusion_proof_committed(reader, index, size)
        except Unavailable as exc:
            # A damaged tree must not take the verdict down with it: the signature stands
            # on its own, and `registry log verify` is where the damage is reported.
            log.error("no inclusion proof for entry %d: %s", index, exc.detail)
            return None
    return public.Inclusion(
        index=index,
        tree_size=size,
        leaf_hash=merkle.leaf_hash(entry),
        root_hash=root,
        proof=path,
        checkpoint=certificate.checkpoint_note,
    )


def proved(bind: "Engine | Session", verdict: Verdict) -> Verdict:
    """The verdict with its inclusion's audit path, for a verdict read without it
    (`verify`'s proof=False) whose answer was not ready."""
    inclusion = verdict.inclusion
    if inclusion is None or inclusion.proof is not None:
        return verdict
    try:
        with db.Reader(bind) as reader:
            path = tree.inclusion_proof_committed(reader, inclusion.index, inclusion.tree_size)
    except Unavailable as exc:
        # As in `_inclusion`: the signature stands on its own; the damage is reported by
        # `registry log verify`.
        log.error("no inclusion proof for entry %d: %s", inclusion.index, exc.detail)
        return dataclasses.replace(verdict, inclusion=None)
    return dataclasses.replace(verdict, inclusion=dataclasses.replace(inclusion, proof=path))


def payload(verdict: Verdict) -> dict[str, Any] | None:
    """The certificate's statement, parsed; None when bytes that fail their signature
    are not even JSON (someone wrote them into the database by hand)."""
    try:
        statement = json.loads(verdict.certificate.payload)
    except ValueError:
        return None
    return statement if isinstance(statement, dict) else None


def check_state(seals: proofs.Proofs, certificate: Record) -> Signature | None:
    """None when the row's state is the one the registry sealed; else why not."""
    state = proofs.CertificateState.of(
        certificate,
        superseded_by=certificate.superseded_by,
        last_index=certificate.last_index,
        after_sale=certificate.after_sale,
    )
    if seals.seal_holds(state, certificate.state_seal):
        return None
    problem = "The registry's record of this certificate was altered outside the registry."
    return Signature(False, certificate.kid, None, problem, "record")


def check_signature(ring: keys.KeyRing, certificate: Record | Certificate) -> Signature:
    """Whether the stored JWS verifies, signs exactly the stored payload, and was made
    by a key that was not compromised at the certificate's issue time."""
    kid = certificate.kid
    try:
        key = ring.get(kid)
    except keys.UnknownKey:
        problem = "The signing key is not one of the registry's keys."
        return Signature(False, kid, None, problem, "signature")
    forgery = _signature_problem(ring, certificate)
    if forgery is not None:
        return Signature(False, kid, str(key.status), forgery, "signature")
    index = certificate.log_index if isinstance(certificate, Record) else None
    if not key.valid_at(certificate.issued_at) or not key.valid_in_log(index):
        problem = "The signing key was compromised before this certificate was issued."
        return Signature(False, kid, str(key.status), problem, "compromised")
    return Signature(True, kid, str(key.status))


def _signature_problem(ring: keys.KeyRing, certificate: Record | Certificate) -> str | None:
    # 1. The row must be the one the signature speaks of: its code and issue time are in
    #    the signed bytes (RFC 8785 writes them exactly so), or a row was given another
    #    certificate's signed bytes, or backdated past a key's compromise.
    for name, value in (
        ("code", codes.printed(certificate.code)),
        ("issued_at", timestamp(certificate.issued_at)),
    ):
        if f'"{name}":"{value}"'.encode() not in certificate.payload:
            return f"The stored record's {name} is not the one the certificate signs."
    # 2. Sealed at issue by the key the row names (a keyed hash only that key's holder
    #    can make): the bytes are the ones it signed. Checked in microseconds.
    sealed = certificates.sealed_bytes(certificate.jws, certificate.payload)
    if certificate.seal and ring.check_seal(certificate.kid, sealed, certificate.seal):
        return None
    # 3. Remembered: these exact kid, JWS and payload were verified before.
    digest = hashlib.sha256(certificate.kid.encode() + b"\n" + sealed).digest()
    if digest in _verified:
        return None
    # 4. The Ed25519 signature, by the key the row names, over exactly the stored bytes.
    try:
        verified = ring.verify(certificate.jws)
    except keys.KeysError as exc:
        return f"The signature does not verify: {exc}."
    if verified.kid != certificate.kid:
        return "The signature was made by another key than the one recorded."
    if verified.payload != certificate.payload:
        return "The signed payload differs from the stored certificate."
    with _verified_lock:
        if len(_verified) >= _VERIFIED_LIMIT:
            _verified.clear()
        _verified.add(digest)
    return None


def _current_code(bind: "Engine | Session | db.Reader", successor_code: str) -> str:
    current = successor_code
    for _ in range(_MAX_CHAIN):
        successor = _SUCCESSOR.one_or_none(bind, code=current)
        if successor is None:
            break
        current = successor["code"]
    return current
