"""Pieces: registration by makers, and who may see which."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry import codes, db, makers
from registry.errors import Conflict, Forbidden, NotFound
from registry.log import ledger, tree
from registry.models import Account, Certificate, Maker, Piece, utcnow
from schemas import common
from schemas.standards import EventType, PieceStatus, Role


def register(
    session: Session, maker: Maker, data: dict[str, Any], *, actor: Account | None
) -> Piece:
    """Register a piece for `maker`; it then waits for assay.

    `data` is a loaded PieceIn. Raises Conflict for a reference the maker already used,
    a state UIN already registered, or a suspended maker. The caller commits.
    """
    registered = register_many(session, maker, [data], actor=actor)[0]
    if isinstance(registered, Conflict):
        raise registered
    piece = session.get(Piece, registered)
    assert piece is not None  # noqa: S101 - stored just now, in this transaction
    return piece


def register_many(
    session: Session, maker: Maker, rows: Sequence[dict[str, Any]], *, actor: Account | None
) -> list[int | Conflict]:
    """Register pieces for `maker` together, as `register` registers one: the references
    and UINs checked in one read each, the pieces stored by one insert, their entries
    appended together (ledger.append_many). Each row gets its piece's id, or the Conflict
    that refuses it alone (a reference or UIN already stored, or used by an earlier row).

    `rows` are loaded PieceIns. Raises Conflict for a suspended maker. The caller commits;
    a reference or UIN taken by a concurrent write after the check fails the insert
    (IntegrityError), and the caller's transaction with it.
    """
    makers.active(maker)
    # The log's head first, as every writer takes it: a piece inserted before the head
    # was locked could deadlock with an import holding the head (PostgreSQL).
    tree.lock(session)
    session.flush()
    references = {data["reference"] for data in rows}
    uins = {data["uin"] for data in rows if data.get("uin")}
    taken_references = set(
        session.scalars(
            select(Piece.reference).where(
                Piece.maker_id == maker.id, Piece.reference.in_(references)
            )
        )
    )
    taken_uins = (
        set(session.scalars(select(Piece.uin).where(Piece.uin.in_(uins)))) if uins else set()
    )
    outcomes: list[dict[str, Any] | Conflict] = []
    registered_at = utcnow()
    for data in rows:
        reference, uin = data["reference"], data.get("uin")
        if reference in taken_references:
            outcomes.append(
                Conflict(
                    f"You already registered a piece with reference {reference!r}.",
                    errors={"reference": ["Already used by another of your pieces."]},
                )
            )
            continue
        if uin and uin in taken_uins:
            outcomes.append(
                Conflict(
                    f"The state UIN {uin} is already registered to another piece.",
                    errors={"uin": ["Already registered."]},
                )
            )
            continue
        taken_references.add(reference)
        if uin:
            taken_uins.add(uin)
        outcomes.append(
            {
                "maker_id": maker.id,
                "reference": reference,
                "kind": data["kind"],
                "title": data["title"],
                "description": data.get("description"),
                "metal": data["metal"],
                "fineness": data["fineness"],
                "weight_cg": centigrams(data["weight_g"]),
                "stones": [stone_json(s) for s in data.get("stones", [])],
                "uin": uin,
                "status": PieceStatus.AWAITING_ASSAY,
                "registered_at": registered_at,
                "registered_by_id": actor.id if actor else None,
                "photo_id": None,
            }
        )
    new = [values for values in outcomes if isinstance(values, dict)]
    if not new:
        return [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    # Ids drawn first: an insert RETURNING them goes a row at a time on SQLite.
    for values, piece_id in zip(new, db.new_ids(session, Piece, len(new)), strict=True):
        values["id"] = piece_id
    db.insert_rows(session, Piece, new)
    ledger.append_many(
        session,
        [
            ledger.Record(
                EventType.PIECE_REGISTERED,
                maker=maker,
                piece_id=values["id"],
                data=registration(session, values),
            )
            for values in new
        ],
        actor=actor,
    )
    return [outcome["id"] if isinstance(outcome, dict) else outcome for outcome in outcomes]


#: A piece its maker may still correct or withdraw: not certified, and not withdrawn.
_UNCERTIFIED = (PieceStatus.AWAITING_ASSAY, PieceStatus.ASSAY_FAILED)


def correct(session: Session, piece_id: int, data: dict[str, Any], *, actor: Account) -> Piece:
    """Correct the declaration of a piece not yet certified: every field of `data` (a
    loaded PieceIn) replaces the registered one. A piece that failed its assay goes back
    to wait for one, corrected. The photo stays.

    Raises NotFound for a piece not the actor's maker's; Conflict for a certified, revoked
    or withdrawn piece (a certificate is corrected by an inspector's reissue), for a
    reference or state UIN another piece has, and for a suspended maker. The caller
    commits."""
    piece = _own(session, piece_id, actor)
    makers.active(piece.maker)
    _still_uncertified(piece)
    reference, uin = data["reference"], data.get("uin")
    taken = select(Piece.id).where(
        Piece.maker_id == piece.maker_id, Piece.reference == reference, Piece.id != piece.id
    )
    if session.scalar(taken) is not None:
        raise Conflict(
            f"You already registered a piece with reference {reference!r}.",
            errors={"reference": ["Already used by another of your pieces."]},
        )
    if uin and session.scalar(select(Piece.id).where(Piece.uin == uin, Piece.id != piece.id)):
        raise Conflict(
            f"The state UIN {uin} is already registered to another piece.",
            errors={"uin": ["Already registered."]},
        )
    piece.reference = reference
    piece.kind = data["kind"]
    piece.title = data["title"]
    piece.description = data.get("description")
    piece.metal = data["metal"]
    piece.fineness = data["fineness"]
    piece.weight_cg = centigrams(data["weight_g"])
    piece.stones = [stone_json(s) for s in data.get("stones", [])]
    piece.uin = uin
    piece.status = PieceStatus.AWAITING_ASSAY
    ledger.append(
        session,
        EventType.PIECE_CORRECTED,
        actor=actor,
        maker=piece.maker,
        piece=piece,
        data=registration(session, piece),
    )
    return piece


def withdraw(session: Session, piece_id: int, *, actor: Account) -> Piece:
    """Withdraw a piece not yet certified: it is never assayed, and leaves the inspectors'
    queue; its registration stays in the log, and so does its reference. Raises NotFound
    for a piece not the actor's maker's, Conflict for one certified, revoked or already
    withdrawn. The caller commits."""
    piece = _own(session, piece_id, actor)
    _still_uncertified(piece)
    piece.status = PieceStatus.WITHDRAWN
    ledger.append(
        session, EventType.PIECE_WITHDRAWN, actor=actor, maker=piece.maker, piece=piece, data={}
    )
    return piece


def _own(session: Session, piece_id: int, actor: Account) -> Piece:
    """The maker's own piece, locked (as an attestation locks it, so the two serialise)."""
    if actor.role != Role.MAKER:
        raise Forbidden("Only the maker of a piece corrects or withdraws its declaration.")
    return get(session, piece_id, actor=actor, lock=True)


def _still_uncertified(piece: Piece) -> None:
    if piece.status == PieceStatus.WITHDRAWN:
        raise Conflict(f"Piece {piece.id} was withdrawn by its maker: it can no longer change.")
    if piece.status not in _UNCERTIFIED:
        raise Conflict(
            f"Piece {piece.id} is certified: only an inspector's reissue corrects its "
            "certificate, and only a revocation ends it."
        )


def registration(session: Session, piece: Piece | dict[str, Any]) -> dict:
    """What the log records of a piece's registration, and of each correction of it (of
    a piece, or of the values it is stored with); the state UIN by commitment."""
    fields = ("reference", "kind", "metal", "fineness", "weight_cg", "uin")
    values = piece if isinstance(piece, dict) else {f: getattr(piece, f) for f in fields}
    uin = values["uin"]
    return {
        "reference": values["reference"],
        "kind": values["kind"],
        "metal": values["metal"],
        "fineness": values["fineness"],
        "weight_g": float(Decimal(values["weight_cg"]) / 100),
        "uin": ledger.commitment(session, uin) if uin else None,
    }


def _matching(text: str):
    """Pieces whose code, UIN, reference or title the searched text names.

    The text is read as stored values were (schemas.common.clean): a reference searched
    with a non-breaking hyphen or a zero-width space finds the one stored with neither.
    """
    try:
        typed = common.clean(text, identifier=True)
        title = common.clean(text)
    except ValidationError:
        return false()  # control characters: nothing stored holds any
    found = [
        Piece.reference.icontains(typed, autoescape=True),
        Piece.title.icontains(title, autoescape=True),
    ]
    text = typed
    parsed = codes.parse(text)
    if parsed.problem is None:
        coded = select(Certificate.piece_id).where(Certificate.code == parsed.code)
        found.append(Piece.id.in_(coded))
    if text.isdigit() and len(text) == 16:
        found.append(Piece.uin == text)
    return or_(*found)


def centigrams(grams: Decimal) -> int:
    return int(Decimal(grams) * 100)


def stone_json(stone: dict[str, Any]) -> dict[str, Any]:
    """A stone as stored and signed: its type from the vocabulary, a name only for
    `other`, carats as a JSON number."""
    stored = {"type": stone["type"], "count": stone["count"], "carat": float(stone["carat"])}
    if stone.get("name"):
        stored["name"] = stone["name"]
    return stored


def get(session: Session, piece_id: int, *, actor: Account, lock: bool = False) -> Piece:
    """A piece the actor may see: a maker only their own, inspectors and admins all.

    Raises NotFound, for another maker's piece too, in the same words as for an id no
    piece has, so that a guessed id tells nothing. With `lock`, the row is locked for the
    rest of the transaction (serialises attestations of one piece).
    """
    query = select(Piece).where(Piece.id == piece_id)
    if actor.role == Role.MAKER:
        query = query.where(Piece.maker_id == actor.maker_id)
    if lock:
        query = query.with_for_update(of=Piece)
    piece = session.scalar(query)
    if piece is None:
        raise NotFound(f"No piece {piece_id}.")
    return piece


def counts(session: Session, maker: Maker) -> dict[str, int]:
    """How many of the maker's pieces are in each status (every status named)."""
    found = dict(
        session.execute(
            select(Piece.status, func.count())
            .where(Piece.maker_id == maker.id)
            .group_by(Piece.status)
        ).all()
    )
    return {status: found.get(status, 0) for status in PieceStatus}


def by_ids(session: Session, ids: Sequence[int]) -> dict[int, Piece]:
    """The pieces of these ids that exist, by id: those of a batch's report."""
    return {piece.id: piece for piece in session.scalars(select(Piece).where(Piece.id.in_(ids)))}


def awaiting_by_maker(session: Session) -> list[tuple[Maker, int]]:
    """The makers whose pieces await assay, with how many each: the batches an inspector
    may attest, by the makers' names."""
    waiting = (
        select(Piece.maker_id, func.count().label("count"))
        .where(Piece.status == PieceStatus.AWAITING_ASSAY)
        .group_by(Piece.maker_id)
        .subquery()
    )
    query = select(Maker, waiting.c.count).join(waiting, waiting.c.maker_id == Maker.id)
    return [(maker, count) for maker, count in session.execute(query.order_by(Maker.name_en))]


def listing(
    session: Session,
    *,
    actor: Account,
    status: str | None = None,
    maker_slug: str | None = None,
    text: str | None = None,
    newest_first: bool = False,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[Piece], int | None]:
    """A page of pieces the actor may see, in registration order (oldest first, or
    newest first), and the cursor of the next page.

    `text` finds a piece by its certificate code (typed as printed, or leniently), its
    state UIN, or a part of its reference or title.
    """
    # Each piece shows its current certificate: load them all in one more query.
    order = Piece.id.desc() if newest_first else Piece.id
    query = (
        select(Piece)
        .options(selectinload(Piece.certificates), selectinload(Piece.photo))
        .order_by(order)
        .limit(limit + 1)
    )
    if actor.role == Role.MAKER:
        query = query.where(Piece.maker_id == actor.maker_id)
    if maker_slug:
        query = query.join(Piece.maker).where(Maker.slug == maker_slug)
    if status:
        query = query.where(Piece.status == status)
    if text and text.strip():
        query = query.where(_matching(text.strip()))
    if after is not None:
        query = query.where(Piece.id < after if newest_first else Piece.id > after)
    items = list(session.scalars(query).unique())
    next_after = items[limit - 1].id if len(items) > limit else None
    return items[:limit], next_after
