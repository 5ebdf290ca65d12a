"""What the log's public API serves: entries, proofs and checkpoints, checked against the
log's size so that a question about a tree that does not exist is a clear refusal."""

import base64
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import checkpoints, ledger, log_tree, merkle
from registry.errors import NotFound, OutOfRange
from registry.models import Checkpoint, Event


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@dataclass(frozen=True)
class Inclusion:
    index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class Consistency:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


def checkpoint(session: Session, *, at_most: int | None = None) -> Checkpoint:
    found = checkpoints.latest(session, at_most=at_most)
    if found is None:
        if at_most is None:
            raise NotFound("The log has no checkpoint yet: one is signed with the first write.")
        raise NotFound(f"No checkpoint was made of a tree of {at_most} entries or fewer.")
    return found


def entries(session: Session, start: int, limit: int) -> tuple[int, list[tuple[int, bytes]]]:
    """(the log's size, [(index, entry bytes)]) from `start`, at most `limit` of them."""
    size = log_tree.size(session)
    if start > size:
        # start == size is an empty page: what a monitor asks for when nothing is new.
        raise OutOfRange(
            f"The log has {size} entries; start {start} is beyond its end.",
            errors={"start": [f"Must be at most {size}."]},
        )
    rows = session.execute(
        select(Event.log_index, Event.entry)
        .where(Event.log_index >= start, Event.log_index < start + limit)
        .order_by(Event.log_index)
    )
    return size, [(index, ledger.stored_bytes(entry)) for index, entry in rows]


def inclusion(session: Session, index: int, tree_size: int | None) -> Inclusion:
    """Entry `index`'s audit path in the tree of `tree_size` (default: the newest
    checkpoint's)."""
    if tree_size is None:
        tree_size = checkpoint(session).tree_size
    _within(session, tree_size, "tree_size")
    if index >= tree_size:
        raise OutOfRange(
            f"Entry {index} is not in the tree of {tree_size} entries.",
            errors={"index": [f"Must be less than tree_size ({tree_size})."]},
        )
    return Inclusion(
        index=index,
        tree_size=tree_size,
        leaf_hash=log_tree.leaf(session, index),
        root_hash=log_tree.root(session, tree_size),
        proof=log_tree.inclusion_proof(session, index, tree_size),
    )


def consistency(session: Session, first: int, second: int) -> Consistency:
    """The proof that the tree of `first` entries is a prefix of the one of `second`."""
    if first > second:
        raise OutOfRange(
            f"first ({first}) is larger than second ({second}): a log only grows.",
            errors={"first": [f"Must be at most second ({second})."]},
        )
    _within(session, second, "second")
    try:
        proof = log_tree.consistency_proof(session, first, second)
    except merkle.ProofError as exc:
        raise OutOfRange(str(exc)) from None
    return Consistency(
        first=first,
        second=second,
        first_root=log_tree.root(session, first),
        second_root=log_tree.root(session, second),
        proof=proof,
    )


def _within(session: Session, tree_size: int, name: str) -> None:
    size = log_tree.size(session)
    if tree_size > size:
        raise OutOfRange(
            f"The log has {size} entries; there is no tree of {tree_size}.",
            errors={name: [f"Must be at most {size}."]},
        )
