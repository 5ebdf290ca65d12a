"""The registry's record of every write, appended in the transaction of the write.

Every service that changes state calls `append` and nothing else writes events. Each
entry is the RFC 8785 form of one event and holds only what is public, plus SHA-256
hashes of what is not (such as e-mail addresses), because anyone may read the log. The
entry becomes a leaf of the log's Merkle tree (registry/log/tree.py) in the same
transaction, at the next index.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.log import tree
from registry.models import Account, Certificate, Event, Maker, Piece, utcnow
from schemas import canonical
from schemas.standards import SYSTEM_ROLE, EventType


def digest(value: str | bytes) -> str:
    """SHA-256 of a private value, so the log can refer to it without disclosing it."""
    data = value.encode() if isinstance(value, str) else value
    return "sha256:" + hashlib.sha256(data).hexdigest()


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
    """Append one event; the caller's transaction stores it with the write, or neither."""
    at = at or utcnow()
    session.flush()  # subjects need their ids
    entry = {
        "action": str(action),
        "at": entry_time(at),
        "actor": {"role": actor.role, "id": actor.id} if actor else {"role": SYSTEM_ROLE},
        "maker": maker.slug if maker else None,
        "piece": piece.id if piece else None,
        "certificate": certificate.code if certificate else None,
        "data": data or {},
    }
    entry_bytes = canonical.dumps(entry)
    event = Event(
        log_index=tree.append(session, entry_bytes),
        action=str(action),
        occurred_at=at,
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else SYSTEM_ROLE,
        maker_id=maker.id if maker else None,
        piece_id=piece.id if piece else None,
        certificate_id=certificate.id if certificate else None,
        entry=entry_bytes,
    )
    session.add(event)
    return event
