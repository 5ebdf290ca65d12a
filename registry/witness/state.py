"""What a witness remembers: per log, the newest checkpoint it cosigned.

One file per log (named by the SHA-256 of its origin, as the monitoring URL is), so
that a witness of many rarely active logs reads and writes only the one in hand. A
request checks the stored size and replaces it under an exclusive lock on that log
(flock, so across threads, workers and processes alike), and the file is replaced
whole and synced, directory included, before the answer is sent: a cosignature is never
given for a state that a crash could take back (the spec's rollback race).
"""

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keys import write_atomically


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint cosigned of a log."""

    size: int
    root: bytes
    #: The checkpoint as served to monitors: its text, the log's signatures that were
    #: verified, and the witness's cosignature.
    note: str
    #: When it was cosigned (POSIX seconds).
    cosigned_at: int


class Store:
    """The per-log files under `directory`/logs."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory) / "logs"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    @staticmethod
    def origin_hash(origin: str) -> str:
        return hashlib.sha256(origin.encode()).hexdigest()

    def _path(self, origin: str, suffix: str) -> Path:
        return self.directory / f"{self.origin_hash(origin)}{suffix}"

    def latest(self, origin: str) -> Latest | None:
        """The newest checkpoint cosigned of the log, read without the lock (a file is
        only ever replaced whole)."""
        return self._read(self._path(origin, ".json"))

    def by_hash(self, origin_hash: str) -> Latest | None:
        if len(origin_hash) != 64 or any(c not in "0123456789abcdef" for c in origin_hash):
            return None
        return self._read(self.directory / f"{origin_hash}.json")

    @contextmanager
    def locked(self, origin: str) -> Iterator["Held"]:
        """The log's state, held exclusively until the block ends."""
        descriptor = os.open(self._path(origin, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield Held(self, origin, self.latest(origin))
        finally:
            os.close(descriptor)  # and the lock with it

    def _write(self, origin: str, latest: Latest) -> None:
        record = {
            "origin": origin,
            "size": latest.size,
            "root": base64.b64encode(latest.root).decode(),
            "note": latest.note,
            "cosigned_at": latest.cosigned_at,
        }
        write_atomically(self._path(origin, ".json"), json.dumps(record, indent=1).encode())

    @staticmethod
    def _read(path: Path) -> Latest | None:
        try:
            record = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        return Latest(
            size=int(record["size"]),
            root=base64.b64decode(record["root"]),
            note=record["note"],
            cosigned_at=int(record["cosigned_at"]),
        )


@dataclass
class Held:
    """A log's state under its lock: what it was, and `replace` to move it on."""

    store: Store
    origin: str
    latest: Latest | None

    def replace(self, latest: Latest) -> None:
        """Store `latest` durably (the caller answers only after this returns)."""
        self.store._write(self.origin, latest)
        self.latest = latest
