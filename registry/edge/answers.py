"""Scan answers kept ready: the verify JSON and the verification page as rendered, per
worker, for as long as nothing they show has changed.

What a scan answers changes only when the certificate's state does, and a scan is the
busiest request there is. So each scan still reads its row, checks its seals and is
counted (registry/edge/scans.py), and then takes its answer from here when one was
rendered from exactly that verdict: the key is everything the verdict read (the row with
its sealed state, the newest checkpoint and the signature's check, the successor, the
copy caution), so a revocation, a sale, a new checkpoint or a row that fails its seal
misses at once. An answer is also kept at most VERDICT_MAX_AGE seconds, which bounds
what the key does not hold (a thumbnail's bytes, a wording changed by a deployment).

Bounded in bytes (READY_ANSWERS_BYTES, 0 to keep none), the oldest forgotten first.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app

_KEY = "registry.answers"


class Ready:
    """Rendered answers by key, each until it expires, within a budget of bytes."""

    def __init__(self, budget: int, max_age: float):
        self.budget = budget
        self.max_age = max_age
        self._held: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def answer(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The answer kept for `key`, or `render`'s, kept from now on."""
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
            if held is not None and held[0] > now:
                return held[1]
        body = render()
        if self.budget and len(body) <= self.budget // 8:
            with self._lock:
                old = self._held.pop(key, None)
                if old is not None:
                    self._bytes -= len(old[1])
                self._held[key] = (now + self.max_age, body)
                self._bytes += len(body)
                while self._bytes > self.budget:
                    _, (_, dropped) = self._held.popitem(last=False)
                    self._bytes -= len(dropped)
        return body


def init_app(app: Flask) -> None:
    app.extensions[_KEY] = Ready(
        int(app.config["READY_ANSWERS_BYTES"]), float(app.config["VERDICT_MAX_AGE"])
    )


def ready(key: Hashable, render: Callable[[], bytes]) -> bytes:
    """The current app's answer for `key` (see Ready.answer)."""
    return current_app.extensions[_KEY].answer(key, render)
