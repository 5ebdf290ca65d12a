"""The scan counter of each app, and what the public verify views call: `record` (alias
`seen`) for every scan, and `caution` for the verdict. The design and its failure modes
are in registry/scans.py.

A flush found due by a scan is made into a batch by that scan (a few ms, once a period)
and written by the worker's flushing thread, so no buyer waits for the database; outside
a request it is written at once. Each worker flushes what it still holds when it exits in
order (gunicorn's SIGTERM, SIGQUIT, max_requests).

Why a thread, when a sync worker has the time after each answer: a flush of a busy
worker's 5 s held that worker for 50-100 ms (and one of 128 certificates cost twice as
much per certificate), and the scans queued behind it made the p99. In the thread, the
flush's statements run without the GIL, so the worker goes on answering. The thread
runs no Python of the batch's (Tally.hand_over says why): it takes the GIL back only
when a statement ends, a handful of times a flush.
"""

import atexit
import dataclasses
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask, current_app, has_request_context, request
from sqlalchemy.orm import Session

from registry import scans, verification
from registry.edge import database, log_signer, signing
from registry.errors import RegistryError

log = logging.getLogger(__name__)

#: Cautions remembered per worker at most (then forgotten all at once).
_CACHE_MAX = 10_000
#: Seconds the flushing thread waits for a flush before it looks whether its app is gone.
_IDLE_S = 30.0
#: Seconds an exiting worker waits for a flush under way in its thread.
_EXIT_WAIT_S = 2.0
_REDIS_TIMEOUT_S = 0.2

# Every app's counter, flushed when the process exits in order; weak, so that the many
# apps of a test run are not kept alive by it.
_TALLIES: "weakref.WeakSet[scans.Tally]" = weakref.WeakSet()


@dataclass
class _State:
    tally: scans.Tally
    store: scans.Store
    limits: scans.Limits
    #: Seconds a caution is remembered per worker: the flush period, so that it lags the
    #: scans by at most two periods.
    cache_seconds: float
    cache: dict[tuple[int, bool], tuple[float, date, date | None]] = field(default_factory=dict)
    #: The flushing thread of this process (a fork starts its own), and its signal.
    thread: threading.Thread | None = None
    pid: int = 0
    wanted: threading.Event = field(default_factory=threading.Event)

    def flush(self) -> bool:
        return self.tally.flush()

    def wake(self) -> None:
        """Have the flushing thread flush, starting it in this process if need be."""
        if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
            self.pid = os.getpid()
            self.wanted = threading.Event()
            self.thread = threading.Thread(
                target=_flushing,
                args=(weakref.ref(self), self.wanted),
                name="registry-scan-flush",
                daemon=True,
            )
            self.thread.start()
        self.wanted.set()


def _flushing(state: "weakref.ref[_State]", wanted: threading.Event) -> None:
    """The flushing thread: a flush each time it is woken. It holds its app's state
    weakly, and ends within _IDLE_S once the app is gone (tests make many apps).

    It runs at a lower priority (nice +_NICE, this thread only, on Linux), so that a
    flush takes the cores the answers leave, rather than a share of theirs: on cores
    kept busy by scans, a flush's 100 ms of CPU at the same priority slowed the answers
    queued behind it, and the p99 with them."""
    _lower_priority()
    while True:
        woken = wanted.wait(_IDLE_S)
        current = state()
        if current is None:
            return
        if woken:
            wanted.clear()
            current.tally.flush(handed_only=True)
        del current


#: How much less the flushing thread's priority is (a nice value: 0 to 19).
_NICE = 10


def _lower_priority() -> None:
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + _NICE))
    except (AttributeError, OSError) as exc:  # not Linux: the same priority as the answers
        log.debug("the scan flush runs at the workers' priority: %s", exc)


def init_app(app: Flask) -> None:
    config = app.config
    days = scans.Days(config["DISPLAY_TIMEZONE"])
    flush_seconds = float(config["SCAN_FLUSH_SECONDS"])
    limits = scans.Limits(
        sold=int(config["COPY_NETWORKS_SOLD"]), unsold=int(config["COPY_NETWORKS_UNSOLD"])
    )
    store = _store(app, days, watch_above=min(limits.sold, limits.unsold))
    tally = scans.Tally(
        store, flush_seconds=flush_seconds, today=days, enabled=bool(config["SCAN_COUNTING"])
    )
    app.extensions["registry.scans"] = _State(tally, store, limits, cache_seconds=flush_seconds)
    _TALLIES.add(tally)


def _store(app: Flask, days: scans.Days, watch_above: int) -> scans.Store:
    """Redis where the rate limits already share one (RATELIMIT_STORAGE_URI), else the
    database."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        import redis

        client = redis.Redis.from_url(
            uri.replace("redis+unix://", "unix://", 1),
            socket_timeout=_REDIS_TIMEOUT_S,
            socket_connect_timeout=_REDIS_TIMEOUT_S,
        )
        return scans.RedisStore(client, prefix=app.config["RATELIMIT_KEY_PREFIX"], days=days)
    if uri.startswith("redis"):
        log.warning("scans are counted in the database: %s is not a plain Redis URL", uri)
    return scans.DatabaseStore(app.extensions["registry.engine"], watch_above=watch_above)


def state() -> _State:
    return current_app.extensions["registry.scans"]


def record(certificate_id: int, address: str | None, *, answering: bool | None = None) -> None:
    """Count one public scan of the certificate from `address` (request.remote_addr):
    in memory, a few µs. Once a flush period, the counts are made into a batch here (a
    few ms) and written by the worker's flushing thread while `answering` a request (by
    default, inside a request context); otherwise here."""
    current = state()
    if not current.tally.record(certificate_id, address):
        return
    if not (has_request_context() if answering is None else answering):
        current.flush()  # makes the batch and writes it, here
        return
    # Here, at the worker's own priority, not in the flushing thread (Tally.hand_over).
    current.tally.hand_over()
    current.wake()


#: The name the verify views know it by.
seen = record


def caution(bind: Any, certificate_id: int, sold: bool) -> date | None:
    """The day the certificate's copy caution began, or None (also when counting is off).
    One indexed read, remembered for a flush period per worker."""
    current = state()
    if not current.tally.enabled:
        return None
    today = current.tally.today()
    now = time.monotonic()
    remembered = current.cache.get((certificate_id, sold))
    if remembered is not None and remembered[0] > now and remembered[1] == today:
        return remembered[2]
    since = scans.caution(
        bind, certificate_id, sold, today=today, store=current.store, limits=current.limits
    )
    if current.cache_seconds > 0:
        if len(current.cache) >= _CACHE_MAX:
            current.cache.clear()
        current.cache[(certificate_id, sold)] = (now + current.cache_seconds, today, since)
    return since


def flagged(session: Session) -> list[scans.Flagged]:
    """The certificates whose caution holds today, for the inspectors' queue."""
    current = state()
    return scans.flagged(session, current.store, today=current.tally.today(), limits=current.limits)


def flush() -> bool:
    """Write this worker's counts now (tests, commands)."""
    return state().flush()


@atexit.register
def _flush_at_exit() -> None:
    for tally in list(_TALLIES):
        if tally.pending or tally.flushing:
            tally.flush(wait=_EXIT_WAIT_S, last=True)


def checked(code: str, *, proof: bool = True) -> verification.Verdict:
    """A certificate's verdict (verification.verify, with this app's keys, seals and
    signer), not counted: for what a buyer fetches beside a scan, such as the card.
    Raises as verify does."""
    return verification.verify(
        database.engine(),
        signing.keyring(),
        code,
        seals=signing.seals(),
        signed=log_signer.signed_size(),
        proof=proof,
        quorum=log_signer.quorum(),
    )


#: In the environ of a request that a direct route (registry/edge/direct.py) handed on to
#: Flask: the code, whether with the proof, and the verdict read and counted, or the
#: refusal raised instead.
_HANDED_ON = "registry.scans.verdict"


def scanned(code: str, *, proof: bool = True) -> verification.Verdict:
    """A public scan's verdict (`checked`), counted (registry/scans.py), with its copy
    caution: what both verify views answer. An invalid certificate is counted, never
    cautioned. Raises as verify does."""
    handed = request.environ.get(_HANDED_ON)
    if handed is not None and handed[0] == code and (handed[1] or not proof):
        if isinstance(handed[2], RegistryError):
            raise handed[2]
        return handed[2]
    return scanned_from(code, request.remote_addr, proof=proof)


def hand_on(
    environ: dict, code: str, proof: bool, verdict: verification.Verdict | RegistryError
) -> None:
    """Leave what a scan below Flask found, a verdict read and counted or the refusal
    raised, for the Flask view of the same request: it neither reads nor counts again."""
    environ[_HANDED_ON] = (code, proof, verdict)


def scanned_from(code: str, address: str | None, *, proof: bool = True) -> verification.Verdict:
    """`scanned`, for a scan from `address` answered with or without a request context
    (registry/edge/direct.py), inside an application context."""
    verdict = checked(code, proof=proof)
    engine = database.engine()
    record(verdict.certificate.id, address, answering=True)
    if not verdict.trusted:
        return verdict
    tally = state().tally
    if not tally.enabled:
        return verdict
    watched = tally.watching()
    if watched is not None and verdict.certificate.id not in watched:
        return verdict  # seen from too few networks for any caution: nothing to read
    sold = verdict.certificate.sold_at is not None
    since = caution(engine, verdict.certificate.id, sold)
    return dataclasses.replace(verdict, copy_since=since) if since else verdict
