"""The checkpoint signer (`registry log signer`): checkpoints apart from the writes, at
most one per interval while writes arrive, promptly after a quiet write, and one signer
at a time."""

import threading
import time

import pytest
from sqlalchemy import func, select

from registry.edge import database, log_signer
from registry.log import signer as checkpoint_signer
from registry.models import Checkpoint
from tests.factories import bearer, piece_data


@pytest.fixture
def settings() -> dict:
    return {"LOG_CHECKPOINT_ENTRIES": 0}  # the writes sign nothing themselves


@pytest.fixture
def signing(app):
    """The signer, running in a thread beside the app as `registry serve` runs it."""
    stop = threading.Event()
    status = checkpoint_signer.Status()
    engine = app.extensions["registry.engine"]
    made = app.extensions["registry.sessionmaker"]
    with app.app_context():
        signer = log_signer.signer()
    thread = threading.Thread(
        target=checkpoint_signer.run,
        args=(engine, made, signer),
        kwargs={"interval": 0.5, "stop": stop, "status": status, "poll": 0.02},
    )
    thread.start()
    yield status
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _checkpoints(app) -> int:
    with app.app_context():
        session = database.session()
        found = session.scalar(select(func.count()).select_from(Checkpoint))
        session.rollback()
        return found


def _covered(client) -> int:
    answer = client.get("/api/v1/log/checkpoint")
    return answer.json["tree_size"] if answer.status_code == 200 else 0


def _register(client, world) -> int:
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert made.status_code == 201
    return made.json["id"]


def _size(client) -> int:
    return client.get("/api/v1/log/entries?start=0&limit=1").json["tree_size"]


def test_a_quiet_write_is_signed_without_another_to_prompt_it(client, world, signing):
    deadline = time.monotonic() + 5
    while _covered(client) < _size(client):
        assert time.monotonic() < deadline, "the world's writes were never signed"
        time.sleep(0.02)
    time.sleep(0.6)  # quiet: more than an interval since the last checkpoint
    _register(client, world)
    size = _size(client)
    # Signed with no other write to prompt it (how soon is `make bench`'s to measure).
    deadline = time.monotonic() + 10
    while _covered(client) < size:
        assert time.monotonic() < deadline, "a quiet write was never signed"
        time.sleep(0.01)
    proof = client.get(f"/api/v1/log/proof/inclusion?index={size - 1}&tree_size={size}")
    assert proof.status_code == 200
    assert signing.elected and signing.refused == 0


def test_writes_arriving_all_the_time_get_at_most_one_checkpoint_an_interval(
    app, client, world, signing
):
    time.sleep(0.6)
    before = _checkpoints(app)
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        _register(client, world)
    elapsed = time.monotonic() - started
    time.sleep(0.6)  # the last writes' checkpoint
    made = _checkpoints(app) - before
    assert 2 <= made <= elapsed / 0.5 + 2
    assert _covered(client) == _size(client)


def test_only_one_signer_is_elected_at_a_time(app, signing):
    deadline = time.monotonic() + 5
    while not signing.elected:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with app.app_context():
        state = log_signer.signer().state
    engine = app.extensions["registry.engine"]
    with checkpoint_signer.elected(engine, state) as won:
        assert not won  # the running signer holds it: this one would wait, ready


def test_with_the_signer_apart_a_write_signs_nothing_itself(client, world):
    """LOG_CHECKPOINT_ENTRIES=0, as `registry serve` sets it for its workers: no signer
    runs here, and the write is in no checkpoint until one does."""
    before = _covered(client)
    _register(client, world)
    assert _covered(client) == before < _size(client)
