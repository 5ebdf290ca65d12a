"""Rows stored before the registry proved its own writes get their proofs, at `registry
init` (the one step that reads the keys directory after an upgrade).

An entry is given its MAC only where a checkpoint the registry signed already vouches for
it: below the size of the last checkpoint the signer remembers (or, without that memory,
the newest stored checkpoint a key of ours signed), as a leaf of the stored tree whose
root at that size is the signed one. An entry beyond is left without, and the signer
refuses it until `registry log verify` has been heeded: whatever was written by hand
after the last signature must not be adopted. A certificate's state seal is made from the
row as it stands (registry.certificates.seal_unsealed): before this revision nothing
sealed it, and it is all there is to hold later changes to.
"""

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keys import note
from registry.log import checkpoints, merkle, proofs, tree
from registry.models import Checkpoint, Event

_BATCH = 2_000


@dataclass(frozen=True)
class Adopted:
    entries: int
    #: Entries without a MAC that no signed checkpoint vouches for.
    unproven: int


def entries(session: Session, signer: checkpoints.Signer) -> Adopted:
    """Give the entries stored before proofs their MACs; the caller commits. (The
    certificates' seals: registry.certificates.seal_unsealed.)"""
    keys_ = proofs.of(session)
    vouched = _vouched_size(session, signer)
    adopted = unproven = 0
    while True:
        rows = session.execute(
            select(Event.id, Event.log_index, Event.entry)
            .where(Event.mac.is_(None))
            .order_by(Event.log_index)
            .limit(_BATCH)
            .offset(unproven)
        ).all()
        if not rows:
            break
        inside = [row for row in rows if row.log_index < vouched]
        unproven += len(rows) - len(inside)
        leaves = tree.nodes(session, ((0, row.log_index) for row in inside)) if inside else {}
        for row in inside:
            entry = row.entry.encode() if isinstance(row.entry, str) else bytes(row.entry)
            if leaves[(0, row.log_index)] != merkle.leaf_hash(entry):
                unproven += 1  # not the leaf the signed tree holds: never adopted
                continue
            session.execute(
                update(Event)
                .where(Event.id == row.id)
                .values(mac=keys_.entry_mac(row.log_index, entry))
            )
            adopted += 1
    return Adopted(entries=adopted, unproven=unproven)


def _vouched_size(session: Session, signer: checkpoints.Signer) -> int:
    """The size of the tree a checkpoint of ours signed, whose stored root matches it."""
    last = signer.last_signed()
    if last is None:
        known = checkpoints.public_keys(signer.ring)
        for text in session.scalars(
            select(Checkpoint.note).order_by(Checkpoint.tree_size.desc()).limit(16)
        ):
            try:
                last = note.open_checkpoint(text, known)
                break
            except note.NoteError:
                continue
    if last is None or last.size == 0 or last.size > tree.size(session):
        return 0
    return last.size if tree.root(session, last.size) == last.root else 0
