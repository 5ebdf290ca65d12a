"""The stored tree: appends, roots and proofs from stored perfect nodes, committed reads."""

import pytest
from sqlalchemy import delete, func, select

from registry.edge import database
from registry.errors import Unavailable
from registry.log import merkle, tree
from registry.models import LogHead, LogNode
from tests.test_merkle import Reference

ENTRIES = [f'{{"n":{n}}}'.encode() for n in range(37)]


@pytest.fixture
def writer(app):
    """A session that writes, as a command's does; the log starts empty."""
    with app.app_context():
        session = database.session()
        assert tree.size(session) == 0
        yield session


@pytest.fixture
def stored(writer) -> Reference:
    """ENTRIES appended and committed; the reference tree of the same entries."""
    for entry in ENTRIES:
        tree.append(writer, entry)
    writer.commit()
    return Reference(ENTRIES)


def test_appends_number_entries_in_order_and_store_only_perfect_nodes(writer):
    assert [tree.append(writer, entry) for entry in ENTRIES] == list(range(len(ENTRIES)))
    assert tree.size(writer) == len(ENTRIES)
    assert tree.appended(writer)
    count = writer.scalar(select(func.count()).select_from(LogNode))
    # A perfect node per leaf, per pair, per four...: 2n - popcount(n) in all.
    assert count == 2 * len(ENTRIES) - len(ENTRIES).bit_count()


def test_roots_are_the_reference_mth_at_every_size(writer, stored):
    for size in range(len(ENTRIES) + 1):
        assert tree.root(writer, size) == stored.root(size), size


def test_the_root_left_in_memory_is_the_stored_one(writer):
    for count, entry in enumerate(ENTRIES, start=1):
        tree.append(writer, entry)
        assert tree.appended_root(writer, count) == tree.root(writer, count)
    assert tree.appended_root(writer, 3) is None  # not the size the appends left
    writer.rollback()
    assert not tree.appended(writer)
    assert tree.appended_root(writer, len(ENTRIES)) is None


def test_proofs_are_the_reference_ones_and_verify(writer, stored):
    size = len(ENTRIES)
    root = stored.root(size)
    for index in range(size):
        proof = tree.inclusion_proof_committed(database.engine(), index, size)
        assert proof == stored.path(index, size), index
        merkle.verify_inclusion(index, size, stored.leaves[index], proof, root)
    for first in range(1, size + 1):
        proof = tree.consistency_proof(writer, first, size)
        assert proof == stored.proof(first, size), first
        merkle.verify_consistency(first, size, stored.root(first), root, proof)


def test_committed_reads_do_not_see_the_open_transaction(writer, stored):
    size = len(ENTRIES)
    tree.append(writer, b'{"uncommitted":true}')
    writer.flush()

    assert tree.size(writer) == size + 1
    assert tree.committed_size(database.engine()) == size
    with pytest.raises(Unavailable, match="missing node"):
        tree.committed_nodes(database.engine(), [(0, size)])
    assert tree.inclusion_proof_committed(database.engine(), 0, size) == stored.path(0, size)

    writer.commit()
    assert tree.committed_size(database.engine()) == size + 1
    leaf = tree.committed_nodes(database.engine(), [(0, size)])[(0, size)]
    assert leaf == merkle.leaf_hash(b'{"uncommitted":true}')


def test_a_missing_node_is_reported_not_guessed(writer, stored):
    writer.execute(delete(LogNode).where(LogNode.level == 5, LogNode.index == 0))
    with pytest.raises(Unavailable, match=r"missing node \(5, 0\).*registry log verify"):
        tree.root(writer, 32)
    assert tree.root(writer, 31) == stored.root(31)  # made of other nodes


def test_without_a_head_row_nothing_is_appended(writer):
    writer.execute(delete(LogHead))
    with pytest.raises(Unavailable, match="no head row"):
        tree.append(writer, b"{}")
    with pytest.raises(Unavailable, match="no head row"):
        tree.size(writer)
