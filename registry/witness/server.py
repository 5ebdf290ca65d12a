"""The witness's HTTP interface, and `registry witness serve`.

    POST /add-checkpoint              a checkpoint to cosign (registry/witness/protocol.py)
    GET  /<origin hash>/checkpoint    the newest checkpoint cosigned of a log, for monitors
    GET  /                            who the witness is: its name, vkey and logs

Plain WSGI, served by gunicorn with threads, so that a slow client holds one thread
and not the witness: the only Python it needs is the standard library's, the keys and
the log's Merkle proofs.
"""

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from keys import note
from keys.witness import WitnessKey
from registry.witness import protocol
from registry.witness.state import Store

log = logging.getLogger(__name__)

#: A request body larger than this is refused (413): a checkpoint with 63 proof lines
#: and 16 signatures is under 8 KiB.
MAX_BODY = 64 * 1024
_TEXT = "text/plain; charset=utf-8"


class Witness:
    """The WSGI application of one witness."""

    def __init__(
        self,
        key: WitnessKey,
        logs: Sequence[note.VerifierKey],
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.key = key
        self.logs: dict[str, list[note.VerifierKey]] = {}
        for vkey in logs:
            self.logs.setdefault(vkey.name, []).append(vkey)
        self.store = store
        self.clock = clock

    def __call__(self, environ: Mapping[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        if path == "/add-checkpoint":
            if method != "POST":
                return _answer(start_response, 405, "use POST\n", allow="POST")
            return self._add_checkpoint(environ, start_response)
        if method not in ("GET", "HEAD"):
            return _answer(start_response, 405, "use GET\n", allow="GET, HEAD")
        body = self._read(path, start_response)
        return [b""] if method == "HEAD" else body

    def _read(self, path: str, start_response: Callable) -> list[bytes]:
        if path == "/":
            return _answer(start_response, 200, self._about())
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "checkpoint":
            latest = self.store.by_hash(parts[0])
            if latest is not None:
                return _answer(start_response, 200, latest.note)
            return _answer(start_response, 404, "this witness never cosigned that log\n")
        return _answer(start_response, 404, "not found\n")

    def _add_checkpoint(self, environ: Mapping[str, Any], start_response: Callable):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(start_response, 400, "Content-Length is not a number\n")
        if length > MAX_BODY or length < 0:
            return _answer(start_response, 413, f"a request is at most {MAX_BODY} bytes\n")
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            line = protocol.add_checkpoint(
                body,
                key=self.key,
                logs=self.logs,
                store=self.store,
                now=int(self.clock()),
            )
        except protocol.Refused as refusal:
            log.info("add-checkpoint refused (%d): %s", refusal.status, refusal.message)
            return _answer(start_response, refusal.status, refusal.body, refusal.content_type)
        return _answer(start_response, 200, line)

    def _about(self) -> str:
        lines = [f"witness {self.key.name}", f"vkey {self.key.vkey}"]
        for origin in sorted(self.logs):
            latest = self.store.latest(origin)
            size = f"cosigned size {latest.size}" if latest else "nothing cosigned yet"
            lines.append(f"log {origin} ({size}; {Store.origin_hash(origin)})")
        return "\n".join(lines) + "\n"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
}


def _answer(
    start_response: Callable,
    status: int,
    text: str,
    content_type: str = _TEXT,
    *,
    allow: str | None = None,
) -> list[bytes]:
    body = text.encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {_REASONS[status]}", headers)
    return [body]


def serve(
    application: Witness, *, host: str, port: int, threads: int = 8
) -> None:  # pragma: no cover - run by the command, tested through it
    """Serve until SIGTERM or SIGINT: gunicorn, one worker with `threads` threads."""
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("proc_name", "registry-witness")

        def load(self):
            return application

    os.environ.pop("GUNICORN_CMD_ARGS", None)  # the settings above are the witness's own
    _Server().run()
