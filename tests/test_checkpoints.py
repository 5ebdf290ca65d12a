"""Checkpoints: signed C2SP notes of the whole log, never of a tree that does not extend
the last one signed."""

import base64
import os

import pytest
from sqlalchemy import func, select

from keys import note
from registry import makers
from registry.edge import database, log_signer
from registry.errors import Unavailable
from registry.log import checkpoints, tree
from registry.models import Checkpoint
from tests import factories


@pytest.fixture
def writer(app):
    """A session that writes, with a log of a few entries, each write checkpointed."""
    with app.app_context():
        session = database.session()
        factories.world(session)
        yield session


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Checkpoint))


def test_every_write_commits_with_a_checkpoint_of_the_log_it_leaves(writer):
    newest = checkpoints.latest(writer)
    assert newest is not None
    assert newest.tree_size == tree.size(writer)
    assert newest.root_hash == tree.root(writer, newest.tree_size)


def test_a_checkpoint_is_a_signed_note_of_the_whole_log(writer):
    signer = log_signer.signer()
    size = tree.size(writer)

    made = checkpoints.make(writer, signer)
    writer.commit()

    root = tree.root(writer, size)
    assert (made.tree_size, made.root_hash) == (size, root)
    # c2sp.org/tlog-checkpoint: origin, size, base64 root; then a blank line and one
    # signature line a key (plain Ed25519 and timestamped), each "— origin base64".
    body = f"{signer.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    text, _, signatures = made.note.partition("\n\n")
    assert text + "\n" == body
    lines = signatures.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"\u2014 {signer.origin} ") for line in lines)
    opened = note.open_checkpoint(made.note, checkpoints.public_keys(signer.ring))
    active = signer.ring.active()
    assert (opened.size, opened.root, opened.kid) == (size, root, active.kid)
    assert opened.timestamp == int(made.made_at.timestamp())
    assert made.kid == active.kid
    # Once committed, the signer keeps it, outside the database.
    assert signer.state.read_text(encoding="utf-8") == made.note
    assert signer.last_signed().size == size


def test_a_tree_that_does_not_extend_the_last_signed_is_not_signed(writer):
    signer = log_signer.signer()
    size = tree.size(writer)
    other, _ = note.sign_checkpoint(signer.ring, signer.origin, size, bytes(32), 1_700_000_000)
    signer.state.write_text(other, encoding="utf-8")
    before = _count(writer)

    with pytest.raises(Unavailable, match="does not extend the last checkpoint signed"):
        checkpoints.make(writer, signer)
    writer.rollback()

    assert _count(writer) == before
    assert signer.state.read_text(encoding="utf-8") == other


def test_a_log_smaller_than_the_last_signed_is_not_signed(writer):
    signer = log_signer.signer()
    size = tree.size(writer)
    larger, _ = note.sign_checkpoint(
        signer.ring, signer.origin, size + 5, tree.root(writer, size), 1_700_000_000
    )
    signer.state.write_text(larger, encoding="utf-8")

    with pytest.raises(Unavailable, match=rf"does not extend .*\({size + 5} entries"):
        checkpoints.make(writer, signer)


def test_a_damaged_record_of_the_last_signed_stops_signing(writer):
    signer = log_signer.signer()
    signer.state.write_text("not a checkpoint\n", encoding="utf-8")
    with pytest.raises(Unavailable, match="does not hold"):
        checkpoints.make(writer, signer)


def test_the_signer_keeps_the_larger_of_two_checkpoints(writer):
    signer = log_signer.signer()
    size = tree.size(writer)
    kept = signer.last_signed()
    assert kept is not None and kept.size == size
    older, _ = note.sign_checkpoint(
        signer.ring, signer.origin, size - 1, tree.root(writer, size - 1), 1_700_000_000
    )
    opened = note.open_checkpoint(older, checkpoints.public_keys(signer.ring))

    signer.remember(opened)

    assert signer.last_signed().size == size
    assert signer.state.read_text(encoding="utf-8") == kept.text


def test_the_last_signed_checkpoint_is_written_as_durably_as_the_keys(writer, monkeypatch):
    # Synced where keys.ring writes: the file before its rename, then its directory, so
    # that a power cut cannot take back a checkpoint already served.
    synced = []
    fsync = os.fsync

    def recording(fd):
        synced.append(os.fstat(fd))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    signer = log_signer.signer()
    made = checkpoints.make(writer, signer)
    writer.commit()

    assert signer.state.read_text(encoding="utf-8") == made.note
    assert signer.last_signed().text == made.note
    identities = {(stat.st_dev, stat.st_ino) for stat in synced}
    for path in (signer.state, signer.state.parent):
        stat = path.stat()
        assert (stat.st_dev, stat.st_ino) in identities, f"{path} was not synced"
    assert [path.name for path in signer.state.parent.iterdir() if path.name.startswith(".")] == []


def test_latest_is_the_newest_of_the_largest_tree_allowed(writer):
    first = checkpoints.latest(writer)
    makers.admit(writer, factories.maker_data(region="RU-KK", city="Абакан"), actor=None)
    writer.commit()
    second = checkpoints.latest(writer)
    again = checkpoints.make(writer, log_signer.signer())  # the same tree, signed again
    writer.commit()

    assert second.tree_size > first.tree_size
    assert checkpoints.latest(writer).id == again.id != second.id
    assert checkpoints.latest(writer, at_most=second.tree_size - 1).id == first.id
    assert checkpoints.latest(writer, at_most=first.tree_size - 1) is None
