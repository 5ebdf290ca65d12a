"""Signed checkpoints of the log: made, stored (every one), found, and checked.

A checkpoint is made on demand (`registry log checkpoint`, POST /api/v1/log/checkpoint),
by a write whose transaction leaves LOG_CHECKPOINT_ENTRIES or more entries outside the
latest checkpoint (made just before it commits, so it covers that write), and by
`registry log checkpoint --every SECONDS` as a timer. Each is signed with the registry's
active key in the C2SP formats of keys/note.py.
"""

import logging

from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from keys import note
from registry import db, log_tree
from registry.errors import Unavailable
from registry.models import Checkpoint, utcnow

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    origin = app.config["LOG_ORIGIN"]
    try:
        note.body(origin, 0, bytes(32))
    except ValueError as exc:
        raise RuntimeError(f"REGISTRY_LOG_ORIGIN {origin!r}: {exc}") from None


def make(session: Session, ring: keys.KeyRing, origin: str) -> Checkpoint:
    """Sign and store a checkpoint of the whole log as it stands; the caller commits.

    Locks the head, so that no append slips between reading the size and signing.
    Raises Unavailable when the ring has no active key.
    """
    size = log_tree.size(session, lock=True)
    root = log_tree.root(session, size)
    return _store(session, ring, origin, size, root)


def _store(session: Session, ring: keys.KeyRing, origin: str, size: int, root: bytes):
    made_at = utcnow().replace(microsecond=0)
    try:
        text, key = note.sign_checkpoint(ring, origin, size, root, int(made_at.timestamp()))
    except keys.KeyRingError as exc:
        raise Unavailable(f"The registry cannot sign a checkpoint right now: {exc}") from exc
    checkpoint = Checkpoint(tree_size=size, root_hash=root, made_at=made_at, kid=key.kid, note=text)
    session.add(checkpoint)
    return checkpoint


def latest(session: Session, *, at_most: int | None = None) -> Checkpoint | None:
    """The newest checkpoint, or the newest of a tree no larger than `at_most`."""
    query = select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)
    if at_most is not None:
        query = query.where(Checkpoint.tree_size <= at_most)
    return session.scalar(query)


_NEWEST = db.Prepared(
    select(Checkpoint.tree_size, Checkpoint.root_hash, Checkpoint.note)
    .order_by(Checkpoint.id.desc())
    .limit(1)
)


def newest(bind) -> dict | None:
    """The newest checkpoint's size, root and note, in one prepared read (for scans)."""
    return _NEWEST.one_or_none(bind)


def public_keys(ring: keys.KeyRing) -> dict[str, bytes]:
    """Every key that may have signed a checkpoint: kid -> raw Ed25519 public key."""
    return {info.kid: note.public_bytes(info.public_jwk) for info in ring.keys()}


def verifier_key(origin: str, info: keys.KeyInfo) -> str:
    return note.verifier_key(origin, note.public_bytes(info.public_jwk))


@sa_event.listens_for(Session, "before_commit")
def _checkpoint_due(session: Session) -> None:
    """Before a transaction that appended commits: a checkpoint when enough entries wait."""
    if not log_tree.appended(session) or not has_app_context():
        return
    every = current_app.config["LOG_CHECKPOINT_ENTRIES"]
    if not every:
        return
    size = log_tree.size(session)  # the head is locked already: this transaction appended
    previous = session.scalar(select(Checkpoint.tree_size).order_by(Checkpoint.id.desc()).limit(1))
    if size - (previous or 0) < every:
        return
    ring = current_app.extensions["registry.keyring"]
    try:
        _store(session, ring, current_app.config["LOG_ORIGIN"], size, log_tree.root(session, size))
    except Unavailable as exc:
        # The write itself stands (a key compromise, recorded while no key is active, must
        # be): the next write or `registry log checkpoint` covers it.
        log.warning("no checkpoint of the log at size %d: %s", size, exc.detail)
