"""The checkpoint signer: one process signs the log's checkpoints, apart from the writes.

Signing a checkpoint in the transaction of every write costs each write 2–4 ms and makes
every writer wait for the signature. The signer instead watches the log's committed size
and signs at most one checkpoint per interval (LOG_CHECKPOINT_INTERVAL, 1 s) while writes
arrive, and one within a poll (50 ms) of a write that follows a quiet spell: a new
certificate's inclusion proof is there within about a second either way. Writes then sign
nothing themselves (`registry serve` sets LOG_CHECKPOINT_ENTRIES to 0 for its workers).

One signer at a time, however many machines run: on PostgreSQL the one holding a session
advisory lock (released by the server when its connection ends, so a standby takes over
when the signer dies); on SQLite, one machine, the one holding a lock of a file beside
the last signed checkpoint. The others wait, ready.
"""

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry.errors import Unavailable
from registry.log import checkpoints, tree, witnessing
from registry.models import Checkpoint

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock the signer holds: "YSCHKPNT" as a 64-bit number.
ADVISORY_LOCK = int.from_bytes(b"YSCHKPNT", "big") - 2**63
#: How often the committed size is read while elected: a quiet write waits this long.
POLL_S = 0.05


@dataclass
class Status:
    """What the signer has done since it started: for its log lines and its tests."""

    elected: bool = False
    signed: int = 0
    refused: int = 0
    last_error: str | None = None
    #: Refusals by witnesses of checkpoints signed here: alarms (registry/log/witnessing.py).
    witness_refusals: int = 0


def run(
    engine: Engine,
    sessions: Callable[[], Session],
    signer: checkpoints.Signer,
    *,
    interval: float,
    stop: threading.Event,
    status: Status | None = None,
    poll: float = POLL_S,
    witnesses: tuple[witnessing.Witness, ...] = (),
) -> Status:
    """Sign checkpoints of the log at `engine` as it grows, until `stop` is set: elected
    first (`elected`), then at most one per `interval` seconds, each within `poll` of the
    growth it covers once `interval` has passed since the last. `sessions` makes the
    session a checkpoint is signed and committed in (one `checkpoints.watch` watches).
    While elected, each of `witnesses` is asked to cosign the newest checkpoint, in a
    thread of its own (witnessing.Collector)."""
    status = status or Status()
    while not stop.is_set():
        with elected(engine, signer.state) as won:
            status.elected = won
            if not won:
                stop.wait(interval)
                continue
            log.info("signing the log's checkpoints, at most one every %g s", interval)
            done = threading.Event()
            collector = witnessing.Collector(
                sessions, witnesses, stop=done, on_refusal=lambda: _count_refusal(status)
            ).start()
            try:
                _sign_while_elected(
                    engine, sessions, signer, interval, poll, stop, status, collector.poke
                )
            finally:
                done.set()
                collector.join(timeout=witnessing.TIMEOUT_S + 1)
    status.elected = False
    return status


def _count_refusal(status: Status) -> None:
    status.witness_refusals += 1


def _sign_while_elected(engine, sessions, signer, interval, poll, stop, status, signed) -> None:
    signed_at = -interval
    while not stop.is_set():
        wait = interval - (time.monotonic() - signed_at)
        if wait > 0:
            stop.wait(min(wait, interval))
            continue
        if tree.committed_size(engine) > _signed_size(engine):
            session = sessions()
            try:
                made = checkpoints.make(session, signer)
                session.commit()
                status.signed += 1
                log.debug("checkpoint of %d entries", made.tree_size)
                signed()
            except Unavailable as exc:
                session.rollback()
                status.refused += 1
                status.last_error = exc.detail
                log.error("no checkpoint signed: %s", exc.detail)
            finally:
                session.close()
            signed_at = time.monotonic()
        else:
            stop.wait(poll)


def _signed_size(engine: Engine) -> int:
    with engine.connect() as connection:
        newest = connection.execute(
            checkpoints.newest_query().with_only_columns(Checkpoint.tree_size)
        ).scalar()
        connection.rollback()
    return newest or 0


@contextmanager
def elected(engine: Engine, state: Path) -> Iterator[bool]:
    """Whether this process is the log's one signer, held until the block ends: the
    PostgreSQL advisory lock, or on SQLite a lock of the file beside `state` (the last
    signed checkpoint, which only one signer may write)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            won = _advisory(connection)
            try:
                yield won
            finally:
                if won:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK}
                    )
                connection.rollback()
        return
    state.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(f"{state}.signer", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


def _advisory(connection: Connection) -> bool:
    won = connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK}
    ).scalar_one()
    connection.commit()  # a session lock: it outlives the transaction, not the connection
    return bool(won)
