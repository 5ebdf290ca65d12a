"""Public scans counted per certificate and day, without keeping who scanned; the copy
caution they give.

What is counted. Every public scan of a certificate (the page and the JSON) adds one to
the day's scans, and its network to the day's set of networks. A network is the client
address (as the edge gives it, after REGISTRY_PROXY_HOPS) cut to its /24 (IPv4) or /48
(IPv6), hashed with HMAC-SHA256 under the day's key and cut to 128 bits. The day is the
regions' own (REGISTRY_DISPLAY_TIMEZONE). The day's key is random, shared by every worker
(a `ScanKey` row, made by the first worker that needs it: insert, on conflict read; in
Redis a key that expires with its day) and deleted once the day is over, by the first
flush of the next day. Tomorrow's key is made a day ahead, so that no worker meets a
new day without its key. No address, prefix or unkeyed hash of one is ever stored or
logged: a hash under a forgotten key tells nothing, and a network seen on two days has
two unrelated hashes.

No write per scan. On SQLite a write per scan would take the write lock per scan; so each
worker counts in memory (`Tally`): scans per (certificate, day), and the network hashes
per (certificate, day), as flat tuples (no container per certificate for the garbage
collector to walk). A scan costs a dictionary update, and one HMAC for an address the
worker has not hashed today (it remembers the last HASHED_MAX, in memory). A flush is
due every REGISTRY_SCAN_FLUSH_SECONDS (default 5), or sooner once FLUSH_PAIRS certificates
are counted. A scan finds it due and makes the counts into a batch (Tally.hand_over),
and the worker's flushing thread writes it (registry/edge/scans.py), so no buyer waits
for the database: one transaction that inserts the day's network hashes into
`ScanNetwork` (duplicates ignored, so distinct across workers) and adds the scans and the
new networks to `ScanDay`, in a few statements that each take their rows as one JSON
text and run without the GIL. On SQLite the write lock makes it exact: the hashes are
inserted, then each certificate's networks counted again. On PostgreSQL, where flushes
run at once, the insert returns the rows it wrote and only those are added. Its commit
does not wait for the disk (counts are not records). Where Redis is configured
(RATELIMIT_STORAGE_URI redis://…), the flush is one pipeline of INCRBY and PFADD (a
HyperLogLog per certificate and day, which keeps no hash either) with expiry, and the
database is not written at all.

No read per scan. A scan reads its certificate's counts only when the certificate is
watched: seen from more networks in a window than the lowest caution limit, which each
flush finds for the certificates it counted networks for (ScanWatch; the reasoning is in
DatabaseStore.watched). Each worker reads the watched certificates after each of its
flushes, so a caution reaches every worker within a flush period. Counts in Redis have
no such list: each scan reads its certificate's (one pipeline).

Failure modes, none of which fails or slows a scan:
- The database is busy (SQLite's write lock held by an import) or unreachable, or Redis
  does not answer: the flush gives up after about 0.1 s (SQLite's busy timeout, PostgreSQL's
  lock timeout, Redis's socket timeout) and keeps its counts for the next one. A worker
  that cannot flush for long holds its counts in memory: one entry per certificate and
  day scanned.
- A worker killed (SIGKILL, the OOM killer, gunicorn's timeout) loses what it counted
  since its last flush: at most REGISTRY_SCAN_FLUSH_SECONDS of its scans and at most
  FLUSH_PAIRS certificates' worth, more when the flushes before failed. A power cut may
  also lose the counts of the last flushes (their commits do not wait for the disk). A
  worker stopped in order (SIGTERM, SIGQUIT, a restart after max_requests) flushes at
  exit. An idle worker flushes at its next scan or its exit.
- The first scans of a worker before it knows the day's key are kept as prefixes in its
  memory until the flush fetches the key (never written). A late flush of a day whose key
  is already gone hashes them under a throwaway key: they count as new networks, an
  over-count that can only bring a caution earlier.
- Counts shown lag the scans by up to one flush period (plus the caution's own cache of
  as long): well inside REGISTRY_VERDICT_MAX_AGE.

The caution. A sold code seen from more than REGISTRY_COPY_NETWORKS_SOLD (5) networks in 7
days, or an unsold one from more than REGISTRY_COPY_NETWORKS_UNSOLD (20). The 7 days'
networks are the sum of the daily distinct counts: the key changes daily, so one network
scanning on two days counts twice. That over-counts a buyer who checks a piece on
several days, and only ever makes the caution earlier; the thresholds allow for it.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from registry import db
from registry.models import Certificate, Sale, ScanDay, ScanKey, ScanNetwork, ScanWatch

log = logging.getLogger(__name__)

#: The days a caution looks at.
WINDOW_DAYS = 7
#: Bytes of a network's keyed hash kept (hex in ScanNetwork.network, 32 characters).
HASH_BYTES = 16
#: How long a flush waits for a lock before keeping its counts for the next one.
FLUSH_WAIT_S = 0.1
#: Certificates (per day) counted that make a flush due before its period is over: a
#: bound on a worker's memory, and on what one flush writes (about 0.1 s of SQLite's work
#: on this many, without the GIL, in the flushing thread).
FLUSH_PAIRS = 10_000
#: Addresses whose keyed hash a worker remembers for the day at most (then forgotten at
#: once): about 1 MB.
HASHED_MAX = 4096

Key = tuple[int, date]
#: A network seen scanning a certificate on a day: (certificate id, day, the network's
#: keyed hash), or before the day's key is known, the network itself.
Seen = tuple[int, date, bytes]


# 1. The network of an address, and its keyed hash.


def network_of(address: str | None) -> bytes | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one, as bytes tagged with the
    family; None for anything that is not an address. An IPv4-mapped IPv6 address is
    its IPv4 one. Held in memory only, never stored."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return b"4" + ip.packed[:3]
    return b"6" + ip.packed[:6]


def keyed(key: bytes, network: bytes) -> bytes:
    """The network's hash under a day's key: HMAC-SHA256, cut to HASH_BYTES."""
    return hmac.digest(key, network, hashlib.sha256)[:HASH_BYTES]


# 2. The day, in the regions' time zone, found again only when it changes.


class Days:
    """Today's date in `zone`, recomputed only once the day is over (a scan asks)."""

    def __init__(self, zone: str | ZoneInfo):
        self._zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self._today = date.min
        self._until = 0.0

    def __call__(self) -> date:
        now = time.time()
        if now >= self._until:
            current = datetime.fromtimestamp(now, self._zone)
            self._today = current.date()
            self._until = self.end_of(self._today)
        return self._today

    def end_of(self, day: date) -> float:
        """The epoch second when `day` ends in the zone."""
        following = datetime.combine(day + timedelta(days=1), datetime.min.time(), self._zone)
        return following.timestamp()


# 3. Where counts go: the database or Redis.


@dataclass(frozen=True)
class Daily:
    day: date
    scans: int
    networks: int


@dataclass(frozen=True)
class Batch:
    """Counts handed over for a flush to write, and the store's form of them."""

    scans: dict[Key, int]
    networks: set[Seen]
    #: Store.prepare's answer, or None.
    ready: Any = None
    #: Networks seen before the day's key was known (Tally.record): the flush hashes
    #: them, and the store never sees them.
    unkeyed: frozenset[Seen] = frozenset()


class Store(Protocol):
    def keys(self, days: list[date], *, today: date) -> dict[date, bytes]:
        """The keys of `days` (today's and tomorrow's are made when missing; a past
        day's is never made again); keys of days before `today` are deleted."""

    def prepare(self, scans: dict[Key, int], networks: set[Seen]) -> Any:
        """The counts as `add` writes them, made in the caller's thread (see
        Tally.hand_over), or None when `add` makes them itself."""

    def add(self, batch: Batch) -> None:
        """Add a batch of counts; raises on failure, having written nothing."""

    def daily(self, bind: Any, certificate_id: int, since: date, until: date) -> list[Daily]:
        """The certificate's days from `since` to `until`, with what was counted."""

    def scanned(self, session: Session, since: date, until: date) -> list[int]:
        """The certificates scanned on any day from `since` to `until`."""

    def watched(self, today: date) -> frozenset[int] | None:
        """The certificates whose caution a scan must read (a superset of those it holds
        for today), or None when a scan must read every certificate's."""


class DatabaseStore:
    """Counts in ScanDay and ScanNetwork; the day's key in ScanKey; in ScanWatch, the
    certificates seen from more than `watch_above` networks in a window (the lowest
    caution limit), which alone a scan reads the counts of."""

    def __init__(self, engine: Engine, *, watch_above: int = 0):
        self.engine = engine
        self.watch_above = watch_above
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # A file: db.make_engine serves no SQLite database in memory.
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._flushing = _FlushConnection(path) if path else None

    def _transaction(self, connection, body: Callable[[Any], Any], *, writes: bool = True) -> Any:
        """`body(connection)` in one short transaction that waits at most FLUSH_WAIT_S
        for a lock (SQLite's write lock, a PostgreSQL lock), and whose commit does not
        wait for the disk.

        Counts are not records: a power cut may lose the last commits' counts, as a
        killed worker loses its unflushed ones, and the database stays whole (SQLite's
        WAL, PostgreSQL's asynchronous commit). Waiting for the disk was most of a
        small flush's cost (about 1 ms of fsync on a 2 ms flush)."""
        raw = None
        token = db.writing(writes)
        try:
            if writes and self.engine.dialect.name == "sqlite":
                # Set before BEGIN IMMEDIATE (the engine's begin), which is what waits.
                raw = connection.connection.driver_connection
                raw.execute(f"PRAGMA busy_timeout = {int(FLUSH_WAIT_S * 1000)}")
                raw.execute("PRAGMA synchronous = NORMAL")
            with connection.begin():
                if self.engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        f"SET LOCAL lock_timeout = '{int(FLUSH_WAIT_S * 1000)}ms'"
                    )
                    if writes:
                        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                return body(connection)
        finally:
            db.done_writing(token)
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout = {db.SQLITE_BUSY_TIMEOUT_MS}")
                raw.execute("PRAGMA synchronous = FULL")

    def keys(self, days: list[date], *, today: date) -> dict[date, bytes]:
        wanted = sorted(set(days))

        def read(connection) -> dict[date, bytes]:
            rows = connection.execute(
                select(ScanKey.day, ScanKey.key).where(ScanKey.day.in_(wanted))
            )
            return {row.day: bytes(row.key) for row in rows}

        with self.engine.connect() as connection:
            found = self._transaction(connection, read, writes=False)
            makeable = [day for day in wanted if day >= today and day not in found]
            if not makeable and not self._stale(connection, today):
                return found

            def make(connection) -> dict[date, bytes]:
                connection.execute(delete(ScanKey).where(ScanKey.day < today))
                # Yesterday's hashes stay a day for late flushes; under a deleted key
                # they tell nothing, and the counts are in ScanDay.
                connection.execute(
                    delete(ScanNetwork).where(ScanNetwork.day < today - timedelta(days=1))
                )
                connection.execute(
                    delete(ScanWatch).where(
                        ScanWatch.last_day < today - timedelta(days=WINDOW_DAYS)
                    )
                )
                if makeable:
                    connection.execute(
                        self._insert(ScanKey).on_conflict_do_nothing(),
                        [{"day": day, "key": secrets.token_bytes(32)} for day in makeable],
                    )
                return read(connection)

            return self._transaction(connection, make)

    def _stale(self, connection, today: date) -> bool:
        def oldest(connection) -> date | None:
            return connection.execute(select(func.min(ScanKey.day))).scalar()

        first = self._transaction(connection, oldest, writes=False)
        return first is not None and first < today

    def prepare(self, scans: dict[Key, int], networks: set[Seen]) -> "_Rows":
        return _Rows.of(scans, networks)

    def add(self, batch: Batch) -> None:
        rows = batch.ready or self.prepare(batch.scans, batch.networks)
        if self._flushing is not None:
            _write_on_sqlite(self._flushing(), rows, self.watch_above)
        else:
            with self.engine.connect() as connection:
                self._transaction(
                    connection, lambda c: _write_on_postgresql(c, rows, self.watch_above)
                )

    def watched(self, today: date) -> frozenset[int]:
        """Why this is a superset of the certificates cautioned today: networks are
        only ever added by a flush, and after adding them each flush watches the
        certificates it counted networks for whose networks since a window before the
        batch's first day exceed the lowest limit, as its last day of counts. A caution
        on day T needs more than that many networks on days T-6..T; the last flush
        that added any of them counted them all, and watched the certificate with a
        last day of at least T-6. Only when a caution limit is lowered below
        `watch_above` may a certificate cautioned by the new limit go unread until it is
        counted again. On PostgreSQL two flushes at once may each miss the other's
        networks: the certificate is watched at its next flush."""
        since = today - timedelta(days=WINDOW_DAYS - 1)
        with self.engine.connect() as connection:
            rows = self._transaction(
                connection,
                lambda c: c.execute(
                    select(ScanWatch.certificate_id).where(ScanWatch.last_day >= since)
                ).all(),
                writes=False,
            )
        return frozenset(row[0] for row in rows)

    def daily(self, bind: Any, certificate_id: int, since: date, until: date) -> list[Daily]:
        return _daily(bind, certificate_id, since, until)

    def scanned(self, session: Session, since: date, until: date) -> list[int]:
        found = session.scalars(
            select(ScanDay.certificate_id)
            .where(ScanDay.day >= since, ScanDay.day <= until)
            .distinct()
            .order_by(ScanDay.certificate_id)
        )
        return list(found)


@dataclass(frozen=True)
class _Rows:
    """A batch as a flush's statements take it (SQLite's and PostgreSQL's alike): each
    kind of row as one JSON array, one parameter, which the database reads in one step.
    Its text stays the same whatever the batch, so the statement is compiled once."""

    #: [[certificate id, day, scans], …]
    scans: str
    #: [[certificate id, day, network's hash in hex], …], or None when there are none.
    hashes: str | None
    #: The first day of the window that the batch's first day ends (for the watch).
    since: str

    @classmethod
    def of(cls, scans: dict[Key, int], networks: set[Seen]) -> "_Rows":
        iso = _Iso()
        rows = json.dumps([(c, iso[d], n) for (c, d), n in scans.items()])
        hashes = json.dumps([(c, iso[d], h.hex()) for c, d, h in networks]) if networks else None
        first = min(iso) if iso else date.today()
        return cls(rows, hashes, (first - timedelta(days=WINDOW_DAYS - 1)).isoformat())


class _Iso(dict):
    """A day's ISO text, made once per day seen in a batch."""

    def __missing__(self, day: date) -> str:
        text = self[day] = day.isoformat()
        return text


class _FlushConnection:
    """The SQLite connection a worker's flushes write through: its own, opened once per
    process (a fork opens its own), and set up once for counts: a busy timeout of
    FLUSH_WAIT_S, commits that do not wait for the disk (see DatabaseStore._transaction),
    and no lookup of each count's certificate in `certificate`.

    Why its own: every statement the flushing thread runs takes the GIL back when
    SQLite is done with it, and the answering thread may then have to stop until that
    lower-priority thread is given a core. A pooled connection costs six more such
    statements a flush, to set its settings and restore them.

    Why no lookup: each id comes from a certificate that a verification has just read,
    and certificates are never deleted. The lookup, a random read into the largest
    table for every row, was 40% of a flush's work."""

    def __init__(self, path: str):
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def __call__(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(
                self.path, timeout=FLUSH_WAIT_S, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = OFF")
            self._connection, self._pid = connection, os.getpid()
        return self._connection


def _write_on_sqlite(connection: sqlite3.Connection, rows: _Rows, watch_above: int) -> None:
    """A flush on SQLite: three statements in one transaction, which holds the write
    lock, so that no other flush writes between the insert of the hashes and the count
    of them: exact. Every (certificate, day) with networks has scans too (Tally.record
    counts both)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if rows.hashes is not None:
            connection.execute(_SQLITE_HASHES, (rows.hashes,))
        connection.execute(_SQLITE_COUNT, (rows.scans,))
        if rows.hashes is not None:
            connection.execute(_SQLITE_WATCH, (rows.hashes, rows.since, watch_above))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _write_on_postgresql(connection, rows: _Rows, watch_above: int) -> None:
    """A flush on PostgreSQL, where flushes run at once: the insert of the hashes
    returns only the rows it wrote, and only those are added, so each network is counted
    once, whoever flushes it first (another worker's insert of the same hash waits for
    its commit). Rows go in the order of their keys, so that two flushes lock them in
    one order (PostgreSQL would otherwise find a deadlock)."""
    hashes = rows.hashes or "[]"
    connection.execute(_POSTGRESQL_COUNT, {"hashes": hashes, "scans": rows.scans})
    if rows.hashes is not None:
        connection.execute(
            _POSTGRESQL_WATCH, {"hashes": hashes, "since": rows.since, "above": watch_above}
        )


# The statements of a flush. Each reads its rows from a JSON parameter (_Rows): on
# SQLite, json_each(?) gives each row as `value`; on PostgreSQL, json_array_elements.
_SQLITE_HASHES = """
INSERT INTO scan_network (certificate_id, day, network)
SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
ON CONFLICT DO NOTHING
"""
# Adds the scans, and counts the networks again: exact, under the write lock.
_SQLITE_COUNT = """
INSERT INTO scan_day (certificate_id, day, scans, networks)
SELECT c, d, x, (SELECT count(*) FROM scan_network WHERE certificate_id = c AND day = d)
FROM (SELECT value ->> 0 AS c, value ->> 1 AS d, value ->> 2 AS x FROM json_each(?))
WHERE true
ON CONFLICT (certificate_id, day) DO UPDATE
SET scans = scans + excluded.scans, networks = excluded.networks
"""
# Watches the certificates counted whose networks in a window exceed the lowest caution
# limit (DatabaseStore.watched says why this suffices).
_SQLITE_WATCH = """
INSERT INTO scan_watch (certificate_id, last_day)
SELECT certificate_id, max(day) FROM scan_day
WHERE certificate_id IN (SELECT value ->> 0 FROM json_each(?)) AND day >= ?
GROUP BY certificate_id HAVING sum(networks) > ?
ON CONFLICT (certificate_id) DO UPDATE SET last_day = max(last_day, excluded.last_day)
"""
# Only the hashes no flush wrote before come back from the insert, and only those are
# added to the day's networks.
_POSTGRESQL_COUNT = text("""
WITH new AS (
    INSERT INTO scan_network (certificate_id, day, network)
    SELECT (h ->> 0)::integer, (h ->> 1)::date, h ->> 2
    FROM json_array_elements(CAST(:hashes AS json)) AS h
    ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING
    RETURNING certificate_id, day
), added AS (
    SELECT certificate_id, day, count(*) AS n FROM new GROUP BY certificate_id, day
)
INSERT INTO scan_day (certificate_id, day, scans, networks)
SELECT c, d, x, coalesce(added.n, 0)
FROM (
    SELECT (s ->> 0)::integer AS c, (s ->> 1)::date AS d, (s ->> 2)::integer AS x
    FROM json_array_elements(CAST(:scans AS json)) AS s
) AS counted
LEFT JOIN added ON added.certificate_id = c AND added.day = d
ORDER BY 1, 2
ON CONFLICT (certificate_id, day) DO UPDATE
SET scans = scan_day.scans + excluded.scans, networks = scan_day.networks + excluded.networks
""")
_POSTGRESQL_WATCH = text("""
INSERT INTO scan_watch (certificate_id, last_day)
SELECT certificate_id, max(day) FROM scan_day
WHERE certificate_id IN (
    SELECT (h ->> 0)::integer FROM json_array_elements(CAST(:hashes AS json)) AS h
) AND day >= CAST(:since AS date)
GROUP BY certificate_id HAVING sum(networks) > :above
ORDER BY 1
ON CONFLICT (certificate_id) DO UPDATE
SET last_day = greatest(scan_watch.last_day, excluded.last_day)
""")


# The caution's read: one range of the primary key (certificate_id, day).
_DAILY = db.Prepared(
    select(ScanDay.day, ScanDay.scans, ScanDay.networks)
    .where(
        ScanDay.certificate_id == bindparam("certificate_id"),
        ScanDay.day >= bindparam("since"),
        ScanDay.day <= bindparam("until"),
    )
    .order_by(ScanDay.day)
)


def _daily(bind: Any, certificate_id: int, since: date, until: date) -> list[Daily]:
    rows = _DAILY.all(bind, certificate_id=certificate_id, since=since, until=until)
    return [Daily(row["day"], row["scans"], row["networks"]) for row in rows]


class RedisStore:
    """Counts in Redis: INCRBY and PFADD per certificate and day, kept two weeks; the
    day's key expires when the day ends. Shared by every worker and machine."""

    #: Days the counts are kept: the caution's window, and as long again to say since when.
    KEEP_DAYS = 2 * WINDOW_DAYS

    def __init__(self, client: Any, *, prefix: str, days: Days):
        self.client = client
        self._prefix = f"{prefix}:scans"
        self._days = days

    def _name(self, kind: str, day: date, certificate_id: int | None = None) -> str:
        if certificate_id is None:
            return f"{self._prefix}:{kind}:{day.isoformat()}"
        return f"{self._prefix}:{kind}:{certificate_id}:{day.isoformat()}"

    def keys(self, days: list[date], *, today: date) -> dict[date, bytes]:
        wanted = sorted(set(days))
        pipe = self.client.pipeline(transaction=False)
        for day in wanted:
            if day >= today:
                # Forgotten by Redis itself when the day is over.
                pipe.set(
                    self._name("key", day),
                    secrets.token_bytes(32),
                    nx=True,
                    exat=int(self._days.end_of(day)) + 1,
                )
        for day in wanted:
            pipe.get(self._name("key", day))
        answers = pipe.execute()[-len(wanted) :] if wanted else []
        return {day: bytes(key) for day, key in zip(wanted, answers, strict=True) if key}

    def prepare(self, scans: dict[Key, int], networks: set[Seen]) -> None:
        """None: the pipeline is built where it is sent."""
        return None

    def add(self, batch: Batch) -> None:
        scans = batch.scans
        grouped: dict[Key, list[bytes]] = {}
        for certificate_id, day, found in batch.networks:
            grouped.setdefault((certificate_id, day), []).append(found)
        pipe = self.client.pipeline(transaction=True)
        for (certificate_id, day), n in scans.items():
            expires = int(self._days.end_of(day)) + self.KEEP_DAYS * 86400
            pipe.incrby(self._name("n", day, certificate_id), n)
            pipe.expireat(self._name("n", day, certificate_id), expires)
            pipe.sadd(self._name("seen", day), certificate_id)
            pipe.expireat(self._name("seen", day), expires)
        for (certificate_id, day), hashes in grouped.items():
            if hashes:
                expires = int(self._days.end_of(day)) + self.KEEP_DAYS * 86400
                pipe.pfadd(self._name("net", day, certificate_id), *hashes)
                pipe.expireat(self._name("net", day, certificate_id), expires)
        pipe.execute()

    def daily(self, bind: Any, certificate_id: int, since: date, until: date) -> list[Daily]:
        days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
        pipe = self.client.pipeline(transaction=False)
        for day in days:
            pipe.get(self._name("n", day, certificate_id))
            pipe.pfcount(self._name("net", day, certificate_id))
        answers = pipe.execute()
        found = []
        for i, day in enumerate(days):
            n, networks = answers[2 * i], answers[2 * i + 1]
            if n:
                found.append(Daily(day, int(n), int(networks)))
        return found

    def watched(self, today: date) -> None:
        """None: a scan reads its counts from Redis (one pipeline), whatever it is."""
        return None

    def scanned(self, session: Session, since: date, until: date) -> list[int]:
        names = [
            self._name("seen", since + timedelta(days=i)) for i in range((until - since).days + 1)
        ]
        return sorted(int(member) for member in self.client.sunion(names))


def add_days(session: Session, certificate_id: int, days: Iterable[Daily]) -> None:
    """Counts of earlier days, as flushes would have left them (the demo's copied code):
    the days' rows, and the certificate watched if any network was counted."""
    days = list(days)
    for daily in days:
        session.add(
            ScanDay(
                certificate_id=certificate_id,
                day=daily.day,
                scans=daily.scans,
                networks=daily.networks,
            )
        )
    seen = [daily.day for daily in days if daily.networks]
    if seen:
        session.merge(ScanWatch(certificate_id=certificate_id, last_day=max(seen)))


# 4. The counter of one worker.


class Tally:
    """Scans counted in this worker's memory, flushed to `store` in batches.

    `record` is what a scan costs; it answers True once per flush period, when the
    caller should `hand_over` the counts and have them flushed (registry.edge.scans does
    in the worker's flushing thread). Thread-safe, for the development server and
    threaded workers; a sync worker never contends.
    """

    def __init__(
        self,
        store: Store,
        *,
        flush_seconds: float,
        today: Callable[[], date],
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ):
        self.store = store
        self.enabled = enabled
        self.today = today
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._due = clock() + flush_seconds
        # A flush was asked for by the count of pairs and has not run yet.
        self._asked = False
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        # Held as flat tuples in one dict and two sets, which the garbage collector
        # stops tracking: a set per certificate kept thousands of containers alive until
        # the flush, and every full collection walked them (some 30 µs a scan).
        self._scans: dict[Key, int] = {}
        #: (certificate id, day, the network's keyed hash)
        self._networks: set[Seen] = set()
        #: (certificate id, day, the network itself), seen before this worker knew the
        #: day's key: in memory only.
        self._unkeyed: set[Seen] = set()
        self._keys: dict[date, bytes] = {}
        #: Batches made by hand_over, for the next flush.
        self._handed: list[Batch] = []
        # Today's keyed hash of each address seen lately (memory only, like the
        # addresses themselves): a buyer's second scan, a shop's network or a carrier's
        # shared one costs a lookup instead of a parse and an HMAC.
        self._hashed: dict[str, bytes] = {}
        self._hashed_day = date.min
        #: The certificates whose caution a scan reads (Store.watched), as of the last
        #: flush; None until first read, or when the store has no such list.
        self.watched: frozenset[int] | None = None
        self._watched_read = False

    def record(self, certificate_id: int, address: str | None) -> bool:
        """Count one scan of the certificate from `address`; True when a flush is due."""
        if not self.enabled:
            return False
        day = self.today()
        counted = (certificate_id, day)
        with self._lock:
            self._scans[counted] = self._scans.get(counted, 0) + 1
            if day != self._hashed_day or len(self._hashed) >= HASHED_MAX:
                self._hashed = {}
                self._hashed_day = day
            found = self._hashed.get(address) if address else None
            if found is not None:
                self._networks.add((certificate_id, day, found))
            elif address and (network := network_of(address)) is not None:
                key = self._keys.get(day)
                if key is not None:
                    found = keyed(key, network)
                    self._hashed[address] = found
                    self._networks.add((certificate_id, day, found))
                else:
                    self._unkeyed.add((certificate_id, day, network))
            now = self._clock()
            if now < self._due and (self._asked or len(self._scans) < FLUSH_PAIRS):
                return False
            self._due = now + self._flush_seconds
            self._asked = True
            return True

    def hand_over(self) -> None:
        """Make what is counted into a batch for the next flush, in the calling thread.

        registry.edge.scans calls this in the answering thread, once a flush period, so
        that the Python work of a batch (Store.prepare, about 2 µs a certificate) runs at
        the worker's own priority. The flushing thread, which runs at a lower one, then
        holds the GIL for next to nothing: on a busy machine a thread of lower priority
        that holds it stops the answers until it is given a core again (for up to 0.7 s
        when it made the batch itself, with the cores kept busy)."""
        with self._lock:
            scans, self._scans = self._scans, {}
            networks, self._networks = self._networks, set()
            unkeyed, self._unkeyed = self._unkeyed, set()
        if not scans and not networks and not unkeyed:
            return
        # Networks hashed late join their batch in the flush, which prepares it then.
        ready = None if unkeyed else self.store.prepare(scans, networks)
        batch = Batch(scans, networks, ready, frozenset(unkeyed))
        with self._lock:
            self._handed.append(batch)

    @property
    def pending(self) -> int:
        """Scans counted and not yet flushed."""
        with self._lock:
            handed = sum(sum(batch.scans.values()) for batch in self._handed)
            return handed + sum(self._scans.values())

    @property
    def flushing(self) -> bool:
        """A flush is under way (in another thread, or this one)."""
        return self._flushing.locked()

    def flush(self, wait: float = 0, *, handed_only: bool = False, last: bool = False) -> bool:
        """Write the batches handed over and, unless `handed_only`, what is counted
        since; on failure keep them for the next flush (none when `last`: the process is
        ending). Never raises. True when all is written. Waits up to `wait` seconds for a
        flush under way in another thread, else leaves it at that."""
        if not self._flushing.acquire(timeout=wait if wait > 0 else -1, blocking=wait > 0):
            return False  # another thread is flushing
        try:
            if not handed_only:
                self.hand_over()
            with self._lock:
                self._asked = False
                batches, self._handed = self._handed, []
            written = True
            for n, batch in enumerate(batches):
                try:
                    self.store.add(self._keyed(batch))
                except IntegrityError as exc:
                    # A certificate id that is no certificate (PostgreSQL checks them): no
                    # flush could ever write this batch, so it is dropped, not retried.
                    scans = sum(batch.scans.values())
                    log.error("scan counts dropped, %d scans: %s", scans, exc.orig)
                    written = False
                except Exception as exc:  # noqa: BLE001 - any failure keeps the counts
                    self._keep(batches[n:])
                    scans = sum(sum(kept.scans.values()) for kept in batches[n:])
                    fate = "lost at exit" if last else "kept for the next flush"
                    log.warning("scan counts %s (%d scans): %s", fate, scans, _reason(exc))
                    return False
            if not last:
                self._watch()
            return written
        finally:
            self._flushing.release()

    def watching(self) -> frozenset[int] | None:
        """The certificates whose caution a scan reads (see `watched`); the first call
        reads them, later ones answer what the last flush read."""
        if not self._watched_read:
            self._watch()
        return self.watched

    def _watch(self) -> None:
        """Read the store's watched certificates again. On failure it keeps what it had
        or, with nothing, leaves `watched` None, so that scans read every caution."""
        try:
            self.watched = self.store.watched(self.today())
            self._watched_read = True
        except Exception as exc:  # noqa: BLE001 - a scan then reads its counts itself
            log.warning("the watched certificates were not read: %s", _reason(exc))

    def _keyed(self, batch: Batch) -> Batch:
        """The batch with its networks seen before the day's key hashed (fetching
        today's and tomorrow's keys when this worker has not got them)."""
        late = self._hash_unkeyed(batch.unkeyed)
        if not late:
            return batch
        return Batch(batch.scans, batch.networks | late)

    def _hash_unkeyed(self, unkeyed: Iterable[Seen]) -> set[Seen]:
        """The prefixes counted before the day's key was known, hashed (fetching today's
        and tomorrow's keys, and forgetting older ones, as a side effect)."""
        today = self.today()
        wanted = [today, today + timedelta(days=1)]
        unkeyed = set(unkeyed)
        if any(day not in self._keys for day in wanted) or unkeyed:
            wanted += sorted({day for _, day, _ in unkeyed} - set(wanted))
            keys = self.store.keys(wanted, today=today)
            with self._lock:
                self._keys = {day: key for day, key in keys.items() if day >= today}
        else:
            keys = self._keys
        # A day whose key is gone: a throwaway key, so they count as new networks.
        throwaway: dict[date, bytes] = {}
        hashed = set()
        for certificate_id, day, prefix in unkeyed:
            key = keys.get(day) or throwaway.setdefault(day, secrets.token_bytes(32))
            hashed.add((certificate_id, day, keyed(key, prefix)))
        return hashed

    def _keep(self, batches: list[Batch]) -> None:
        with self._lock:
            for batch in batches:
                for counted, n in batch.scans.items():
                    self._scans[counted] = self._scans.get(counted, 0) + n
                self._networks |= batch.networks
                self._unkeyed |= batch.unkeyed


def _reason(exc: Exception) -> str:
    """What went wrong, without the statement or its parameters (the network hashes)."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}"
    if isinstance(exc, SQLAlchemyError):
        return type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


# 5. The caution.


@dataclass(frozen=True)
class Limits:
    """More networks than these in WINDOW_DAYS days make a caution."""

    sold: int = 5
    unsold: int = 20

    def of(self, sold: bool) -> int:
        return self.sold if sold else self.unsold


def began(days: Iterable[Daily], limit: int, today: date) -> date | None:
    """The day the caution began, or None when it does not hold today.

    It holds on a day when the networks of the WINDOW_DAYS days ending then exceed
    `limit`; it began on the first day of the run of such days that reaches today,
    looked for as far back as the days given (2 × WINDOW_DAYS - 1 suffice for a week).
    """
    networks = {d.day: d.networks for d in days}

    def holds(end: date) -> bool:
        return sum(networks.get(end - timedelta(days=i), 0) for i in range(WINDOW_DAYS)) > limit

    if not holds(today):
        return None
    since = today
    oldest = today - timedelta(days=WINDOW_DAYS - 1)
    while since > oldest and holds(since - timedelta(days=1)):
        since -= timedelta(days=1)
    return since


def lookback(today: date) -> date:
    """The first day `began` needs to say since when, within a week."""
    return today - timedelta(days=2 * WINDOW_DAYS - 2)


def caution(
    bind: Any,
    certificate_id: int,
    sold: bool,
    *,
    today: date,
    store: Store | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, shared on purpose
) -> date | None:
    """The date the certificate's copy caution began, or None: one indexed read (or one
    Redis pipeline). `bind` is an Engine, a Session or a `db.Reader`."""
    read = store.daily if store is not None else _daily
    days = read(bind, certificate_id, lookback(today), today)
    return began(days, limits.of(sold), today)


# 6. The inspectors' queue.


@dataclass(frozen=True)
class Flagged:
    certificate: Certificate
    sold: bool
    since: date
    #: The window's days, oldest first, each with its counts (zero when none).
    days: list[Daily]

    @property
    def networks(self) -> int:
        return sum(d.networks for d in self.days)

    @property
    def scans(self) -> int:
        return sum(d.scans for d in self.days)


def flagged(
    session: Session,
    store: Store,
    *,
    today: date,
    limits: Limits = Limits(),  # noqa: B008 - frozen, shared on purpose
    limit: int = 200,
) -> list[Flagged]:
    """Certificates whose caution holds today, the most networks first, each with its
    daily counts of the window."""
    found: list[Flagged] = []
    for certificate_id in store.scanned(session, today - timedelta(days=WINDOW_DAYS - 1), today):
        days = store.daily(session, certificate_id, lookback(today), today)
        certificate = session.get(Certificate, certificate_id)
        if certificate is None:
            continue
        sold = _sold(session, certificate.piece_id)
        since = began(days, limits.of(sold), today)
        if since is None:
            continue
        by_day = {d.day: d for d in days}
        window = [today - timedelta(days=i) for i in range(WINDOW_DAYS - 1, -1, -1)]
        found.append(
            Flagged(
                certificate,
                sold,
                since,
                [by_day.get(day, Daily(day, 0, 0)) for day in window],
            )
        )
    found.sort(key=lambda f: (-f.networks, f.since, f.certificate.id))
    return found[:limit]


def _sold(session: Session, piece_id: int) -> bool:
    standing = select(Sale.id).where(Sale.piece_id == piece_id, Sale.cancelled_at.is_(None))
    return session.scalar(standing.limit(1)) is not None
