"""Assay attestation: the inspector's statement that issues, or withholds, a certificate."""

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

import keys
from registry import certificates, chunks, codes, db, pieces
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, RegistryError
from registry.log import checkpoints, events, ledger, tree
from registry.models import Account, AssayRecord, NewAssay, Piece, utcnow
from schemas.assays import AssayBatchItem, AssayIn
from schemas.common import MAX_ID
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
    _inspector(actor)
    piece = pieces.get(session, piece_id, actor=actor, lock=True)
    inspectorate = _checked(piece, data, issuer)
    assay = AssayRecord(piece=piece, **_record(data, inspectorate, actor, utcnow()))
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


@dataclass(frozen=True)
class Attested:
    """A piece of a batch as attested: its assay's id, and its certificate's code when
    it passed."""

    piece_id: int
    assay_id: int
    result: str
    certificate: str | None


def attest_many(
    session: Session,
    ring: keys.KeyRing,
    batch: Sequence[tuple[int, dict[str, Any]]],
    *,
    issuer: certificates.Issuer,
    actor: Account,
) -> list[Attested | RegistryError]:
    """Attest a batch of pieces, each with what was found in it (a loaded AssayIn), as
    `attest` attests one, together: the pieces locked and read at once, the assays stored
    by one insert, the certificates of the passes signed and stored together
    (certificates.issue_many), every entry appended together, in the batch's order (each
    piece's attestation, then its certificate). Each piece gets its outcome, or the error
    that refuses it alone: one unknown, not awaiting assay, named twice, or whose
    findings do not hold.

    Raises Forbidden unless the actor is an inspector. The caller commits: every piece
    that was not refused is stored, or none.
    """
    _inspector(actor)
    tree.lock(session)  # the head first, as every writer takes it
    wanted = [piece_id for piece_id, _ in batch]
    found = {
        piece.id: piece
        for piece in session.scalars(
            select(Piece).where(Piece.id.in_(wanted)).with_for_update(of=Piece)
        )
    }
    attested_at = utcnow()
    outcomes: list[tuple[Piece, NewAssay] | RegistryError] = []
    seen: set[int] = set()
    for piece_id, data in batch:
        piece = found.get(piece_id)
        try:
            if piece is None:
                raise NotFound(f"No piece {piece_id}.")
            if piece_id in seen:
                raise Conflict(f"Piece {piece_id} is named twice in the batch; attest it once.")
            inspectorate = _checked(piece, data, issuer)
        except RegistryError as exc:
            outcomes.append(exc)
            continue
        seen.add(piece_id)
        outcomes.append(
            (
                piece,
                NewAssay(piece_id=piece.id, **_record(data, inspectorate, actor, attested_at)),
            )
        )
    taken = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    if not taken:
        return [outcome for outcome in outcomes if isinstance(outcome, RegistryError)]
    for (_, assay), assay_id in zip(
        taken, db.new_ids(session, AssayRecord, len(taken)), strict=True
    ):
        assay.id = assay_id
    columns = ("id", "piece_id", *_COLUMNS)
    db.insert_rows(
        session, AssayRecord, [{c: getattr(assay, c) for c in columns} for _, assay in taken]
    )
    passes = [(p, a) for p, a in taken if a.result == AssayResult.PASSED]
    issued_at = checkpoints.now(session).replace(microsecond=0)
    issued = certificates.issue_many(session, ring, passes, issuer=issuer, issued_at=issued_at)
    by_assay = {certificate.assay_id: certificate for certificate in issued}
    records = []
    for piece, assay in taken:
        certificate = by_assay.get(assay.id)
        records.append(
            ledger.Record(
                EventType.ASSAY_PASSED if certificate else EventType.ASSAY_FAILED,
                maker=piece.maker,
                piece_id=piece.id,
                data=events.attestation(session, assay),
                at=assay.attested_at,
            )
        )
        if certificate is None:
            continue
        records.append(
            ledger.Record(
                EventType.CERTIFICATE_ISSUED,
                maker=piece.maker,
                piece_id=piece.id,
                certificate_id=certificate.id,
                certificate_code=certificate.code,
                data=certificates.issuance(certificate),
                at=issued_at,
            )
        )
    _set_statuses(
        session,
        {
            piece: PieceStatus.CERTIFIED if assay.id in by_assay else PieceStatus.ASSAY_FAILED
            for piece, assay in taken
        },
    )
    # The certificates go in first (their entries name them), sealed after entries that
    # land where the log's head, locked since the start, says they will.
    first = tree.size(session)
    issue_at = {
        record.certificate_id: first + offset
        for offset, record in enumerate(records)
        if record.certificate_id is not None
    }
    certificates.store_issued(session, issued, [issue_at[c.id] for c in issued])
    if ledger.append_many(session, records, actor=actor)[:1] != [first]:
        raise RuntimeError("the log's head moved while it was locked")  # never: it is locked
    results: list[Attested | RegistryError] = []
    for outcome in outcomes:
        if isinstance(outcome, RegistryError):
            results.append(outcome)
            continue
        piece, assay = outcome
        certificate = by_assay.get(assay.id)
        results.append(
            Attested(piece.id, assay.id, assay.result, certificate.code if certificate else None)
        )
    return results


def attest_batch(
    session: Session,
    ring: keys.KeyRing,
    items: Sequence[Any],
    *,
    defaults: dict[str, Any],
    issuer: certificates.Issuer,
    actor: Account,
    max_pieces: int,
    chunk: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Attest a batch as an inspector sends it: each item a piece's id with what was
    found in it, `defaults` filling in what the items leave out (a group tested
    together). Each item is validated and attested, or refused, on its own
    (`attest_many`), committed in chunks (registry/chunks.py): yields the report so far
    after each commit, the last covering every item. Commits, as an import does.

    Raises Forbidden unless the actor is an inspector, and InvalidInput, storing nothing,
    for more than `max_pieces` items or `defaults` that no attestation could hold. A
    failure of the database after the first chunk ends the batch: the chunks before it
    stay stored, and the report says which pieces were not.
    """
    _inspector(actor)
    if len(items) > max_pieces:
        raise InvalidInput(
            f"A batch may attest at most {max_pieces} pieces; send the rest in another.",
            errors={"pieces": [f"At most {max_pieces} pieces."]},
        )
    try:
        # Findings complete in themselves: an item that names its piece alone takes them
        # as they are, without validating them again for every piece.
        shared: dict[str, Any] | None = AssayIn().load(defaults)
    except ValidationError:
        shared = None
        try:
            AssayIn(partial=True).load(defaults)  # what is left out, the items give
        except ValidationError as exc:
            raise InvalidInput(
                "The batch's shared findings do not hold; correct them and send it again.",
                errors={"defaults": exc.messages},
            ) from exc
    schema = AssayBatchItem()

    def write(part: Sequence[tuple[int, Any]]) -> list[dict[str, Any]]:
        entries, loaded = [], []
        for number, item in part:
            entry = _batch_entry(number, item)
            entries.append(entry)
            try:
                if not isinstance(item, dict):
                    raise ValidationError("Each piece is an object with its piece_id.")
                named = entry["piece_id"]
                plain = named is not None and 0 < named <= MAX_ID and item.keys() == {"piece_id"}
                if shared is not None and plain:
                    data = {**shared, "piece_id": item["piece_id"]}
                else:
                    data = schema.load({**defaults, **item})
            except ValidationError as exc:
                messages = exc.messages
                entry["errors"] = messages if isinstance(messages, dict) else {"_schema": messages}
                continue
            loaded.append((entry, data))
        outcomes = attest_many(
            session, ring, [(d["piece_id"], d) for _, d in loaded], issuer=issuer, actor=actor
        )
        for (entry, _), outcome in zip(loaded, outcomes, strict=True):
            if isinstance(outcome, RegistryError):
                entry["errors"] = outcome.errors or {"_schema": [outcome.detail]}
            else:
                entry["status"] = outcome.result
                entry["certificate"] = (
                    codes.printed(outcome.certificate) if outcome.certificate else None
                )
        return entries

    numbered = list(enumerate(items, start=1))
    for entries in chunks.committed(
        session, numbered, write, unstored=_not_stored, most=chunk, what="batch of attestations"
    ):
        counts = Counter(entry["status"] for entry in entries)
        yield {
            "passed": counts[AssayResult.PASSED],
            "failed": counts[AssayResult.FAILED],
            "rejected": counts[_REJECTED],
            "pieces": entries,
        }


_REJECTED = "rejected"


def _batch_entry(number: int, item: Any) -> dict[str, Any]:
    piece_id = item.get("piece_id") if isinstance(item, dict) else None
    return {
        "item": number,
        "piece_id": piece_id if type(piece_id) is int else None,
        "status": _REJECTED,
        "certificate": None,
        "errors": {},
    }


def _not_stored(rest: Sequence[tuple[int, Any]], failed: Sequence[tuple[int, Any]]) -> list[dict]:
    first, last = failed[0][0], failed[-1][0]
    reason = (
        f"Not stored: the database failed on items {first}-{last}, so the batch stopped "
        "there; send this piece again."
    )
    return [
        {**_batch_entry(number, item), "errors": {"_schema": [reason]}} for number, item in rest
    ]


def _set_statuses(session: Session, statuses: dict[Piece, PieceStatus]) -> None:
    """Store the pieces' new statuses at once (db.set_column), and set them on the pieces
    as stored: the session's flush would write them a row at a time."""
    db.set_column(
        session, Piece, "status", {piece.id: status.value for piece, status in statuses.items()}
    )
    for piece, status in statuses.items():
        set_committed_value(piece, "status", status.value)


#: What an AssayRecord holds of the findings and of who attested them.
_COLUMNS = (
    "inspector_id",
    "result",
    "metal",
    "fineness",
    "assay_mark",
    "inspectorate",
    "notes",
    "attested_at",
)


def _inspector(actor: Account) -> None:
    if actor.role != Role.INSPECTOR:
        raise Forbidden("Only an assay inspector can attest a piece.")


def _record(
    data: dict[str, Any],
    inspectorate: certificates.Inspectorate,
    actor: Account,
    attested_at: datetime,
) -> dict[str, Any]:
    return {
        "inspector_id": actor.id,
        "result": data["result"],
        "metal": data["metal"],
        "fineness": data["fineness"],
        "assay_mark": data["assay_mark"],
        "inspectorate": inspectorate.en,
        "notes": data.get("notes"),
        "attested_at": attested_at.replace(microsecond=0),
    }


def _checked(
    piece: Piece, data: dict[str, Any], issuer: certificates.Issuer
) -> certificates.Inspectorate:
    """The inspectorate an attestation names, once what it found of the piece holds:
    raises Conflict for a piece not awaiting assay, InvalidInput for findings a pass
    cannot have or an inspectorate the registry does not know."""
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
    return inspectorate


def latest(session: Session, piece_id: int) -> AssayRecord | None:
    """A piece's most recent assay: after a failure, what the inspector found and noted."""
    query = select(AssayRecord).where(AssayRecord.piece_id == piece_id)
    return session.scalar(query.order_by(AssayRecord.id.desc()).limit(1))
