"""The inspectors' audit: the log's events found by maker, piece, certificate, type,
actor and time, a page at a time or as one CSV export streamed row by row."""

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from registry import codes
from registry.errors import NotFound, RegistryError
from registry.log import ledger, merkle
from registry.models import Certificate, Event, Maker

#: Rows fetched from the database at a time while exporting.
_EXPORT_BATCH = 1000

CSV_COLUMNS = (
    "index",
    "at",
    "action",
    "actor_role",
    "actor_id",
    "maker",
    "piece",
    "certificate",
    "data",
    "leaf_hash",
)


def _query(session: Session, filters: dict[str, Any]) -> Select:
    query = select(Event.log_index, Event.entry).order_by(Event.log_index)
    if "maker" in filters:
        maker_id = session.scalar(select(Maker.id).where(Maker.slug == filters["maker"]))
        if maker_id is None:
            raise NotFound(f"No maker has the slug {filters['maker']!r}.")
        query = query.where(Event.maker_id == maker_id)
    if "piece" in filters:
        query = query.where(Event.piece_id == filters["piece"])
    if "certificate" in filters:
        try:
            code = codes.readable(codes.parse(filters["certificate"]))
        except RegistryError as exc:
            said = exc.errors or {}
            raise type(exc)(exc.detail, errors={"certificate": said["code"]}) from None
        certificate_id = select(Certificate.id).where(Certificate.code == code).scalar_subquery()
        query = query.where(Event.certificate_id == certificate_id)
    if filters.get("type"):
        query = query.where(Event.action.in_(filters["type"]))
    if "actor" in filters:
        query = query.where(Event.actor_id == filters["actor"])
    if "actor_role" in filters:
        query = query.where(Event.actor_role == filters["actor_role"])
    if "since" in filters:
        query = query.where(Event.occurred_at >= filters["since"])
    if "until" in filters:
        query = query.where(Event.occurred_at < filters["until"])
    return query


def page(
    session: Session, filters: dict[str, Any], *, after: int | None, limit: int
) -> tuple[list[tuple[int, bytes]], int | None]:
    """Up to `limit` matching (index, entry) after index `after`, and the next cursor."""
    query = _query(session, filters)
    if after is not None:
        query = query.where(Event.log_index > after)
    rows = [
        (index, ledger.stored_bytes(entry))
        for index, entry in session.execute(query.limit(limit + 1))
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1][0] if more else None


def export_csv(session: Session, filters: dict[str, Any]) -> Callable[[Session], Iterator[str]]:
    """The matching events as CSV, a line at a time: never the whole export in memory.

    The filters are checked now, so that a bad one is refused before a response starts;
    the lines are read when the returned function is called with the session that lives
    as long as the response's body (a streamed body outlives its view's session).
    """
    query = _query(session, filters).execution_options(yield_per=_EXPORT_BATCH)

    def lines(reading: Session) -> Iterator[str]:
        result = reading.execute(query)
        try:
            yield from _lines(result)
        finally:
            # A client that stops reading must not leave PostgreSQL's cursor to the
            # garbage collector, after its transaction is gone.
            result.close()

    return lines


def _lines(result) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for index, stored in result:
        entry = ledger.stored_bytes(stored)
        try:
            event = json.loads(entry)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {"data": entry.decode("utf-8", "replace")}
        actor = event.get("actor") or {}
        yield line(
            (
                index,
                event.get("at"),
                event.get("action"),
                actor.get("role"),
                actor.get("id", ""),
                event.get("maker") or "",
                event.get("piece") or "",
                event.get("certificate") or "",
                json.dumps(event.get("data"), ensure_ascii=False, separators=(",", ":")),
                merkle.leaf_hash(entry).hex(),
            )
        )


def flat(index: int, entry: bytes) -> bytes:
    """An entry as an audit event: its own members, after its index (no re-encoding)."""
    entry = ledger.as_json(entry)
    if not entry.startswith(b"{"):
        return b'{"index":%d,"unreadable":%s}' % (index, entry)
    separator = b"" if entry[1:].lstrip().startswith(b"}") else b","
    return b'{"index":%d%s%s' % (index, separator, entry[1:])
