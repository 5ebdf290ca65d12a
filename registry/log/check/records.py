"""The records held to the log: every row must be what the entries say it is.

As tree.py reads the entries, `Records.collect` notes what each says of the records
(and checks the event row's audit columns against it); `Records.compare` then reads
every maker, account, token, piece, photo, certificate and assay row and reports each
that the log does not vouch for: added by hand, altered, revived, or gone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.log import check, events, ledger
from registry.models import Account, ApiToken, AssayRecord, Certificate, Maker, Photo, Piece
from schemas.standards import CertificateStatus, EventType, PieceStatus

#: An assay as its entries name it: by id, or, before they did, ("piece", its piece).
_AssayKey = Any
#: A maker's contacts before the brand office set any.
_NO_CONTACTS = {"contacts": {"phone": None, "email": None, "website": None}}
#: What an attestation's entry held before the log named the assay (revision 0004).
_LEGACY_ASSAY = ("metal", "fineness", "assay_mark", "inspectorate")


@dataclass
class _Logged:
    """What the log says of one certificate or assay, as the entries are read."""

    index: int
    entry: dict
    ended: list[tuple[int, dict]] = field(default_factory=list)


@dataclass
class Records:
    """What the log says of the records, gathered entry by entry, then compared."""

    report: check.Report
    makers: dict[int, str]
    codes: dict[int, str]
    roles: dict[int, str]
    issued: dict[str, _Logged] = field(default_factory=dict)
    assays: dict[_AssayKey, list[_Logged]] = field(default_factory=dict)
    people: _People = field(default_factory=lambda: _People())

    @classmethod
    def start(cls, session: Session, report: check.Report) -> Records:
        """Ready to collect into `report`; reads the names event rows are compared by."""
        return cls(
            report=report,
            makers=dict(session.execute(select(Maker.id, Maker.slug)).all()),
            codes=dict(session.execute(select(Certificate.id, Certificate.code)).all()),
            roles=dict(session.execute(select(Account.id, Account.role)).all()),
        )

    def collect(self, row: SimpleNamespace, entry: dict) -> None:
        """Note what one well-formed entry says, and hold its event row's columns to it."""
        _columns(row, entry, self.makers, self.codes, self.roles, self.report)
        _collect(row.log_index, entry, self.issued, self.assays)
        self.people.collect(row.log_index, entry)

    def compare(self, session: Session, head: int) -> None:
        """Every row against what was collected; `head` is the index a record the log
        never saw is reported at."""
        _certificates(session, self.issued, head, self.report)
        _assays(session, self.assays, head, self.report)
        self.people.compare(session, head, self.report)


def _columns(row, entry: dict, makers, codes, roles, report: check.Report) -> None:
    """The audit columns must say what the entry says, or the audit's filters would lie."""
    actor = entry.get("actor")
    actor = actor if isinstance(actor, dict) else {}
    expected = {
        "action": entry.get("action"),
        "time": entry.get("at"),
        "actor": actor.get("id"),
        "actor role": actor.get("role"),
        "maker": entry.get("maker"),
        "piece": entry.get("piece"),
        "certificate": entry.get("certificate"),
    }
    found = {
        "action": row.action,
        "time": ledger.entry_time(row.occurred_at),
        "actor": row.actor_id,
        "actor role": row.actor_role,
        "maker": makers.get(row.maker_id),
        "piece": row.piece_id,
        "certificate": codes.get(row.certificate_id),
    }
    for name, value in expected.items():
        if found[name] != value:
            report.add(
                row.log_index,
                check.Kind.RECORD_DIFFERS,
                f"the event row's {name} is {found[name]!r}, the entry says {value!r}",
            )
    if actor.get("id") is not None and roles.get(actor["id"]) != actor.get("role"):
        report.add(row.log_index, check.Kind.RECORD_DIFFERS, "the actor's account has another role")


@dataclass
class _People:
    """What the log says of makers, accounts, tokens, pieces and photos, matched with
    their rows: an account or token added by hand (a back door), a role raised, a token
    revoked then revived, a maker's mark or a piece's metal changed, a photo swapped
    under its name: each is a record the log does not vouch for."""

    # Keyed by what the entries say, which a hand-made entry may leave out (None).
    makers: dict[object, _Logged] = field(default_factory=dict)
    accounts: dict[object, _Logged] = field(default_factory=dict)
    tokens: dict[object, _Logged] = field(default_factory=dict)
    pieces: dict[object, _Logged] = field(default_factory=dict)
    #: A piece's photo as last set or removed: (index, photo hash, thumbnail hash), the
    #: thumbnail's None in an entry written before the log recorded thumbnails.
    photos: dict[object, tuple[int, str | None, str | None]] = field(default_factory=dict)
    passwords: dict[object, tuple[int, str | None]] = field(default_factory=dict)
    #: A maker's public details as admitted, then as last changed: (index, details).
    details: dict[object, tuple[int, dict]] = field(default_factory=dict)
    #: A maker's last suspension or reinstatement: (index, the suspension's entry data,
    #: or None once reinstated).
    suspensions: dict[object, tuple[int, dict | None]] = field(default_factory=dict)
    #: Pieces their makers withdrew: the index of the withdrawal.
    withdrawn: dict[object, int] = field(default_factory=dict)
    #: An account's last deactivation or reactivation: (index, deactivated).
    deactivations: dict[object, tuple[int, bool]] = field(default_factory=dict)

    def collect(self, index: int, entry: dict) -> None:
        action, data = entry.get("action"), _data(entry)
        maker = entry.get("maker")
        if action == EventType.MAKER_ADMITTED:
            self.makers[maker] = _Logged(index, entry)
            self.details[maker] = (index, {**_NO_CONTACTS, **data})
        elif action == EventType.MAKER_UPDATED and maker in self.details:
            self.details[maker] = (index, {**self.details[maker][1], **data})
        elif action == EventType.MAKER_SUSPENDED:
            self.suspensions[maker] = (index, data)
        elif action == EventType.MAKER_REINSTATED:
            self.suspensions[maker] = (index, None)
        elif action in (EventType.ACCOUNT_DEACTIVATED, EventType.ACCOUNT_REACTIVATED):
            deactivated = action == EventType.ACCOUNT_DEACTIVATED
            self.deactivations[data.get("account")] = (index, deactivated)
        elif action == EventType.ACCOUNT_CREATED:
            self.accounts[data.get("account")] = _Logged(index, entry)
        elif action == EventType.ACCOUNT_PASSWORD_SET:
            self.passwords[data.get("account")] = (index, data.get("password"))
        elif action == EventType.TOKEN_CREATED:
            self.tokens[data.get("prefix")] = _Logged(index, entry)
        elif action == EventType.TOKEN_REVOKED and data.get("prefix") in self.tokens:
            self.tokens[data["prefix"]].ended.append((index, entry))
        elif action in (EventType.PIECE_REGISTERED, EventType.PIECE_CORRECTED):
            # A correction records the whole declaration again: the newest one holds.
            self.pieces[entry.get("piece")] = _Logged(index, entry)
        elif action == EventType.PIECE_WITHDRAWN:
            self.withdrawn[entry.get("piece")] = index
        elif action == EventType.PIECE_PHOTO_SET:
            self.photos[entry.get("piece")] = (index, data.get("sha256"), data.get("thumb_sha256"))
        elif action == EventType.PIECE_PHOTO_REMOVED:
            self.photos[entry.get("piece")] = (index, None, None)

    def compare(self, session: Session, head: int, report: check.Report) -> None:
        for maker in session.scalars(select(Maker).order_by(Maker.id)):
            logged = self.makers.get(maker.slug)
            if logged is None:
                report.add(
                    head, check.Kind.UNLOGGED_RECORD, f"maker {maker.slug} was never admitted"
                )
                continue
            index, details = self.details[maker.slug]
            if details != {**events.admission(maker), **events.details(maker)}:
                report.add(index, check.Kind.RECORD_DIFFERS, f"maker {maker.slug} was altered")
            self._suspension(session, maker, logged.index, report)
        # An entry names an e-mail address by its keyed commitment, or, written before
        # commitments were keyed, by its plain SHA-256: either form vouches for it.
        emails = {}
        for account in session.scalars(select(Account).order_by(Account.id)):
            forms = ledger.commitments(session, account.email)
            emails[account.id] = forms
            logged = next((self.accounts[f] for f in forms if f in self.accounts), None)
            if logged is None:
                report.add(
                    head, check.Kind.UNLOGGED_RECORD, f"account {account.id} was never created"
                )
                continue
            index, deactivated = next(
                (self.deactivations[f] for f in forms if f in self.deactivations),
                (logged.index, False),
            )
            if deactivated != (account.deactivated_at is not None):
                state = "lets it in again" if deactivated else "says it is deactivated"
                report.add(
                    index,
                    check.Kind.RECORD_DIFFERS,
                    f"account {account.id}'s last activation in the log is not its state: "
                    f"the database {state}",
                )
            said = (_data(logged.entry).get("role"), logged.entry.get("maker"))
            if said != (account.role, account.maker_slug):
                report.add(
                    logged.index,
                    check.Kind.RECORD_DIFFERS,
                    f"account {account.id}'s role or maker is not the one it was created with",
                )
            index, password = max(
                (self.passwords[f] for f in forms if f in self.passwords),
                key=lambda found: found[0],
                default=(logged.index, None),
            )
            if password != events.password_digest(session, account, like=password):
                report.add(
                    index,
                    check.Kind.RECORD_DIFFERS,
                    f"account {account.id}'s password is not the one last set through the registry",
                )
        for token in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            logged = self.tokens.get(token.prefix)
            if logged is None:
                report.add(
                    head, check.Kind.UNLOGGED_RECORD, f"token {token.prefix} was never created"
                )
                continue
            if _data(logged.entry).get("account") not in emails.get(token.account_id, ()):
                report.add(
                    logged.index, check.Kind.RECORD_DIFFERS, f"token {token.prefix} changed hands"
                )
            if logged.ended and token.revoked_at is None:
                report.add(
                    logged.ended[0][0],
                    check.Kind.RECORD_DIFFERS,
                    f"token {token.prefix} was revoked; the database lets it in again",
                )
        self._pieces(session, head, report)

    def _suspension(self, session: Session, maker: Maker, admitted: int, report) -> None:
        index, said = self.suspensions.get(maker.slug, (admitted, None))
        if (said is None) != (maker.suspended_at is None):
            state = "suspended" if maker.suspended_at is not None else "not suspended"
            report.add(
                index,
                check.Kind.RECORD_DIFFERS,
                f"maker {maker.slug} is {state} in the database, not as the log last said",
            )
        elif said is not None and said != events.suspension(
            session, maker, like=said.get("reason")
        ):
            report.add(
                index, check.Kind.RECORD_DIFFERS, f"maker {maker.slug}'s suspension was altered"
            )

    def _pieces(self, session: Session, head: int, report: check.Report) -> None:
        # Every stored image is hashed: a photo against its name, a thumbnail against the
        # hash stored beside it, and below against the one its piece's entry recorded.
        thumbs: dict[str, str] = {}
        images = select(Photo.id, Photo.sha256, Photo.data, Photo.thumb, Photo.thumb_sha256)
        for photo_id, name, image, small, small_sha in session.execute(images):
            if hashlib.sha256(image).hexdigest() != name:
                report.add(
                    head, check.Kind.RECORD_DIFFERS, f"photo {photo_id}'s image is not {name}"
                )
            thumbs[name] = hashlib.sha256(small).hexdigest()
            if thumbs[name] != small_sha:
                report.add(
                    head,
                    check.Kind.RECORD_DIFFERS,
                    f"photo {photo_id}'s thumbnail is not {small_sha}",
                )
        pieces = session.execute(
            select(Piece, Photo.sha256).outerjoin(Photo, Piece.photo_id == Photo.id)
        )
        # What a piece's current certificate signs (its bytes are held to the log above).
        signed = dict(
            session.execute(
                select(Certificate.piece_id, Certificate.payload).where(
                    Certificate.status != CertificateStatus.SUPERSEDED
                )
            ).all()
        )
        for piece, photo in pieces:
            logged = self.pieces.get(piece.id)
            if logged is None:
                report.add(
                    head, check.Kind.UNLOGGED_RECORD, f"piece {piece.id} was never registered"
                )
                continue
            withdrawn = self.withdrawn.get(piece.id)
            if (withdrawn is not None) != (piece.status == PieceStatus.WITHDRAWN):
                report.add(
                    withdrawn if withdrawn is not None else logged.index,
                    check.Kind.RECORD_DIFFERS,
                    f"piece {piece.id}'s status {piece.status} is not what the log says",
                )
            data = _data(logged.entry)
            # Corrections by reissue may change weight, stones, UIN, title, description;
            # what a registration (or the maker's correction before assay) fixed is
            # checked here.
            fixed = {k: data.get(k) for k in ("reference", "kind", "metal", "fineness")}
            if fixed != {k: getattr(piece, k) for k in fixed}:
                report.add(logged.index, check.Kind.RECORD_DIFFERS, f"piece {piece.id} was altered")
            if logged.entry.get("maker") != piece.maker.slug:
                report.add(
                    logged.index, check.Kind.RECORD_DIFFERS, f"piece {piece.id} changed makers"
                )
            if piece.id in signed:
                _as_signed(piece, signed[piece.id], logged.index, report)
            index, sha, thumb = self.photos.get(piece.id, (logged.index, None, None))
            if photo != sha:
                report.add(
                    index, check.Kind.RECORD_DIFFERS, f"piece {piece.id}'s photo is not the one set"
                )
            elif photo is not None and thumb is None:
                # Set before the log recorded thumbnails: a thumbnail is made from the
                # upload, not from the stored photo, so it cannot be made again to compare.
                report.unchecked_thumbnails += 1
            elif photo is not None and thumbs.get(photo) != thumb:
                report.add(
                    index,
                    check.Kind.RECORD_DIFFERS,
                    f"piece {piece.id}'s thumbnail is not the one set",
                )


def _as_signed(piece: Piece, payload: bytes, index: int, report: check.Report) -> None:
    """A certified piece must read as its certificate signs it, corrections included."""
    try:
        statement = json.loads(payload)["piece"]
        weight = round(statement["weight_g"] * 100)
    except (ValueError, TypeError, KeyError):
        return  # an unreadable payload is reported with its certificate
    found = {
        "title": piece.title,
        "description": piece.description,
        "weight": piece.weight_cg,
        "stones": piece.stones,
        "UIN": piece.uin,
    }
    said = {
        "title": statement.get("title"),
        "description": statement.get("description"),
        "weight": weight,
        "stones": statement.get("stones"),
        "UIN": statement.get("uin"),
    }
    for name, value in found.items():
        if value != said[name]:
            report.add(
                index,
                check.Kind.RECORD_DIFFERS,
                f"piece {piece.id}'s {name} is not what its certificate signs",
            )


def _collect(
    index: int, entry: dict, issued: dict[str, _Logged], assays: dict[_AssayKey, list[_Logged]]
) -> None:
    action, data = entry.get("action"), _data(entry)
    code = entry.get("certificate")
    if action == EventType.CERTIFICATE_ISSUED and code:
        issued[code] = _Logged(index, entry)
    elif action in (EventType.CERTIFICATE_REVOKED, EventType.CERTIFICATE_SUPERSEDED):
        if code in issued:
            issued[code].ended.append((index, entry))
    elif action in (EventType.ASSAY_PASSED, EventType.ASSAY_FAILED):
        # Entries written before the log named assays by id are matched by piece, in order.
        key = data["assay"] if "assay" in data else ("piece", entry.get("piece"))
        assays.setdefault(key, []).append(_Logged(index, entry))


def _data(entry: dict) -> dict:
    data = entry.get("data")
    return data if isinstance(data, dict) else {}


def _certificates(
    session: Session, issued: dict[str, _Logged], head: int, report: check.Report
) -> None:
    rows = session.scalars(select(Certificate).order_by(Certificate.id))
    seen = set()
    for certificate in rows:
        report.certificates += 1
        seen.add(certificate.code)
        logged = issued.get(certificate.code)
        if logged is None:
            report.add(
                head,
                check.Kind.UNLOGGED_RECORD,
                f"certificate {certificate.code} is stored, but the log never issued it",
            )
            continue
        data = _data(logged.entry)
        claims = {
            "payload": (data.get("payload"), ledger.digest(certificate.payload)),
            "JWS": (data.get("jws"), ledger.digest(certificate.jws)),
            "key": (data.get("kid"), certificate.kid),
            "issue time": (logged.entry.get("at"), ledger.entry_time(certificate.issued_at)),
            "piece": (logged.entry.get("piece"), certificate.piece_id),
        }
        for name, (said, stored) in claims.items():
            if said is not None and said != stored:
                report.add(
                    logged.index,
                    check.Kind.RECORD_DIFFERS,
                    f"certificate {certificate.code}'s {name} is not the one issued",
                )
        _status(certificate, logged, report)
    for code, logged in issued.items():
        if code not in seen:
            report.add(
                logged.index,
                check.Kind.MISSING_RECORD,
                f"certificate {code} was issued; its row is gone",
            )


def _status(certificate: Certificate, logged: _Logged, report: check.Report) -> None:
    status, revocation, index = CertificateStatus.VALID, None, logged.index
    for index, entry in logged.ended:
        if entry["action"] == EventType.CERTIFICATE_SUPERSEDED:
            status = CertificateStatus.SUPERSEDED
        elif status == CertificateStatus.VALID:
            status, revocation = CertificateStatus.REVOKED, (index, entry)
    if certificate.status != status:
        report.add(
            index,
            check.Kind.RECORD_DIFFERS,
            f"certificate {certificate.code} is {certificate.status} in the database; "
            f"the log says {status}",
        )
    if revocation is None:
        if certificate.revoked_at is not None:
            report.add(
                logged.index,
                check.Kind.RECORD_DIFFERS,
                f"certificate {certificate.code} has a revocation the log never recorded",
            )
        return
    index, entry = revocation
    data = _data(entry)
    stored = (
        certificate.revocation_reason,
        certificate.revocation_note,
        ledger.entry_time(certificate.revoked_at) if certificate.revoked_at else None,
    )
    if stored != (data.get("reason"), data.get("note"), entry.get("at")):
        report.add(
            index,
            check.Kind.RECORD_DIFFERS,
            f"certificate {certificate.code}'s revocation is not the one the log recorded",
        )


def _assays(
    session: Session, assays: dict[_AssayKey, list[_Logged]], head: int, report: check.Report
) -> None:
    for assay in session.scalars(select(AssayRecord).order_by(AssayRecord.id)):
        report.assays += 1
        found = assays.get(assay.id) or assays.get(("piece", assay.piece_id))
        if not found:
            report.add(
                head,
                check.Kind.UNLOGGED_RECORD,
                f"assay {assay.id} is stored; the log never saw it",
            )
            continue
        logged = found.pop(0)
        entry, data = logged.entry, _data(logged.entry)
        stored: dict[str, Any] = {
            "action": f"assay:{assay.result}",
            "at": ledger.entry_time(assay.attested_at),
            "piece": assay.piece_id,
            "actor": assay.inspector_id,
            "data": events.attestation(session, assay, like=data),
        }
        if "assay" not in data:  # written before 0004: these four fields, at its own time
            stored["data"] = {k: stored["data"][k] for k in _LEGACY_ASSAY if k in data}
            del stored["at"]
        said = {
            "action": entry.get("action"),
            "at": entry.get("at"),
            "piece": entry.get("piece"),
            "actor": entry["actor"].get("id") if isinstance(entry.get("actor"), dict) else None,
            "data": data,
        }
        for name in stored:
            if stored[name] != said[name]:
                report.add(
                    logged.index,
                    check.Kind.RECORD_DIFFERS,
                    f"assay {assay.id}'s {name} is not the one the log recorded",
                )
                break
    for key, left in assays.items():
        for logged in left:
            what = f"assay {key}" if isinstance(key, int) else f"an assay of piece {key[1]}"
            report.add(
                logged.index, check.Kind.MISSING_RECORD, f"{what} was attested; its row is gone"
            )
