"""Changes to the signing keys as the log records them."""

import json
import threading

from sqlalchemy import select

import keys
from registry import signing_keys
from registry.edge import database, signing
from registry.models import Event
from schemas.standards import EventType


def _rotations(app) -> list[dict]:
    with app.app_context():
        entries = database.session().scalars(
            select(Event.entry)
            .where(Event.action == str(EventType.KEY_ROTATED))
            .order_by(Event.log_index)
        )
        return [json.loads(entry)["data"] for entry in entries]


def test_racing_rotations_record_each_key_retired_by_the_next(app):
    # Two operators rotating at once, each with a ring of its own as two `registry keys
    # rotate` would have, several times over: the log must tell the history the ring made.
    with app.app_context():
        first = signing.keyring().active().kid
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def operator() -> None:
        try:
            ring = keys.KeyRing(app.config["KEYS_DIR"])
            with app.app_context():
                for _ in range(5):
                    barrier.wait(timeout=30)
                    signing_keys.rotate(database.session(), ring, actor=None)
                    database.session().commit()
                    database.end_session()
        except BaseException as exc:  # reported by the test below, not lost in the thread
            barrier.abort()
            failures.append(exc)

    threads = [threading.Thread(target=operator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    rotations = _rotations(app)
    with app.app_context():
        ring = keys.KeyRing(app.config["KEYS_DIR"])
        made = [info.kid for info in ring.keys()]
        active = ring.active().kid
    assert len(rotations) == 10
    assert [r["retired"] for r in rotations] == [first] + [r["kid"] for r in rotations[:-1]]
    assert [first] + [r["kid"] for r in rotations] == made
    assert rotations[-1]["kid"] == active
