"""`registry log verify`: the whole log checked against itself and against the records.

It trusts nothing stored but the entries' bytes and the checkpoints' signatures: the
tree is recomputed from the entries and compared with every stored node and with the
root of every signed checkpoint; then the certificate and assay rows are compared with
what the log says was issued, revoked, superseded and attested. Every discrepancy is
reported with the log index it concerns and its kind; the first one decides.

It reads the whole log in index order, a batch at a time (memory stays bounded by the
number of certificates and assays, which it keeps in dictionaries to match rows).
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from keys import note
from registry import accounts as accounts_service
from registry import assays as assays_service
from registry import makers as makers_service
from registry.errors import RegistryError
from registry.log import checkpoints, ledger, merkle, tree
from registry.models import (
    Account,
    ApiToken,
    AssayRecord,
    Certificate,
    Checkpoint,
    Event,
    LogHead,
    LogNode,
    Maker,
    Photo,
    Piece,
)
from schemas import canonical

_BATCH = 2000
#: What an attestation's entry held before the log named the assay (revision 0004).
_LEGACY_ASSAY = ("metal", "fineness", "assay_mark", "inspectorate")


#: Kinds of discrepancy in the log itself, reported before those of the records: a record
#: that disagrees with the log often follows from an entry that was removed or changed.
STRUCTURAL = frozenset(
    {
        "head",
        "missing",
        "beyond the head",
        "malformed entry",
        "altered entry",
        "altered tree",
        "checkpoint",
        "unsigned",
        "rewritten",
    }
)


@dataclass(frozen=True)
class Discrepancy:
    #: The log index concerned (the end of the log for a record the log never saw).
    index: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"entry {self.index}: {self.kind}: {self.detail}"


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    certificates: int = 0
    assays: int = 0
    problems: list[Discrepancy] = field(default_factory=list)

    @property
    def first(self) -> Discrepancy | None:
        """The discrepancy to fix first: in the log before the records, lowest index."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.kind not in STRUCTURAL, p.index))

    def add(self, index: int, kind: str, detail: str) -> None:
        self.problems.append(Discrepancy(index, kind, detail))


@dataclass
class _Logged:
    """What the log says of one certificate or assay, as the entries are read."""

    index: int
    entry: dict
    ended: list[tuple[int, dict]] = field(default_factory=list)


def check(
    session: Session,
    ring: keys.KeyRing,
    *,
    origin: str,
    every: int = 1,
    trusted: note.Checkpoint | None = None,
) -> Report:
    """Check the log and the records. With `every` == 1 (a checkpoint per write, the
    default), entries that no signed checkpoint covers are a discrepancy too. `trusted`
    is a checkpoint known from outside the database (the signer's last one): the entries
    must still make its tree, or the log was rewritten, checkpoints and all."""
    report = Report()
    head = session.scalar(select(LogHead.size).where(LogHead.id == 1))
    if head is None:
        report.add(0, "head", "the log has no head row")
        return report
    stored = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
    sizes = {c.tree_size for c in stored} | ({trusted.size} if trusted else set())
    roots = _entries(session, head, sizes, report)
    if trusted is not None and roots.get(trusted.size) != trusted.root:
        report.add(
            max(min(trusted.size, head) - 1, 0),
            "rewritten",
            f"the entries no longer make the tree of {trusted.size} entries that the registry "
            "signed last (kept outside the database): the log was rewritten or truncated",
        )
    _checkpoints(session, ring, origin, stored, roots, report)
    signed = max(sizes, default=0)
    if every == 1 and signed < head:
        report.add(
            signed,
            "unsigned",
            f"entries {signed} to {head - 1} are in no signed checkpoint, yet every write "
            "makes one (added outside the registry, or signed while no key was active: "
            "then rotate the key and run `registry log checkpoint`)",
        )
    return report


def _entries(session: Session, head: int, sizes: set[int], report: Report) -> dict[int, bytes]:
    """Read every entry in order: rebuild the tree, compare it with the stored nodes and
    the audit columns, and collect what the log says of certificates and assays."""
    makers = dict(session.execute(select(Maker.id, Maker.slug)).all())
    codes = dict(session.execute(select(Certificate.id, Certificate.code)).all())
    roles = dict(session.execute(select(Account.id, Account.role)).all())
    builder = merkle.Builder()
    roots = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    issued: dict[str, _Logged] = {}
    assays: dict[object, list[_Logged]] = {}
    people = _People()
    for rows in _batches(session):
        start = builder.size
        completed: dict[merkle.Node, bytes] = {}
        absent: set[int] = set()
        for row in rows:
            if row.log_index >= head:
                report.add(
                    row.log_index,
                    "beyond the head",
                    f"an entry at index {row.log_index} lies beyond the log's size {head} "
                    "(added outside the registry)",
                )
                continue
            while builder.size < row.log_index:
                report.add(builder.size, "missing", "no entry has this index (deleted)")
                absent.add(builder.size)
                builder.append(b"\x00" * 32)  # keeps the indices of what follows
            entry = _parsed(row, report)
            completed.update(builder.append(merkle.leaf_hash(row.entry)))
            if builder.size in sizes:
                roots[builder.size] = builder.root()
            if entry is None:
                continue
            _columns(row, entry, makers, codes, roles, report)
            _collect(row.log_index, entry, issued, assays)
            people.collect(row.log_index, entry)
        for index in absent:
            completed.pop((0, index), None)
        _compare_nodes(session, start, builder.size, completed, report)
    report.entries = builder.size
    if builder.size < head:
        report.add(
            builder.size,
            "missing",
            f"the log's head says {head} entries, only {builder.size} are stored (deleted)",
        )
    _certificates(session, issued, head, report)
    _assays(session, assays, head, report)
    people.check(session, head, report)
    return roots


def _batches(session: Session) -> Iterator[list]:
    last = -1
    while True:
        rows = session.execute(
            select(
                Event.log_index,
                Event.entry,
                Event.action,
                Event.occurred_at,
                Event.actor_id,
                Event.actor_role,
                Event.maker_id,
                Event.piece_id,
                Event.certificate_id,
            )
            .where(Event.log_index > last)
            .order_by(Event.log_index)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield [
            SimpleNamespace(**{**row._asdict(), "entry": ledger.stored_bytes(row.entry)})
            for row in rows
        ]
        last = rows[-1].log_index


def _parsed(row, report: Report) -> dict | None:
    try:
        entry = json.loads(row.entry)
        if canonical.dumps(entry) != row.entry:
            raise ValueError("not in RFC 8785 form")
    except (ValueError, TypeError) as exc:
        report.add(row.log_index, "malformed entry", f"the entry is not canonical JSON: {exc}")
        return None
    if not isinstance(entry, dict):
        report.add(row.log_index, "malformed entry", "the entry is not a JSON object")
        return None
    return entry


def _compare_nodes(
    session: Session, start: int, end: int, completed: dict[merkle.Node, bytes], report: Report
) -> None:
    """Every node the entries [start, end) complete must be stored as computed."""
    if not completed:
        return
    stored = {}
    for level in {level for level, _ in completed}:
        first, last = start >> level, (end >> level) + 1
        stored.update(
            ((level, index), value)
            for index, value in session.execute(
                select(LogNode.index, LogNode.hash).where(
                    LogNode.level == level, LogNode.index >= first, LogNode.index <= last
                )
            )
        )
    for (level, index), value in sorted(completed.items()):
        if stored.get((level, index)) != value:
            first_leaf = index << level
            kind = "altered entry" if level == 0 else "altered tree"
            what = (
                "the entry is not the one the tree holds (edited, reordered or replaced)"
                if level == 0
                else f"the tree's node ({level}, {index}) does not match the entries "
                f"{first_leaf} to {first_leaf + (1 << level) - 1}"
            )
            if level == 0 or not report.problems:
                report.add(first_leaf, kind, what)
    # Nodes stored beyond the entries (a forged tree) are caught by the checkpoints' roots.


def _columns(row, entry: dict, makers, codes, roles, report: Report) -> None:
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
                "record differs",
                f"the event row's {name} is {found[name]!r}, the entry says {value!r}",
            )
    if actor.get("id") is not None and roles.get(actor["id"]) != actor.get("role"):
        report.add(row.log_index, "record differs", "the actor's account has another role")


@dataclass
class _People:
    """What the log says of makers, accounts, tokens, pieces and photos, matched with
    their rows: an account or token added by hand (a back door), a role raised, a token
    revoked then revived, a maker's mark or a piece's metal changed, a photo swapped
    under its name: each is a record the log does not vouch for."""

    makers: dict[str, _Logged] = field(default_factory=dict)
    accounts: dict[str, _Logged] = field(default_factory=dict)
    tokens: dict[str, _Logged] = field(default_factory=dict)
    pieces: dict[int, _Logged] = field(default_factory=dict)
    photos: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    passwords: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    def collect(self, index: int, entry: dict) -> None:
        action, data = entry.get("action"), _data(entry)
        if action == ledger.Action.MAKER_ADMITTED:
            self.makers[entry.get("maker")] = _Logged(index, entry)
        elif action == ledger.Action.ACCOUNT_CREATED:
            self.accounts[data.get("account")] = _Logged(index, entry)
        elif action == ledger.Action.ACCOUNT_PASSWORD_SET:
            self.passwords[data.get("account")] = (index, data.get("password"))
        elif action == ledger.Action.TOKEN_CREATED:
            self.tokens[data.get("prefix")] = _Logged(index, entry)
        elif action == ledger.Action.TOKEN_REVOKED and data.get("prefix") in self.tokens:
            self.tokens[data["prefix"]].ended.append((index, entry))
        elif action == ledger.Action.PIECE_REGISTERED:
            self.pieces[entry.get("piece")] = _Logged(index, entry)
        elif action == ledger.Action.PIECE_PHOTO_SET:
            self.photos[entry.get("piece")] = (index, data.get("sha256"))
        elif action == ledger.Action.PIECE_PHOTO_REMOVED:
            self.photos[entry.get("piece")] = (index, None)

    def check(self, session: Session, head: int, report: Report) -> None:
        for maker in session.scalars(select(Maker).order_by(Maker.id)):
            logged = self.makers.get(maker.slug)
            if logged is None:
                report.add(head, "unlogged record", f"maker {maker.slug} was never admitted")
            elif _data(logged.entry) != makers_service.admission(maker):
                report.add(logged.index, "record differs", f"maker {maker.slug} was altered")
        emails = {}
        for account in session.scalars(select(Account).order_by(Account.id)):
            digest = ledger.digest(account.email)
            emails[account.id] = digest
            logged = self.accounts.get(digest)
            if logged is None:
                report.add(head, "unlogged record", f"account {account.id} was never created")
                continue
            said = (_data(logged.entry).get("role"), logged.entry.get("maker"))
            if said != (account.role, account.maker_slug):
                report.add(
                    logged.index,
                    "record differs",
                    f"account {account.id}'s role or maker is not the one it was created with",
                )
            index, password = self.passwords.get(digest, (logged.index, None))
            if password != accounts_service.password_digest(account):
                report.add(
                    index,
                    "record differs",
                    f"account {account.id}'s password is not the one last set through the registry",
                )
        for token in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            logged = self.tokens.get(token.prefix)
            if logged is None:
                report.add(head, "unlogged record", f"token {token.prefix} was never created")
                continue
            if _data(logged.entry).get("account") != emails.get(token.account_id):
                report.add(logged.index, "record differs", f"token {token.prefix} changed hands")
            if logged.ended and token.revoked_at is None:
                report.add(
                    logged.ended[0][0],
                    "record differs",
                    f"token {token.prefix} was revoked; the database lets it in again",
                )
        self._pieces(session, head, report)

    def _pieces(self, session: Session, head: int, report: Report) -> None:
        pieces = session.execute(
            select(Piece, Photo.sha256).outerjoin(Photo, Piece.photo_id == Photo.id)
        )
        # What a piece's current certificate signs (its bytes are held to the log above).
        signed = dict(
            session.execute(
                select(Certificate.piece_id, Certificate.payload).where(
                    Certificate.status != "superseded"
                )
            ).all()
        )
        for piece, photo in pieces:
            logged = self.pieces.get(piece.id)
            if logged is None:
                report.add(head, "unlogged record", f"piece {piece.id} was never registered")
                continue
            data = _data(logged.entry)
            # Corrections by reissue may change weight, stones, UIN, title, description;
            # what a registration fixes for good is checked here.
            fixed = {k: data.get(k) for k in ("reference", "kind", "metal", "fineness")}
            if fixed != {k: getattr(piece, k) for k in fixed}:
                report.add(logged.index, "record differs", f"piece {piece.id} was altered")
            if logged.entry.get("maker") != piece.maker.slug:
                report.add(logged.index, "record differs", f"piece {piece.id} changed makers")
            if piece.id in signed:
                _as_signed(piece, signed[piece.id], logged.index, report)
            index, sha = self.photos.get(piece.id, (logged.index, None))
            if photo != sha:
                report.add(index, "record differs", f"piece {piece.id}'s photo is not the one set")
        for photo_id, sha, data in session.execute(select(Photo.id, Photo.sha256, Photo.data)):
            if hashlib.sha256(data).hexdigest() != sha:
                report.add(head, "record differs", f"photo {photo_id}'s image is not {sha}")


def _as_signed(piece: Piece, payload: bytes, index: int, report: Report) -> None:
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
                "record differs",
                f"piece {piece.id}'s {name} is not what its certificate signs",
            )


def _collect(index: int, entry: dict, issued: dict, assays: dict) -> None:
    action, data = entry.get("action"), _data(entry)
    code = entry.get("certificate")
    if action == ledger.Action.CERTIFICATE_ISSUED and code:
        issued[code] = _Logged(index, entry)
    elif action in (ledger.Action.CERTIFICATE_REVOKED, ledger.Action.CERTIFICATE_SUPERSEDED):
        if code in issued:
            issued[code].ended.append((index, entry))
    elif action in (ledger.Action.ASSAY_PASSED, ledger.Action.ASSAY_FAILED):
        # Entries written before the log named assays by id are matched by piece, in order.
        key = data["assay"] if "assay" in data else ("piece", entry.get("piece"))
        assays.setdefault(key, []).append(_Logged(index, entry))


def _data(entry: dict) -> dict:
    data = entry.get("data")
    return data if isinstance(data, dict) else {}


def _certificates(session: Session, issued: dict[str, _Logged], head: int, report) -> None:
    rows = session.scalars(select(Certificate).order_by(Certificate.id))
    seen = set()
    for certificate in rows:
        report.certificates += 1
        seen.add(certificate.code)
        logged = issued.get(certificate.code)
        if logged is None:
            report.add(
                head,
                "unlogged record",
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
                    "record differs",
                    f"certificate {certificate.code}'s {name} is not the one issued",
                )
        _status(certificate, logged, report)
    for code, logged in issued.items():
        if code not in seen:
            report.add(
                logged.index, "missing record", f"certificate {code} was issued; its row is gone"
            )


def _status(certificate: Certificate, logged: _Logged, report: Report) -> None:
    status, revocation, index = "valid", None, logged.index
    for index, entry in logged.ended:
        if entry["action"] == ledger.Action.CERTIFICATE_SUPERSEDED:
            status = "superseded"
        elif status == "valid":
            status, revocation = "revoked", (index, entry)
    if certificate.status != status:
        report.add(
            index,
            "record differs",
            f"certificate {certificate.code} is {certificate.status} in the database; "
            f"the log says {status}",
        )
    if revocation is None:
        if certificate.revoked_at is not None:
            report.add(
                logged.index,
                "record differs",
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
            "record differs",
            f"certificate {certificate.code}'s revocation is not the one the log recorded",
        )


def _assays(session: Session, assays: dict[object, list[_Logged]], head: int, report) -> None:
    for assay in session.scalars(select(AssayRecord).order_by(AssayRecord.id)):
        report.assays += 1
        found = assays.get(assay.id) or assays.get(("piece", assay.piece_id))
        if not found:
            report.add(head, "unlogged record", f"assay {assay.id} is stored; the log never saw it")
            continue
        logged = found.pop(0)
        entry, data = logged.entry, _data(logged.entry)
        stored = {
            "action": f"assay:{assay.result}",
            "at": ledger.entry_time(assay.attested_at),
            "piece": assay.piece_id,
            "actor": assay.inspector_id,
            "data": assays_service.attestation(assay),
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
                    "record differs",
                    f"assay {assay.id}'s {name} is not the one the log recorded",
                )
                break
    for key, left in assays.items():
        for logged in left:
            what = f"assay {key}" if isinstance(key, int) else f"an assay of piece {key[1]}"
            report.add(logged.index, "missing record", f"{what} was attested; its row is gone")


def _checkpoints(
    session: Session,
    ring: keys.KeyRing,
    origin: str,
    stored: list[Checkpoint],
    roots: dict[int, bytes],
    report: Report,
) -> None:
    public = checkpoints.public_keys(ring)
    previous: Checkpoint | None = None
    for checkpoint in stored:
        report.checkpoints += 1
        where = max(checkpoint.tree_size - 1, 0)
        try:
            opened = note.open_checkpoint(checkpoint.note, public)
        except note.NoteError as exc:
            report.add(where, "checkpoint", f"checkpoint {checkpoint.id}: {exc}")
            continue
        stored = (checkpoint.tree_size, checkpoint.root_hash, checkpoint.kid, posix(checkpoint))
        if (opened.size, opened.root, opened.kid, opened.timestamp) != stored:
            report.add(where, "checkpoint", f"checkpoint {checkpoint.id} differs from its note")
        if opened.origin != origin:
            report.add(
                where, "checkpoint", f"checkpoint {checkpoint.id} is of log {opened.origin!r}"
            )
        # Judged by what the note's signatures say, not by columns anyone could edit.
        signed_at = datetime.fromtimestamp(opened.timestamp or 0, UTC)
        if opened.timestamp is None or not ring.get(opened.kid).valid_at(signed_at):
            report.add(
                where,
                "checkpoint",
                f"checkpoint {checkpoint.id} is signed by a key not trusted at its time",
            )
        if roots.get(checkpoint.tree_size) != opened.root:
            report.add(
                where,
                "checkpoint",
                f"the signed checkpoint {checkpoint.id} of {checkpoint.tree_size} entries has "
                "another root than the stored entries: entries up to it were changed",
            )
        if previous is not None:
            _consistent(session, previous, checkpoint, report)
        previous = checkpoint


def posix(checkpoint: Checkpoint) -> int:
    return int(checkpoint.made_at.timestamp())


def _consistent(session: Session, older: Checkpoint, newer: Checkpoint, report: Report) -> None:
    where = max(newer.tree_size - 1, 0)
    if newer.tree_size < older.tree_size:
        report.add(where, "checkpoint", f"checkpoint {newer.id} is smaller than the one before")
        return
    if older.tree_size == 0:
        return
    try:
        proof = tree.consistency_proof(session, older.tree_size, newer.tree_size)
        merkle.verify_consistency(
            older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, proof
        )
    except (merkle.ProofError, RegistryError) as exc:  # RegistryError: a node is missing
        report.add(
            where,
            "checkpoint",
            f"checkpoints {older.id} and {newer.id} are not consistent: {exc}",
        )
