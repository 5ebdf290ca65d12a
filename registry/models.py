"""The registry's tables. Integrity the database can hold is declared here, not only
checked in Python: foreign keys, uniqueness, and check constraints for every vocabulary.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import codes
from registry.db import Base
from schemas.standards import (
    FINENESSES,
    REGIONS,
    AssayResult,
    CertificateStatus,
    ClaimOrigin,
    JobState,
    Kind,
    OwnerReport,
    PieceStatus,
    ReportKind,
    ReportStatus,
    RevocationReason,
    Role,
    ShopKind,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _legal_fineness(metal: str, fineness: str) -> str:
    cases = " OR ".join(
        f"({metal} = '{m}' AND {fineness} IN ({', '.join(map(str, fs))}))"
        for m, fs in FINENESSES.items()
    )
    return f"({cases})"


class Maker(Base):
    __tablename__ = "maker"
    __table_args__ = (CheckConstraint(_one_of("region", REGIONS), name="region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(8))
    city: Mapped[str] = mapped_column(String(100))
    mark: Mapped[str] = mapped_column(String(32), unique=True)
    admitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Public contacts for the showcase, set by the brand office.
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    # While suspended, no piece of the maker is registered or sold and the showcase hides
    # them; the certificates already issued keep their verdict.
    suspended_at: Mapped[datetime | None] = mapped_column()
    suspension_reason: Mapped[str | None] = mapped_column(String(500))

    @property
    def name(self) -> dict[str, str]:
        return {"ru": self.name_ru, "en": self.name_en}

    @property
    def region_out(self) -> dict[str, Any]:
        return {"code": self.region, "name": REGIONS[self.region]}

    @property
    def contacts(self) -> dict[str, str | None]:
        return {"phone": self.phone, "email": self.email, "website": self.website}


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(_one_of("role", Role), name="role"),
        CheckConstraint(
            f"(role = '{Role.MAKER}') = (maker_id IS NOT NULL)", name="maker_accounts_have_a_maker"
        ),
        CheckConstraint(
            f"(role = '{Role.SHOP}') = (shop_id IS NOT NULL)", name="shop_accounts_have_a_shop"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("maker.id"))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id"))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Set by the brand office (a first or reset password): the owner must choose their own
    # before anything else.
    password_must_change: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A deactivated account cannot sign in or use a token; its sessions and tokens ended
    # when it was deactivated.
    deactivated_at: Mapped[datetime | None] = mapped_column()

    maker: Mapped[Maker | None] = relationship(lazy="joined")
    shop: Mapped["Shop | None"] = relationship(lazy="joined")

    @property
    def maker_slug(self) -> str | None:
        return self.maker.slug if self.maker else None


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The portal session it was minted from, if any: a password change revokes such tokens,
    # since a stolen session could have minted them.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("portal_session.id"), index=True)

    account: Mapped[Account] = relationship(lazy="joined")


class Photo(Base):
    """A piece's photo, re-encoded without its metadata, named by the SHA-256 that the
    certificate signs; its thumbnail's SHA-256 is recorded in the log with it, and both
    are held to their bytes before they are served. The image bytes are loaded only when
    asked for."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    thumb_width: Mapped[int]
    thumb_height: Mapped[int]
    thumb: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Piece(Base):
    __tablename__ = "piece"
    __table_args__ = (
        CheckConstraint(_one_of("kind", Kind), name="kind"),
        CheckConstraint(_legal_fineness("metal", "fineness"), name="legal_fineness"),
        CheckConstraint(_one_of("status", PieceStatus), name="status"),
        CheckConstraint("weight_cg > 0", name="positive_weight"),
        CheckConstraint("uin IS NULL OR length(uin) = 16", name="uin_length"),
        Index("uq_piece_maker_reference", "maker_id", "reference", unique=True),
        Index("ix_piece_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    maker_id: Mapped[int] = mapped_column(ForeignKey("maker.id"))
    reference: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    metal: Mapped[str] = mapped_column(String(16))
    fineness: Mapped[int] = mapped_column(Integer)
    # Centigrams: weights have at most two decimals of a gram, held exactly as an integer.
    weight_cg: Mapped[int] = mapped_column(Integer)
    stones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    uin: Mapped[str | None] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PieceStatus.AWAITING_ASSAY.value)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))

    maker: Mapped[Maker] = relationship(lazy="joined")
    photo: Mapped[Photo | None] = relationship()
    certificates: Mapped[list["Certificate"]] = relationship(
        back_populates="piece", order_by="Certificate.id", foreign_keys="Certificate.piece_id"
    )

    @property
    def weight_g(self) -> Decimal:
        return Decimal(self.weight_cg) / 100

    @property
    def current_certificate(self) -> "Certificate | None":
        current = [c for c in self.certificates if c.status != CertificateStatus.SUPERSEDED]
        return current[-1] if current else None

    @property
    def current_certificate_code(self) -> str | None:
        certificate = self.current_certificate
        return certificate.code if certificate else None


class AssayRecord(Base):
    __tablename__ = "assay_record"
    __table_args__ = (
        CheckConstraint(_one_of("result", AssayResult), name="result"),
        CheckConstraint(_legal_fineness("metal", "fineness"), name="legal_fineness"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    result: Mapped[str] = mapped_column(String(8))
    metal: Mapped[str] = mapped_column(String(16))
    fineness: Mapped[int] = mapped_column(Integer)
    assay_mark: Mapped[str] = mapped_column(String(64))
    inspectorate: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    attested_at: Mapped[datetime] = mapped_column(default=utcnow)

    piece: Mapped[Piece] = relationship()
    # A reissue signs again on the same assay, so one assay may back several certificates.
    certificates: Mapped[list["Certificate"]] = relationship(
        viewonly=True, order_by="Certificate.id"
    )

    @property
    def certificate(self) -> "Certificate | None":
        """The certificate this assay issued (the first; later ones are reissues)."""
        return self.certificates[0] if self.certificates else None


class Certificate(Base):
    """A signed certificate. `payload` holds the exact bytes that were signed."""

    __tablename__ = "certificate"
    __table_args__ = (
        CheckConstraint(_one_of("status", CertificateStatus), name="status"),
        CheckConstraint(
            f"revocation_reason IS NULL OR {_one_of('revocation_reason', RevocationReason)}",
            name="revocation_reason",
        ),
        CheckConstraint(
            "(revoked_at IS NULL) = (revocation_reason IS NULL)", name="revocation_complete"
        ),
        # At most one current (not superseded) certificate per piece.
        Index(
            "uq_certificate_current_piece",
            "piece_id",
            unique=True,
            sqlite_where=text(f"status != '{CertificateStatus.SUPERSEDED}'"),
            postgresql_where=text(f"status != '{CertificateStatus.SUPERSEDED}'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # Indexed: a scan reads what the piece's other certificates say (a theft).
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    assay_id: Mapped[int] = mapped_column(ForeignKey("assay_record.id"))
    kid: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    jws: Mapped[str] = mapped_column(Text)
    # The signing key's seal of jws and payload (keys.KeyRing.seal): lets a scan confirm
    # the stored bytes without an Ed25519 verification each time.
    seal: Mapped[str | None] = mapped_column(String(64))
    # The registry's seal of what a scan shows beside the payload (status, revocation,
    # successor, newest entry): registry/log/proofs.py. A status set by hand fails it.
    state_seal: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.VALID.value)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    revocation_note: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"), unique=True)

    piece: Mapped[Piece] = relationship(back_populates="certificates", foreign_keys=[piece_id])
    assay: Mapped[AssayRecord] = relationship()
    supersedes: Mapped["Certificate | None"] = relationship(
        remote_side=[id], foreign_keys=[supersedes_id], back_populates="superseded_by"
    )
    superseded_by: Mapped["Certificate | None"] = relationship(
        foreign_keys=[supersedes_id], back_populates="supersedes", uselist=False
    )

    @property
    def printed_code(self) -> str:
        return codes.printed(self.code)

    @property
    def payload_json(self) -> dict[str, Any]:
        return json.loads(self.payload)

    @property
    def supersedes_code(self) -> str | None:
        return self.supersedes.code if self.supersedes else None

    @property
    def superseded_by_code(self) -> str | None:
        return self.superseded_by.code if self.superseded_by else None

    @property
    def revocation(self) -> dict[str, Any] | None:
        if self.revoked_at is None:
            return None
        return {
            "reason": self.revocation_reason,
            "note": self.revocation_note,
            "revoked_at": self.revoked_at,
        }


@dataclass(slots=True)
class NewAssay:
    """An assay record about to be inserted in bulk with many others (a batch of
    attestations), as plain attributes of the same names as AssayRecord's columns: built
    by the thousand a second, where a mapped object's instrumentation (its constructor,
    every attribute set and read) cost about a sixth of a batch's time."""

    piece_id: int
    inspector_id: int
    result: str
    metal: str
    fineness: int
    assay_mark: str
    inspectorate: str
    notes: str | None
    attested_at: datetime
    id: int = 0


@dataclass(slots=True)
class NewCertificate:
    """A certificate about to be inserted in bulk with many others, as NewAssay is: the
    columns of a new certificate, which supersedes nothing and has no successor."""

    code: str
    piece_id: int
    assay_id: int
    kid: str
    payload: bytes
    jws: str
    seal: str
    issued_at: datetime
    status: str = CertificateStatus.VALID.value
    id: int = 0
    # What the state seal covers of a certificate (registry/log/proofs.py), as it starts.
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    revocation_note: str | None = None
    superseded_by_code: str | None = None


class QrImage(Base):
    """A QR code image, made once per certificate, URL, format and size, then served
    from here: making one costs milliseconds of CPU that a busy shop should not pay."""

    __tablename__ = "qr_image"
    __table_args__ = (
        CheckConstraint(_one_of("format", ("png", "svg")), name="format"),
        Index(
            "uq_qr_image_variant", "certificate_id", "url", "format", "scale", "border", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"))
    # The exact text encoded: a change of the public base URL makes new images.
    url: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(8))
    scale: Mapped[int]
    border: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """One write of the registry: an entry of the transparency log, at `log_index`.

    `entry` holds the exact RFC 8785 bytes that the log hashes; the other columns repeat
    parts of it for the audit's filters, and `registry log verify` checks they agree.
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("log_index >= 0", name="log_index_not_negative"),
        Index("ix_event_certificate_id_action", "certificate_id", "action"),
        Index("ix_event_occurred_at", "occurred_at"),
        Index("ix_event_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Gapless from 0, given out under the log head's lock (a sequence may skip values).
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    action: Mapped[str] = mapped_column(String(48), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("maker.id"), index=True)
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    # The registry's MAC of index and entry (registry/log/proofs.py): an entry written by
    # hand has none, and the checkpoint signer refuses to sign over it.
    mac: Mapped[str | None] = mapped_column(String(64))


class LogHead(Base):
    """The log's one head row: its size. Every append locks it, so appends are serialised
    on every database, and a transaction that rolls back takes its appends with it."""

    __tablename__ = "log_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class LogNode(Base):
    """A perfect subtree of the log's Merkle tree (registry/log/merkle.py): the hash of
    leaves [index << level, (index + 1) << level). Level 0 holds the leaf hashes."""

    __tablename__ = "log_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint) as it was made and published."""

    __tablename__ = "checkpoint"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="tree_size_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    made_at: Mapped[datetime]
    kid: Mapped[str] = mapped_column(String(64))
    # The signed note, byte for byte as served.
    note: Mapped[str] = mapped_column(Text)
    # How many of the configured witnesses have cosigned it (registry/log/witnessing.py):
    # a scan's proof is against the newest checkpoint with a quorum of them.
    cosignatures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Their note lines, served after the note's own signature lines.
    cosigned: Mapped[str | None] = mapped_column(Text)


class Cosignature(Base):
    """A witness's cosignature of a checkpoint (C2SP tlog-cosignature), as it answered:
    its note line, served after the checkpoint's own signatures."""

    __tablename__ = "cosignature"
    __table_args__ = (UniqueConstraint("checkpoint_id", "witness"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), index=True)
    #: The witness's name, as its vkey and its line give it.
    witness: Mapped[str] = mapped_column(String(200))
    #: The time the witness put in it.
    signed_at: Mapped[datetime]
    line: Mapped[str] = mapped_column(Text)


class WitnessState(Base):
    """What the registry knows of a configured witness: the newest checkpoint it
    cosigned, and its last failure (a refusal is an alarm; being unreachable is not)."""

    __tablename__ = "witness_state"

    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    cosigned_size: Mapped[int] = mapped_column(BigInteger, default=0)
    cosigned_at: Mapped[datetime | None]
    #: Refusals of a checkpoint signed by the registry's key: each is evidence of a
    #: forked or rolled back log, never answered by rewriting anything.
    refusals: Mapped[int] = mapped_column(Integer, default=0)
    last_refusal: Mapped[str | None] = mapped_column(Text)
    last_refusal_at: Mapped[datetime | None]
    #: The last time it could not be reached, and why.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class LogVerification(Base):
    """The outcome of one `registry log verify` of this database, for the inspectors'
    log status page: when, over how many entries, and the first discrepancy if any."""

    __tablename__ = "log_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    checkpoints: Mapped[int] = mapped_column(Integer)
    discrepancies: Mapped[int] = mapped_column(Integer)
    first: Mapped[str | None] = mapped_column(Text)

    @property
    def passed(self) -> bool:
        return self.discrepancies == 0


class LogVerificationJob(Base):
    """A verification of the log an inspector asked for in the portal. It runs outside the
    request, in `registry log verify-jobs` (which `registry serve` starts beside the
    server), which notes its progress here and links its outcome."""

    __tablename__ = "log_verification_job"
    __table_args__ = (CheckConstraint(_one_of("state", JobState), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value, index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    #: When the verifier last said it was at work: a running job silent for long is dead.
    updated_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    #: Entries read so far, of `total` (the log's size when the job started).
    checked: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    verification_id: Mapped[int | None] = mapped_column(ForeignKey("log_verification.id"))
    error: Mapped[str | None] = mapped_column(Text)

    requested_by: Mapped[Account | None] = relationship(lazy="joined")
    verification: Mapped[LogVerification | None] = relationship(lazy="joined")


class PortalSession(Base):
    """A browser signed in to the portals. The cookie carries a random id; only its
    SHA-256 is stored, so a copy of the database opens no session. Ending one (sign-out,
    the account page, a password change) is final: the id is never accepted again."""

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # The client it signed in from (an IPv4 address or an IPv6 /64), and its browser.
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    account: Mapped[Account] = relationship(lazy="joined")


class SignInFailure(Base):
    """One failed sign-in (or wrong current password), kept for an hour in the database
    so that every worker and machine counts the same failures."""

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A fingerprint of the e-mail address tried (known account or not).
    account_key: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Shop(Base):
    """A point of sale admitted to the brand: the Jewellery Centre, a maker's own shop, an
    authorised retailer. Public: buyers are told where the brand's pieces are sold."""

    __tablename__ = "shop"
    __table_args__ = (
        CheckConstraint(_one_of("region", REGIONS), name="region"),
        CheckConstraint(_one_of("kind", ShopKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    region: Mapped[str] = mapped_column(String(8))
    city: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    # A maker's own shop names its maker (the showcase lists it among where they sell).
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("maker.id"), index=True)
    admitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    maker: Mapped[Maker | None] = relationship()

    @property
    def name(self) -> dict[str, str]:
        return {"ru": self.name_ru, "en": self.name_en}


class Sale(Base):
    """The sale of a certified piece, by a shop or by its maker. At most one sale of a
    piece stands at a time; a cancelled one (a return) stays, for the history."""

    __tablename__ = "sale"
    __table_args__ = (
        CheckConstraint("(shop_id IS NULL) != (maker_id IS NULL)", name="one_seller"),
        Index(
            "uq_sale_standing_piece",
            "piece_id",
            unique=True,
            sqlite_where=text("cancelled_at IS NULL"),
            postgresql_where=text("cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    # The certificate the sale was recorded under (the piece's current one then).
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id"), index=True)
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("maker.id"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    sold_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]

    shop: Mapped[Shop | None] = relationship(lazy="joined")
    maker: Mapped[Maker | None] = relationship(lazy="joined")


class OwnershipClaim(Base):
    """A one-time claim code (sale slip, hand-over, reset): only its hash is stored."""

    __tablename__ = "ownership_claim"
    __table_args__ = (CheckConstraint(_one_of("origin", ClaimOrigin), name="origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
    # Withdrawn unused: the sale was cancelled, or a newer code replaced it.
    withdrawn_at: Mapped[datetime | None]


class Ownership(Base):
    """An owner of a sold piece, known only by the hash of a private owner key. Ended when
    the next owner claims, or the sale is cancelled; a report of theft or loss stands on
    it until withdrawn."""

    __tablename__ = "ownership"
    __table_args__ = (
        CheckConstraint(
            f"report IS NULL OR report IN ('{OwnerReport.STOLEN}', '{OwnerReport.LOST}')",
            name="report",
        ),
        Index(
            "uq_ownership_current_piece",
            "piece_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("piece.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("ownership_claim.id"), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    report: Mapped[str | None] = mapped_column(String(16))
    reported_at: Mapped[datetime | None]


class BuyerReport(Base):
    """A buyer's report of a suspected fake, a copied tag or wrong details. Private: not a
    log entry; the brand office and inspectors work through them."""

    __tablename__ = "buyer_report"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ReportKind), name="kind"),
        CheckConstraint(_one_of("status", ReportStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the buyer is given to quote: random, not the row's id.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    # The certificate reported, when the code is one; else the code as typed.
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"), index=True)
    typed_code: Mapped[str | None] = mapped_column(String(64))
    where_bought: Mapped[str | None] = mapped_column(String(300))
    seller: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    photo_media_type: Mapped[str | None] = mapped_column(String(32))
    contact: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.OPEN.value)
    note: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ScanDay(Base):
    """Public scans of a certificate on one day: how many, and from how many networks.
    Who scanned is never kept (registry/scans.py)."""

    __tablename__ = "scan_day"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    networks: Mapped[int] = mapped_column(Integer, default=0)


class ScanNetwork(Base):
    """A network seen scanning a certificate on a day, as a keyed hash under that day's
    key, which is forgotten after the day: it counts distinct networks across workers,
    and tells nothing once the key is gone."""

    __tablename__ = "scan_network"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    network: Mapped[str] = mapped_column(String(32), primary_key=True)


class ScanWatch(Base):
    """A certificate whose networks in the caution's window (ending `last_day`) exceeded
    the lowest caution limit when a flush counted them: a scan reads its caution only
    for these (registry/scans.py), so that no other scan reads the counts."""

    __tablename__ = "scan_watch"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), primary_key=True)
    last_day: Mapped[date] = mapped_column(Date, index=True)


class ScanKey(Base):
    """The key of one day's network hashes, shared by every worker; deleted after it."""

    __tablename__ = "scan_key"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
