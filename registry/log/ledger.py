"""The registry's record of every write, appended in the transaction of the write.

Every service that changes state calls `append` and nothing else writes events. Each
entry is the RFC 8785 form of one event and holds only what is public, plus keyed
commitments to what is not (such as e-mail addresses), because anyone may read the log.
The entry becomes a leaf of the log's Merkle tree (registry/log/tree.py) in the same
transaction, at the next index.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from keys.commitments import CommitmentKey
from registry import db
from registry.log import checkpoints, proofs, tree
from registry.models import Account, Certificate, Event, Maker, Piece
from schemas import canonical
from schemas.standards import SYSTEM_ROLE, EventType

#: How entries name a value by hash: plain SHA-256 (public values, and private ones in
#: entries written before commitments were keyed), or HMAC-SHA256 with the commitment key.
PLAIN, KEYED = "sha256:", "hmac-sha256:"
_COMMITMENT_KEY = "registry.log.commitment_key"


def digest(value: str | bytes) -> str:
    """Plain SHA-256 of a value anyone may hash, such as a certificate's bytes. Never for
    a private value: anyone can test a guess against it (see `commitment`)."""
    return PLAIN + hashlib.sha256(_bytes(value)).hexdigest()


def keep_private(target: sessionmaker | Session, key: CommitmentKey) -> None:
    """Have `target`, a session or every session a maker makes, commit to private values
    with `key`, and prove its entries and certificate states with keys derived from it
    (registry/log/proofs.py)."""
    info = {_COMMITMENT_KEY: key}
    proofs.keep(info, proofs.Proofs(key))
    if isinstance(target, sessionmaker):
        target.configure(info={**target.kw.get("info", {}), **info})
    else:
        target.info.update(info)


def commitment(session: Session, value: str | bytes) -> str:
    """A keyed commitment (HMAC-SHA256) to a private value (an e-mail address, a UIN,
    notes), so the log can refer to it without disclosing it, and only a holder of the
    key directory can check a guess. Raises RuntimeError for a session without the key
    (one not made by a maker given to `keep_private`)."""
    key = session.info.get(_COMMITMENT_KEY)
    if key is None:
        raise RuntimeError("this session has no commitment key (ledger.keep_private)")
    return KEYED + key.commit(_bytes(value))


def committed_as(session: Session, value: str | bytes, said: object) -> str:
    """`value`'s commitment in the form `said` is written in: plain SHA-256 for an entry
    written before commitments were keyed, keyed otherwise. Equal to `said` exactly when
    the entry committed to `value`."""
    if isinstance(said, str) and said.startswith(PLAIN):
        return digest(value)
    return commitment(session, value)


def commitments(session: Session, value: str | bytes) -> tuple[str, str]:
    """Both forms an entry may name `value` by, keyed first: to find it among entries."""
    return commitment(session, value), digest(value)


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def entry_time(moment: datetime) -> str:
    """A time as entries write it: UTC, to the microsecond."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored_bytes(entry: bytes | str) -> bytes:
    """An entry as read back: bytes, even where a hand-made edit stored it as text."""
    return entry.encode() if isinstance(entry, str) else entry


def as_json(entry: bytes) -> bytes:
    """The entry to place in a JSON answer as it is, or, for bytes someone stored by hand
    that are not a JSON object, those bytes as a JSON string (whose hash then fails)."""
    try:
        if isinstance(json.loads(entry, parse_constant=_refuse), dict) and entry.startswith(b"{"):
            return entry
    except ValueError:
        pass
    return json.dumps(entry.decode("utf-8", "replace")).encode()


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def append(
    session: Session,
    action: EventType,
    *,
    actor: Account | None,
    maker: Maker | None = None,
    piece: Piece | None = None,
    certificate: Certificate | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event; the caller's transaction stores it with the write, or neither.

    Its time is never earlier than the newest checkpoint signed (checkpoints.now), and it
    carries the registry's MAC (registry/log/proofs.py), without which it is never signed.
    """
    at = at or checkpoints.now(session)
    session.flush()  # subjects need their ids
    record = Record(
        action,
        maker=maker,
        piece_id=piece.id if piece else None,
        certificate_id=certificate.id if certificate else None,
        certificate_code=certificate.code if certificate else None,
        data=data,
        at=at,
    )
    entry_bytes = _entry(record, actor, at)
    index = tree.append(session, entry_bytes)
    event = Event(**_row(session, record, actor, at, index, entry_bytes))
    session.add(event)
    return event


@dataclass(frozen=True)
class Record:
    """One event of those `append_many` appends together."""

    action: EventType
    maker: Maker | None = None
    piece_id: int | None = None
    certificate_id: int | None = None
    certificate_code: str | None = None
    data: dict[str, Any] | None = None
    #: When it happened, if not when the batch is written.
    at: datetime | None = None


def append_many(
    session: Session,
    records: Sequence[Record],
    *,
    actor: Account | None,
    at: datetime | None = None,
) -> list[int]:
    """Append the events of a batch, in order, as `append` appends one: entries one per
    event, with their MACs, stored in the caller's transaction by one insert, their leaves
    added to the tree together (tree.append_many). Their log indices. The records name
    their subjects by the ids they were stored with."""
    if not records:
        return []
    at = at or checkpoints.now(session)
    entries = [_entry(record, actor, record.at or at) for record in records]
    first = tree.append_many(session, entries)
    db.insert_rows(
        session,
        Event,
        [
            _row(session, record, actor, record.at or at, first + offset, entry_bytes)
            for offset, (record, entry_bytes) in enumerate(zip(records, entries, strict=True))
        ],
    )
    return list(range(first, first + len(records)))


def _entry(record: Record, actor: Account | None, at: datetime) -> bytes:
    return canonical.dumps(
        {
            "action": str(record.action),
            "at": entry_time(at),
            "actor": {"role": actor.role, "id": actor.id} if actor else {"role": SYSTEM_ROLE},
            "maker": record.maker.slug if record.maker else None,
            "piece": record.piece_id,
            "certificate": record.certificate_code,
            "data": record.data or {},
        }
    )


def _row(
    session: Session,
    record: Record,
    actor: Account | None,
    at: datetime,
    index: int,
    entry_bytes: bytes,
) -> dict[str, Any]:
    return {
        "log_index": index,
        "action": str(record.action),
        "occurred_at": at,
        "actor_id": actor.id if actor else None,
        "actor_role": actor.role if actor else SYSTEM_ROLE,
        "maker_id": record.maker.id if record.maker else None,
        "piece_id": record.piece_id,
        "certificate_id": record.certificate_id,
        "entry": entry_bytes,
        "mac": proofs.of(session).entry_mac(index, entry_bytes),
    }
