"""The stored checkpoints checked: each signature, its root, and each against the last.

A checkpoint's note must open under a key of the registry trusted at the note's own
time (C2SP signed-note, keys/note.py), say what its columns say, name this log, and hold
the root that the entries make at its size (from tree.py); each must extend the one
before, by a consistency proof over the stored nodes (RFC 9162 §2.1.4).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

import keys
from keys import note
from registry.errors import RegistryError
from registry.log import check, checkpoints, merkle, tree
from registry.models import Checkpoint


def verify(
    session: Session,
    ring: keys.KeyRing,
    origin: str,
    stored: list[Checkpoint],
    roots: dict[int, bytes],
    report: check.Report,
) -> None:
    """Check every stored checkpoint, oldest first, against the entries' `roots`."""
    public = checkpoints.public_keys(ring)
    previous: Checkpoint | None = None
    for checkpoint in stored:
        report.checkpoints += 1
        where = max(checkpoint.tree_size - 1, 0)
        try:
            opened = note.open_checkpoint(checkpoint.note, public)
        except note.NoteError as exc:
            report.add(where, check.Kind.CHECKPOINT, f"checkpoint {checkpoint.id}: {exc}")
            continue
        columns = (checkpoint.tree_size, checkpoint.root_hash, checkpoint.kid, posix(checkpoint))
        if (opened.size, opened.root, opened.kid, opened.timestamp) != columns:
            report.add(
                where, check.Kind.CHECKPOINT, f"checkpoint {checkpoint.id} differs from its note"
            )
        if opened.origin != origin:
            report.add(
                where,
                check.Kind.CHECKPOINT,
                f"checkpoint {checkpoint.id} is of log {opened.origin!r}",
            )
        # Judged by what the note's signatures say, not by columns anyone could edit.
        signed_at = datetime.fromtimestamp(opened.timestamp or 0, UTC)
        if (
            opened.timestamp is None
            or opened.kid is None
            or not ring.get(opened.kid).valid_at(signed_at)
        ):
            report.add(
                where,
                check.Kind.CHECKPOINT,
                f"checkpoint {checkpoint.id} is signed by a key not trusted at its time",
            )
        if roots.get(checkpoint.tree_size) != opened.root:
            report.add(
                where,
                check.Kind.CHECKPOINT,
                f"the signed checkpoint {checkpoint.id} of {checkpoint.tree_size} entries has "
                "another root than the stored entries: entries up to it were changed",
            )
        if previous is not None:
            _consistent(session, previous, checkpoint, report)
        previous = checkpoint


def posix(checkpoint: Checkpoint) -> int:
    return int(checkpoint.made_at.timestamp())


def _consistent(
    session: Session, older: Checkpoint, newer: Checkpoint, report: check.Report
) -> None:
    where = max(newer.tree_size - 1, 0)
    if newer.tree_size < older.tree_size:
        report.add(
            where, check.Kind.CHECKPOINT, f"checkpoint {newer.id} is smaller than the one before"
        )
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
            check.Kind.CHECKPOINT,
            f"checkpoints {older.id} and {newer.id} are not consistent: {exc}",
        )
