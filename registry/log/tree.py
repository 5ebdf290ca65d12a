"""The transparency log's Merkle tree, stored: its head, its perfect nodes, its proofs.

An append locks the head row (UPDATE … RETURNING: a row lock on PostgreSQL, the write
lock SQLite writers already hold), takes the next index, and stores the leaf and the
perfect nodes it completes: one update, one read of the right edge (none for a later
append in the same transaction) and one insert. A proof or a root is one read of the
O(log n) perfect nodes it is folded from (registry/log/merkle.py). Nothing here passes over
all entries; only `registry log verify` does, on purpose.
"""

import weakref
from collections.abc import Sequence

from sqlalchemy import Connection, and_, bindparam, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import db
from registry.errors import Unavailable
from registry.log import merkle
from registry.models import LogHead, LogNode

_BUILDER = "registry.log.tree.builder"
_APPENDED = "registry.log.tree.appended"
_NO_HEAD = "The log has no head row: run `registry init` to set it up."
_NODE_BATCH = 500  # perfect nodes read per statement (bound parameters stay few)

# The read behind the proof in every verification, prepared once per number of nodes
# (db.Prepared): an exact fit, since SQLite spends as long on a slot left unused.
_SLOTS = 64
_STATEMENTS: dict[int, db.Prepared] = {}
# Perfect nodes never change once stored; those high in the tree are shared by the
# proofs of many entries, so each worker keeps the ones it has read (bounded), per
# database (an engine), since two databases hold two trees.
_CACHED_LEVEL = 8
_CACHED_WIDTH = 1 << _CACHED_LEVEL
_CACHE_LIMIT = 100_000
# Keyed by node, (level, index), and by folded range, (-1, start, end).
_caches: "weakref.WeakKeyDictionary[Engine, dict[tuple, bytes]]" = weakref.WeakKeyDictionary()


def _statement(count: int) -> db.Prepared:
    statement = _STATEMENTS.get(count)
    if statement is None:
        statement = db.Prepared(
            select(LogNode.level, LogNode.index, LogNode.hash).where(
                or_(
                    *(
                        and_(
                            LogNode.level == bindparam(f"l{k}"),
                            LogNode.index == bindparam(f"i{k}"),
                        )
                        for k in range(count)
                    )
                )
            )
        )
        _STATEMENTS[count] = statement
    return statement


def append(session: Session, entry: bytes) -> int:
    """Add an entry's leaf to the tree in the session's transaction; its log index."""
    return append_many(session, [entry])


def append_many(session: Session, entries: Sequence[bytes]) -> int:
    """Add the entries' leaves to the tree, in order, in the session's transaction: one
    update of the head, and the perfect nodes they complete computed together and stored
    in one insert (a chunk of an import or a batch of attestations). The index of the
    first; the others follow it."""
    if not entries:
        return size(session)
    count = len(entries)
    new_size = session.execute(
        update(LogHead)
        .where(LogHead.id == 1)
        .values(size=LogHead.size + count)
        .returning(LogHead.size)
    ).scalar_one_or_none()
    if new_size is None:
        raise Unavailable(_NO_HEAD)
    first = new_size - count
    session.info[_APPENDED] = True
    builder = session.info.get(_BUILDER)
    if builder is None or builder.size != first:
        builder = resume(session, first)
        session.info[_BUILDER] = builder
    completed = [
        {"level": level, "index": i, "hash": value}
        for entry in entries
        for (level, i), value in builder.append(merkle.leaf_hash(entry))
    ]
    db.insert_rows(session, LogNode, completed)
    return first


def resume(bind: Session | Connection, size: int) -> merkle.Builder:
    """A builder holding the right edge of the stored tree of `size` leaves."""
    edge = merkle.edge_nodes(size)
    found = nodes(bind, edge)
    return merkle.Builder(size, [found[node] for node in edge])


def appended_root(session: Session, size: int) -> bytes | None:
    """The root of the tree of `size` entries as this transaction's appends left it, read
    from memory; None when they did not leave it at that size."""
    builder = session.info.get(_BUILDER)
    return builder.root() if builder is not None and builder.size == size else None


def appended(session: Session) -> bool:
    """Whether the session's transaction has appended to the log."""
    return session.info.get(_APPENDED, False)


@sa_event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous) -> None:
    # A rolled-back transaction or savepoint takes its appends with it; on PostgreSQL it
    # also lets go of the head, so others may append before this transaction's next one:
    # the next append reads the edge again rather than trust what this one built.
    session.info.pop(_BUILDER, None)


@sa_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_BUILDER, None)
        session.info.pop(_APPENDED, None)


def size(bind: Session | Connection, *, lock: bool = False) -> int:
    """The number of entries in the log. With `lock`, the head stays locked (appends
    wait) until the transaction ends."""
    if lock:
        value = bind.execute(
            update(LogHead).where(LogHead.id == 1).values(size=LogHead.size).returning(LogHead.size)
        ).scalar_one_or_none()
    else:
        value = bind.execute(select(LogHead.size).where(LogHead.id == 1)).scalar_one_or_none()
    if value is None:
        raise Unavailable(_NO_HEAD)
    return value


def lock(session: Session) -> None:
    """Lock the head until the transaction ends, before it writes anything else.

    For a transaction that appends many times (a chunk of an import): taken first, the
    head is the one lock such writers queue for. An append takes it after the insert of
    its subject, and two imports that each held what the other's next row needed (the
    head, or an uncommitted piece's reference) deadlocked on PostgreSQL.
    """
    size(session, lock=True)


def leaves(bind: Session | Connection, first: int, last: int) -> dict[merkle.Node, bytes]:
    """The stored leaves of entries first to last - 1, as `nodes` returns them, read by
    one range of the key: a list of hundreds of keys was planned as a scan of the whole
    table on PostgreSQL. Raises Unavailable when one is missing."""
    rows = bind.execute(
        select(LogNode.index, LogNode.hash).where(
            LogNode.level == 0, LogNode.index >= first, LogNode.index < last
        )
    )
    found = {(0, index): value for index, value in rows}
    if len(found) != max(last - first, 0):
        missing = next(i for i in range(first, last) if (0, i) not in found)
        raise _missing((0, missing))
    return found


def _missing(missing: merkle.Node) -> Unavailable:
    # The tree in the database is damaged: `registry log verify` says where and how.
    return Unavailable(f"The log's tree is missing node {missing}; run `registry log verify`.")


def nodes(bind: Session | Connection, wanted) -> dict[merkle.Node, bytes]:
    """The stored perfect nodes asked for. Raises Unavailable when one is missing: the
    tree in the database is then damaged, which `registry log verify` reports."""
    wanted = list(wanted)
    found: dict[merkle.Node, bytes] = {}
    for start in range(0, len(wanted), _NODE_BATCH):
        by_level: dict[int, list[int]] = {}
        for level, index in wanted[start : start + _NODE_BATCH]:
            by_level.setdefault(level, []).append(index)
        # One primary-key lookup per node: SQLite scans the whole table for a row-value
        # IN (level, index), hundreds of milliseconds at a million entries.
        rows = bind.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(
                or_(
                    *(
                        and_(LogNode.level == level, LogNode.index.in_(indices))
                        for level, indices in by_level.items()
                    )
                )
            )
        )
        found.update(((level, index), value) for level, index, value in rows)
    missing = [node for node in wanted if node not in found]
    if missing:
        raise _missing(missing[0])
    return found


_SIZE = db.Prepared(select(LogHead.size).where(LogHead.id == 1))


def committed_size(engine: Engine) -> int:
    """The log's size as committed, in one prepared read outside any transaction."""
    row = _SIZE.one_or_none(engine)
    if row is None:
        raise Unavailable(_NO_HEAD)
    return row["size"]


def _cache(engine: "Engine | db.Reader") -> dict:
    engine_of = engine.engine if isinstance(engine, db.Reader) else engine
    cache = _caches.get(engine_of)
    if cache is None:
        cache = _caches.setdefault(engine_of, {})
    return cache


def _remember(cache: dict, key: tuple, value: bytes) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def committed_nodes(engine: "Engine | db.Reader", wanted) -> dict[merkle.Node, bytes]:
    """Stored perfect nodes, as committed, through prepared reads of up to 64 at a time,
    outside any transaction: for the public reads (a scan, a proof), which are many."""
    wanted = set(wanted)
    cache = _cache(engine)
    found: dict[merkle.Node, bytes] = {}
    unread = []
    for node in wanted:
        value = cache.get(node)
        if value is None:
            unread.append(node)
        else:
            found[node] = value
    unread.sort()
    for start in range(0, len(unread), _SLOTS):
        batch = unread[start : start + _SLOTS]
        parameters = {}
        for k, (level, index) in enumerate(batch):
            parameters[f"l{k}"], parameters[f"i{k}"] = level, index
        for row in _statement(len(batch)).all(engine, **parameters):
            node = (row["level"], row["index"])
            found[node] = row["hash"]
            if node[0] >= _CACHED_LEVEL:
                _remember(cache, node, row["hash"])
    if len(found) != len(wanted):
        missing = next(node for node in unread if node not in found)
        raise _missing(missing)
    return found


def inclusion_proof_committed(
    engine: "Engine | db.Reader", index: int, tree_size: int
) -> list[bytes]:
    """The audit path of entry `index` in the tree of `tree_size` entries (RFC 9162
    §2.1.3.1), from the committed nodes, read outside any transaction through one
    prepared read (for the public verification): appends not yet committed, the
    caller's own included, are not seen.

    The hashes of the path's wide ranges (2**_CACHED_LEVEL entries or more) are kept per
    worker once folded: what they cover never changes, and the ranges at the tree's
    right edge, folded from several nodes, are the same for every entry's proof against
    one checkpoint. So a scan reads only the narrow ranges next to its own entry.

    Raises merkle.ProofError unless index < tree_size; the caller checks tree_size
    against the log's size.
    """
    ranges = merkle.inclusion_ranges(index, tree_size)
    cache = _cache(engine)
    path: list[bytes | None] = []
    wanted: list[merkle.Node] = []
    for start, end in ranges:
        width = end - start
        if width >= _CACHED_WIDTH:
            known = cache.get((-1, start, end))
            if known is not None:
                path.append(known)
                continue
        path.append(None)
        if width & (width - 1):  # at the right edge: folded from several nodes
            wanted.extend(merkle.perfect_cover(start, end))
        else:
            wanted.append((width.bit_length() - 1, start // width))
    if wanted:
        found = committed_nodes(engine, wanted)
        for k, (start, end) in enumerate(ranges):
            if path[k] is None:
                folded = merkle.fold([found[node] for node in merkle.perfect_cover(start, end)])
                path[k] = folded
                if end - start >= _CACHED_WIDTH:
                    _remember(cache, (-1, start, end), folded)
    return path  # type: ignore[return-value]


def root(bind: Session | Connection, tree_size: int) -> bytes:
    """The root hash of the tree of the first `tree_size` entries."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    edge = merkle.edge_nodes(tree_size)
    found = nodes(bind, edge)
    return merkle.fold([found[node] for node in edge])


def consistency_proof(bind: Session | Connection, first: int, second: int) -> list[bytes]:
    """The proof that the tree of `first` entries is a prefix of the one of `second`."""
    ranges = merkle.consistency_ranges(first, second)
    return merkle.assemble(ranges, nodes(bind, merkle.needed(ranges)))
