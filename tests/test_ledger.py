"""The ledger: the one append of every write's event, in the write's own transaction."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import rfc8785
from sqlalchemy import func, select

from registry import accounts, makers
from registry.edge import database
from registry.log import ledger, merkle, tree
from registry.models import Event, LogNode
from schemas.standards import EventType
from tests import factories
from tests.test_merkle import Reference


@pytest.fixture
def writer(app):
    """A session that writes, as a command's does."""
    with app.app_context():
        yield database.session()


def _events(session) -> list[Event]:
    return list(session.scalars(select(Event).order_by(Event.log_index)))


def test_an_entry_is_the_rfc_8785_form_of_the_event(writer):
    maker = makers.admit(writer, factories.maker_data(), actor=None)
    at = datetime(2026, 3, 1, 9, 30, 15, 250, tzinfo=UTC)

    event = ledger.append(
        writer,
        EventType.PIECE_PHOTO_REMOVED,
        actor=None,
        maker=maker,
        data={"b": [1, 2.5], "a": "ё"},
        at=at,
    )

    expected = {
        "action": "piece:photo_removed",
        "at": "2026-03-01T09:30:15.000250Z",
        "actor": {"role": "system"},
        "maker": maker.slug,
        "piece": None,
        "certificate": None,
        "data": {"a": "ё", "b": [1, 2.5]},
    }
    assert event.entry == rfc8785.dumps(expected)
    assert json.loads(event.entry) == expected
    assert (event.action, event.actor_role, event.maker_id) == (
        "piece:photo_removed",
        "system",
        maker.id,
    )


def test_an_actor_is_named_by_role_and_id(writer):
    admin = accounts.create(writer, {"email": "a@test.example", "role": "admin"}, actor=None)
    event = ledger.append(writer, EventType.KEY_ROTATED, actor=admin)
    assert json.loads(event.entry)["actor"] == {"role": "admin", "id": admin.id}
    assert (event.actor_id, event.actor_role) == (admin.id, "admin")


def test_entries_take_the_next_indices_in_order_and_their_leaves_are_stored(writer):
    before = tree.size(writer)
    appended = [
        ledger.append(writer, EventType.KEY_ROTATED, actor=None, data={"n": n}) for n in range(5)
    ]
    writer.flush()

    assert [event.log_index for event in appended] == list(range(before, before + 5))
    assert tree.size(writer) == before + 5
    leaves = dict(
        writer.execute(
            select(LogNode.index, LogNode.hash).where(LogNode.level == 0, LogNode.index >= before)
        ).all()
    )
    assert leaves == {event.log_index: merkle.leaf_hash(event.entry) for event in appended}


def test_private_values_are_logged_as_their_keyed_commitment_only(writer, tmp_path):
    email = "Private.Person@test.example"
    account = accounts.create(writer, {"email": email, "role": "inspector"}, actor=None)
    writer.flush()
    created = writer.scalar(
        select(Event).where(Event.action == "account:created").order_by(Event.id.desc())
    )

    key = bytes.fromhex((tmp_path / "keys" / "commitment-key").read_text())
    keyed = hmac.new(key, account.email.encode(), hashlib.sha256).hexdigest()
    assert json.loads(created.entry)["data"]["account"] == "hmac-sha256:" + keyed
    assert ledger.commitment(writer, account.email) == "hmac-sha256:" + keyed
    assert ledger.digest(account.email).encode() not in created.entry
    assert email.encode() not in created.entry
    assert account.email.encode() not in created.entry


def test_a_commitment_is_rebuilt_in_the_form_an_entry_wrote_it(writer):
    plain = "sha256:" + hashlib.sha256(b"a@test.example").hexdigest()
    keyed = ledger.commitment(writer, "a@test.example")
    assert ledger.committed_as(writer, "a@test.example", plain) == plain
    assert ledger.committed_as(writer, "a@test.example", keyed) == keyed
    assert ledger.committed_as(writer, "a@test.example", None) == keyed
    assert ledger.committed_as(writer, "b@test.example", plain) != plain
    assert ledger.commitments(writer, "a@test.example") == (keyed, plain)


def test_a_rolled_back_write_leaves_no_entry_no_node_and_the_size_as_it_was(writer):
    factories.world(writer)  # committed: a log with entries and checkpoints
    size = tree.size(writer)
    nodes = writer.scalar(select(func.count()).select_from(LogNode))
    events = len(_events(writer))

    makers.admit(writer, factories.maker_data(region="RU-KK", city="Абакан"), actor=None)
    writer.flush()
    assert tree.size(writer) == size + 1
    writer.rollback()

    assert tree.size(writer) == size
    assert writer.scalar(select(func.count()).select_from(LogNode)) == nodes
    assert len(_events(writer)) == events
    # The next append takes the index the rolled-back one had, on the stored tree.
    event = ledger.append(writer, EventType.KEY_ROTATED, actor=None)
    writer.commit()
    assert event.log_index == size
    assert tree.root(writer, size + 1) == Reference([e.entry for e in _events(writer)]).root(
        size + 1
    )


def test_stored_bytes_and_as_json_keep_what_was_stored():
    assert ledger.stored_bytes('{"a":1}') == b'{"a":1}'
    assert ledger.stored_bytes(b'{"a":1}') == b'{"a":1}'
    assert ledger.as_json(b'{"a":1}') == b'{"a":1}'
    # Bytes that are no JSON object are served as a string, whose hash then fails.
    assert ledger.as_json(b"[1]") == b'"[1]"'
    assert ledger.as_json(b'{"a":NaN}') == b'"{\\"a\\":NaN}"'
