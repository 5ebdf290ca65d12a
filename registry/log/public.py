"""What the log's public API serves: entries, proofs and checkpoints, checked against the
log's size so that a question about a tree that does not exist is a clear refusal."""

import base64
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry.errors import NotFound, OutOfRange
from registry.log import checkpoints, ledger, merkle, tree
from registry.models import Checkpoint, Event


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@dataclass(frozen=True)
class Inclusion:
    """Entry `index` proved to be in the tree of `tree_size` entries: its leaf, the
    tree's root, and the audit path from one to the other (RFC 9162 §2.1.3.1)."""

    index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    #: None where it was not asked for (a page links to the proof instead).
    proof: list[bytes] | None
    #: The signed checkpoint (C2SP note) of that root, where the answer shows it.
    checkpoint: str | None = None


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
    size = tree.size(session)
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


def inclusion(session: Session, engine: Engine, index: int, tree_size: int | None) -> Inclusion:
    """Entry `index`'s audit path in the tree of `tree_size` (default: the newest
    checkpoint's), with the leaf and the root: all in one read of committed nodes."""
    if tree_size is None:
        tree_size = checkpoint(session).tree_size
    _within(engine, tree_size, "tree_size")
    if index >= tree_size:
        raise OutOfRange(
            f"Entry {index} is not in the tree of {tree_size} entries.",
            errors={"index": [f"Must be less than tree_size ({tree_size})."]},
        )
    ranges = merkle.inclusion_ranges(index, tree_size)
    edge = merkle.edge_nodes(tree_size)
    found = tree.committed_nodes(engine, merkle.needed(ranges) | set(edge) | {(0, index)})
    return Inclusion(
        index=index,
        tree_size=tree_size,
        leaf_hash=found[(0, index)],
        root_hash=merkle.fold([found[node] for node in edge]),
        proof=merkle.assemble(ranges, found),
    )


def consistency(engine: Engine, first: int, second: int) -> Consistency:
    """The proof that the tree of `first` entries is a prefix of the one of `second`,
    with both roots: all in one read of committed nodes."""
    if first > second:
        raise OutOfRange(
            f"first ({first}) is larger than second ({second}): a log only grows.",
            errors={"first": [f"Must be at most second ({second})."]},
        )
    _within(engine, second, "second")
    ranges = merkle.consistency_ranges(first, second)
    edges = [merkle.edge_nodes(first), merkle.edge_nodes(second)]
    found = tree.committed_nodes(engine, merkle.needed(ranges) | set(edges[0]) | set(edges[1]))
    first_root, second_root = (merkle.fold([found[node] for node in edge]) for edge in edges)
    return Consistency(
        first=first,
        second=second,
        first_root=first_root,
        second_root=second_root,
        proof=merkle.assemble(ranges, found),
    )


def _within(engine: Engine, tree_size: int, name: str) -> None:
    size = tree.committed_size(engine)
    if tree_size > size:
        raise OutOfRange(
            f"The log has {size} entries; there is no tree of {tree_size}.",
            errors={name: [f"Must be at most {size}."]},
        )
