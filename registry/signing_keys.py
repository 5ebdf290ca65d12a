"""Changes to the registry's signing keys, each recorded as an event.

The key ring lives in files (keys/), the events in the database: the ring changes
first, then the event is appended, and the caller commits. Public key material only
goes into the log: the kid, which is the key's thumbprint.
"""

from datetime import datetime

from sqlalchemy.orm import Session

import keys
from registry.log import checkpoints, ledger, tree
from registry.models import Account
from schemas.standards import EventType


def ensure(session: Session, ring: keys.KeyRing, *, actor: Account | None) -> keys.KeyInfo:
    """The active key, generated (and recorded) when the ring has none."""
    try:
        return ring.active()
    except keys.NoActiveKey:
        return generate(session, ring, actor=actor)


def generate(session: Session, ring: keys.KeyRing, *, actor: Account | None) -> keys.KeyInfo:
    """The first key of an empty ring. Raises keys.KeyRingError when one is active."""
    key = ring.generate()
    ledger.append(session, EventType.KEY_GENERATED, actor=actor, data={"kid": key.kid})
    return key


def rotate(session: Session, ring: keys.KeyRing, *, actor: Account | None) -> keys.KeyInfo:
    """A new active key; the previous one is retired and keeps verifying.

    The log's head is locked first, until the caller commits: rotations racing each
    other then reach the log in the order the ring made them, each naming as retired
    the key the one before it made active.
    """
    tree.size(session, lock=True)
    rotation = ring.replace_active()
    previous = rotation.previous
    ledger.append(
        session,
        EventType.KEY_ROTATED,
        actor=actor,
        data={"kid": rotation.new.kid, "retired": previous.kid if previous else None},
    )
    return rotation.new


def compromise(
    session: Session, ring: keys.KeyRing, kid: str, *, since: datetime, actor: Account | None
) -> keys.KeyInfo:
    """Mark a key compromised from `since`: what it signed from then on is not trusted.

    The cut-off is also placed in the log: every certificate recorded after the newest
    checkpoint signed at or before `since` is not trusted, whatever issue time it carries
    (a clock set back writes earlier times, never earlier positions). An active key
    leaves the ring without one until `rotate`. Raises keys.UnknownKey.
    """
    from_entry = checkpoints.size_signed_by(session, ring, since)
    key = ring.mark_compromised(kid, since=since, from_entry=from_entry)
    marked_since = key.compromised_since
    assert marked_since is not None  # noqa: S101 - the key was just marked compromised
    ledger.append(
        session,
        EventType.KEY_COMPROMISED,
        actor=actor,
        data={
            "kid": kid,
            "since": marked_since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "from_entry": key.compromised_from_entry,
        },
    )
    return key
