"""Long writes (an import, a batch of attestations) committed in chunks.

A write of thousands of rows must not hold SQLite's write lock, or the log's head on
PostgreSQL, for its whole run: a buyer's sale or a sign-in would wait for it. So it is
cut into chunks, each its own transaction, committed in turn; its report says exactly
which rows were stored.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import db

log = logging.getLogger(__name__)

Row = TypeVar("Row")

#: Rows written per transaction at most.
CHUNK_ROWS = 2_000
#: How long a chunk should hold the lock: the next chunk's size follows the rows per
#: second of the last, so that a sign-in or a sale waiting for the lock waits about this
#: long however slow the rows (photos, a loaded machine), never the seconds 500 rows can
#: take.
CHUNK_SECONDS = 0.4
_CHUNK_MIN_ROWS = 10
#: How long a long write waits between two chunks on SQLite when another writer waits
#: for the write lock (db.writers_waiting): that writer looks again every millisecond;
#: without the wait the next chunk would take the lock back first.
SQLITE_TURN_S = 0.02


def committed(
    session: Session,
    rows: Sequence[Row],
    write: Callable[[Sequence[Row]], list[dict[str, Any]]],
    *,
    unstored: Callable[[Sequence[Row], Sequence[Row]], list[dict[str, Any]]],
    most: int | None = None,
    what: str = "write",
) -> Iterator[list[dict[str, Any]]]:
    """Write `rows` in chunks of at most `most` rows (CHUNK_ROWS) that each take about
    CHUNK_SECONDS, committing each; yields the report entries so far after each commit,
    the last yield covering every row.

    `write` writes a chunk and returns an entry per row. A failure in the first chunk is
    raised, nothing stored (the caller rolls back). One in a later chunk rolls that chunk
    back and ends the write: the chunks before it stay stored, and its rows and every one
    after get the entries `unstored(rest, failed)` makes of them.
    """
    most = most or CHUNK_ROWS
    size = min(most, _CHUNK_MIN_ROWS * 5)  # a first guess; each chunk then sets the next
    engine = session.get_bind()
    report: list[dict[str, Any]] = []
    start = 0
    while start < len(rows):
        if start and isinstance(engine, Engine) and db.writers_waiting(engine):
            time.sleep(SQLITE_TURN_S)
        part = rows[start : start + size]
        began = time.monotonic()
        try:
            done = write(part)
            session.commit()
        except Exception:
            session.rollback()
            if not start:
                raise
            # Whatever the failure, the chunks before it are stored: the report says so.
            log.exception("%s stopped after %d rows", what, start)
            report.extend(unstored(rows[start:], part))
            yield report
            return
        report.extend(done)
        yield report
        start += len(part)
        per_second = len(part) / max(time.monotonic() - began, 1e-3)
        size = max(min(most, _CHUNK_MIN_ROWS), min(most, int(per_second * CHUNK_SECONDS)))
    if not rows:
        yield report
