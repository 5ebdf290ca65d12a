"""What counting scans costs a verification, measured where the noise of a shared machine
cancels: one process holds the registry as deployed and the registry with counting off
(each on its own copy of the benchmark database), and the requests alternate between the
two, code by code, through each app's WSGI call.

The CPU of each request is its thread's (time.thread_time), so the machine's drift
falls on both alike; the flushing thread's is read from its own CPU clock, and all of
it is counting's. A control run serves two uncounted copies the same way: what it
reports is the method's own error (about 0 µs when the method holds).

Two gunicorn servers of the very same app, measured over HTTP in turns, differed by 80-
100 µs of CPU per request on this machine; this method's control differs by under 1.
"""

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import dataset

#: Pairs of requests (one counted, one not) measured after the warm-up.
PAIRS = 6000
WARMUP_PAIRS = 300
CONTROL_PAIRS = 2000


@dataclass
class Cost:
    pairs: int
    #: Request thread CPU per scan: counted minus uncounted, µs.
    request_us: float
    #: The flushing thread's CPU per counted scan, µs.
    flush_us: float
    counted_us: float
    uncounted_us: float

    @property
    def total_us(self) -> float:
        return self.request_us + self.flush_us


def _call(app: Any, code: str) -> float:
    """One verification through the app's WSGI call; its thread's CPU seconds."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/api/v1/verify/{code}",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(line: str, headers: list, exc_info: Any = None) -> None:
        status.append(line)

    started = time.thread_time()
    body = app(environ, start_response)
    try:
        for _ in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    spent = time.thread_time() - started
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"counting: /api/v1/verify/{code} answered {status}")
    return spent


def _flush_cpu(app: Any) -> float:
    thread = app.extensions["registry.scans"].thread
    if thread is None or thread.ident is None or not thread.is_alive():
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _measure(counted: Any, uncounted: Any, codes: list[str], pairs: int, seed: int) -> Cost:
    rng = random.Random(seed)  # noqa: S311 - which codes to ask for
    for _ in range(WARMUP_PAIRS):
        _call(counted, rng.choice(codes))
        _call(uncounted, rng.choice(codes))
    tally = counted.extensions["registry.scans"].tally
    tally.flush(wait=5)  # the warm-up's counts are not measured
    spent = {True: 0.0, False: 0.0}
    flushed = _flush_cpu(counted)
    for i in range(pairs):
        code = rng.choice(codes)
        for on in (True, False) if i % 2 else (False, True):
            spent[on] += _call(counted if on else uncounted, code)
    # The counts of the last period are written here, once a flush under way in the
    # flushing thread is over: their CPU is counting's too.
    started = time.thread_time()
    tally.flush(wait=5)
    flushed = _flush_cpu(counted) - flushed + time.thread_time() - started
    return Cost(
        pairs=pairs,
        request_us=(spent[True] - spent[False]) / pairs * 1e6,
        flush_us=flushed / pairs * 1e6,
        counted_us=spent[True] / pairs * 1e6,
        uncounted_us=spent[False] / pairs * 1e6,
    )


def measure(data: dataset.Dataset, *, pairs: int = PAIRS) -> tuple[Cost, Cost]:
    """(counting's cost, the control's) in µs per scan."""
    import gc

    codes = data.codes_file.read_text().split()
    with tempfile.TemporaryDirectory(prefix="registry-counting-") as scratch:
        work = Path(scratch)
        off = {"REGISTRY_SCAN_COUNTING": "false"}
        counted = dataset.app_with(dataset.private_copy(data, work / "counted"))
        uncounted = dataset.app_with(dataset.private_copy(data, work / "uncounted") | off)
        control = dataset.app_with(dataset.private_copy(data, work / "control") | off)
        gc.freeze()  # as gunicorn's workers do (registry.gunicorn_conf)
        try:
            cost = _measure(counted, uncounted, codes, pairs, seed=1)
            check = _measure(control, uncounted, codes, CONTROL_PAIRS, seed=2)
        finally:
            counted.extensions["registry.scans"].tally.flush(wait=5)
            for app in (counted, uncounted, control):
                app.extensions["registry.engine"].dispose()
    return cost, check
