"""Public scans counted per certificate and day without keeping who scanned, and the
copy caution they give (registry/scans.py), on SQLite and PostgreSQL (and Redis, where
REGISTRY_TEST_REDIS_URL names one)."""

import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, make_url, select, text

from registry import create_app, db, migrate, scans
from registry.edge import database
from registry.edge import scans as edge_scans
from registry.models import Certificate, ScanDay, ScanKey, ScanNetwork
from tests.factories import EMAILS, bearer, certify, sign_in, with_passwords

REDIS_URL = os.environ.get("REGISTRY_TEST_REDIS_URL")

#: Twelve clients in twelve /24 networks, none of them 127.0.0.1 (the test client's).
TWELVE = [f"100.{64 + i}.{200 + i}.{17 + i}" for i in range(12)]
DAY = date(2025, 3, 10)


class Today:
    """A day the test moves on."""

    def __init__(self, day: date = DAY):
        self.day = day

    def __call__(self) -> date:
        return self.day


def _certificate(client, world, session) -> tuple[int, str]:
    code = certify(client, world)[1]["code"]
    session.rollback()  # a fresh look
    return session.scalar(select(Certificate.id).where(Certificate.code == code)), code


@pytest.fixture
def certified(client, world, session) -> list[tuple[int, str]]:
    """Two certified pieces of world.maker's: (certificate id, code) each."""
    return [_certificate(client, world, session) for _ in range(2)]


def _tally(app, today: Today) -> scans.Tally:
    """A worker's counter over the app's database, on the test's day, flushed by hand."""
    store = scans.DatabaseStore(app.extensions["registry.engine"])
    return scans.Tally(store, flush_seconds=3600, today=today)


def _days(session) -> dict[tuple[int, date], tuple[int, int]]:
    session.rollback()  # a fresh look
    rows = session.execute(select(ScanDay)).scalars()
    return {(r.certificate_id, r.day): (r.scans, r.networks) for r in rows}


def test_scans_and_distinct_networks_are_counted_per_certificate_and_day(app, certified, session):
    (one, _), (two, _) = certified
    today = Today()
    worker, other_worker = _tally(app, today), _tally(app, today)
    for address in ("10.1.2.3", "10.1.2.99", "10.1.3.1"):
        worker.record(one, address)
    worker.record(two, "10.1.2.3")
    assert _days(session) == {}  # nothing is written per scan
    assert worker.flush()
    today.day = DAY + timedelta(days=1)
    worker.record(one, "10.1.2.3")
    other_worker.record(one, "10.1.2.200")  # another worker, the same /24
    other_worker.record(one, None)  # a scan without an address still counts
    assert worker.flush() and other_worker.flush()
    assert _days(session) == {
        (one, DAY): (3, 2),
        (two, DAY): (1, 1),
        (one, DAY + timedelta(days=1)): (3, 1),
    }


def test_thirty_scans_from_twelve_networks_caution_a_sold_code_and_one_network_never(
    app, certified, caplog, session
):
    (one, _), (two, _) = certified
    engine = app.extensions["registry.engine"]
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        for i in range(30):
            edge_scans.record(one, TWELVE[i % 12])
            edge_scans.record(two, f"100.99.7.{i + 1}")  # thirty hosts of one /24
        assert edge_scans.flush()
        today = edge_scans.state().tally.today()
        assert edge_scans.caution(engine, one, True) == today
        assert edge_scans.caution(engine, one, False) is None  # 12 is not more than 20
        assert edge_scans.caution(engine, two, True) is None
        assert edge_scans.caution(engine, two, False) is None
        assert [f.certificate.id for f in edge_scans.flagged(database.session())] == []
    _assert_forgotten(app, TWELVE, caplog, session)


def test_an_unsold_code_is_cautioned_beyond_twenty_networks_and_since_the_day_it_crossed(
    app, certified
):
    (one, _), _ = certified
    engine = app.extensions["registry.engine"]
    today = Today()
    worker = _tally(app, today)
    # 8 networks a day for three days: 8, 16, then 24 (> 20) in the week.
    for n in range(3):
        for i in range(8):
            worker.record(one, f"100.{64 + n}.{i}.1")
        assert worker.flush()
        today.day += timedelta(days=1)
    last = today.day - timedelta(days=1)
    assert scans.caution(engine, one, False, today=last) == last
    # A week on, still within the window: it began that day.
    assert scans.caution(engine, one, False, today=last + timedelta(days=4)) == last
    # Once the first day leaves the window, 16 networks remain: no caution.
    assert scans.caution(engine, one, False, today=DAY + timedelta(days=7)) is None
    # Sold, it began the day the networks passed 5 (the first).
    assert scans.caution(engine, one, True, today=last) == DAY


def test_only_certificates_seen_from_more_networks_than_the_lowest_limit_are_read_by_scans(
    app, certified
):
    """A scan reads no counts unless its certificate is watched: seen from more networks
    in a window than the lowest caution limit, as the last flush of any worker found."""
    (one, _), (two, _) = certified
    today = Today()
    store = scans.DatabaseStore(app.extensions["registry.engine"], watch_above=5)
    worker = scans.Tally(store, flush_seconds=3600, today=today)
    other = scans.Tally(
        scans.DatabaseStore(app.extensions["registry.engine"], watch_above=5),
        flush_seconds=3600,
        today=today,
    )
    assert worker.watching() == other.watching() == frozenset()
    for i in range(5):
        worker.record(one, f"100.70.{i}.1")
        worker.record(two, f"100.71.{i}.1")
    assert worker.flush()
    assert worker.watched == frozenset()  # five is no more than five
    # Days later, a sixth network: six in the window from the first day on.
    today.day = DAY + timedelta(days=3)
    worker.record(one, "100.70.9.1")
    assert worker.flush()
    assert worker.watched == {one}
    # Another worker learns it from its own next flush, even with nothing to write.
    assert other.watched == frozenset()
    assert other.flush()
    assert other.watched == {one}
    # Watched while a caution could hold: through the sixth day after the last counted.
    today.day = DAY + timedelta(days=9)
    assert other.flush() and other.watched == {one}
    engine = app.extensions["registry.engine"]
    assert scans.caution(engine, one, True, today=today.day) is None  # the exact read
    today.day = DAY + timedelta(days=10)
    assert other.flush() and other.watched == frozenset()


def test_a_scan_of_an_unwatched_certificate_reads_no_counts(app, client, certified, monkeypatch):
    """What the watch spares every scan: no read of the counts, unless watched."""
    (one, quiet), (two, copied) = certified
    read: list[int] = []
    daily = scans._daily

    def spied(bind, certificate_id, since, until):
        read.append(certificate_id)
        return daily(bind, certificate_id, since, until)

    monkeypatch.setattr(scans, "_daily", spied)
    with app.app_context():
        for i in range(12):
            edge_scans.record(two, TWELVE[i])
        assert edge_scans.flush()
    assert client.get(f"/api/v1/verify/{quiet}").status_code == 200
    assert read == []
    verdict = client.get(f"/api/v1/verify/{copied}").json
    assert read == [two]
    # Unsold, twelve networks are no caution (more than 20 are): read, and none.
    assert "possible_copy" not in [alert["kind"] for alert in verdict["alerts"]]


def test_an_upgrade_watches_the_certificates_counted_before_it(
    app, certified, database_url, session
):
    """Counts written before the watch existed: the migration watches every certificate
    with a network in the last week, so their scans read them as before."""
    (one, _), (two, _) = certified
    session.close()  # PostgreSQL's DROP TABLE waits for every open transaction's locks
    engine = db.make_engine(database_url)
    migrate.downgrade(engine, "0009")
    recent = date.today() - timedelta(days=2)
    with engine.begin() as connection:
        for certificate_id, day, networks in (
            (one, recent, 3),
            (two, recent - timedelta(days=30), 9),
        ):
            connection.execute(
                text(
                    "INSERT INTO scan_day (certificate_id, day, scans, networks)"
                    " VALUES (:c, :d, :n, :n)"
                ),
                {"c": certificate_id, "d": day, "n": networks},
            )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT certificate_id, last_day FROM scan_watch")).all()
    engine.dispose()
    assert [(row[0], date.fromisoformat(str(row[1]))) for row in rows] == [(one, recent)]


def test_a_busy_worker_flushes_small_batches_before_its_period_is_over(app, certified, session):
    """A flush of a busy worker's whole period held it for tens of ms, and the scans queued
    behind it waited: the flush is due once FLUSH_PAIRS certificate-days are counted."""
    (one, _), _ = certified
    today = Today()
    worker = _tally(app, today)  # a period of an hour
    asked = []
    for i in range(scans.FLUSH_PAIRS + 5):
        today.day = DAY + timedelta(days=i)  # a certificate-day each
        asked.append(worker.record(one, "10.1.2.3"))
    # Asked once, at the FLUSH_PAIRS-th, and not again while that flush has not run.
    assert [i for i, due in enumerate(asked) if due] == [scans.FLUSH_PAIRS - 1]
    assert worker.flush()
    assert len(_days(session)) == scans.FLUSH_PAIRS + 5
    assert set(_days(session).values()) == {(1, 1)}
    assert not worker.record(one, "10.1.2.3")  # an hour's period and one pair: not due


def test_the_scan_that_finds_a_flush_due_makes_the_batch_and_the_flushing_thread_only_writes_it(
    app, certified, session
):
    """The flushing thread runs at a lower priority: made there, a batch held the GIL while
    that thread waited for a core, and the answers waited with it. The scan that finds a
    flush due makes it; the thread writes what it was given, and what is counted after
    the hand-over waits for the next period."""
    (one, _), (two, _) = certified
    worker = _tally(app, Today())
    worker.record(one, "100.70.1.1")
    assert worker.flush()  # the first flush fetches the day's key
    made_in: list[str] = []
    written: list[tuple[str, object]] = []
    prepare, add = worker.store.prepare, worker.store.add

    def prepare_and_say_where(*args):
        made_in.append(threading.current_thread().name)
        return prepare(*args)

    def add_and_say_what(batch):
        written.append((threading.current_thread().name, batch.ready))
        return add(batch)

    worker.store.prepare = prepare_and_say_where
    worker.store.add = add_and_say_what
    worker.record(one, "100.72.1.2")
    worker.record(two, "100.72.1.2")
    worker.hand_over()
    worker.record(two, "100.71.1.1")  # after the hand-over: the next period's
    flushing = threading.Thread(target=worker.flush, kwargs={"handed_only": True}, name="flush")
    flushing.start()
    flushing.join(10)
    assert made_in == [threading.current_thread().name]
    assert len(written) == 1 and written[0][0] == "flush" and written[0][1] is not None
    assert _days(session) == {(one, DAY): (2, 2), (two, DAY): (1, 1)}
    assert worker.pending == 1
    assert worker.flush()
    assert _days(session) == {(one, DAY): (2, 2), (two, DAY): (2, 2)}


def test_ipv6_addresses_count_by_their_48_and_ipv4_mapped_by_their_24(app, certified, session):
    same = scans.network_of("2001:db8:1234:5678::1")
    assert same == scans.network_of("2001:db8:1234:ffff:1:2:3:4")
    assert same != scans.network_of("2001:db8:1235::1")
    assert scans.network_of("::ffff:100.64.1.9") == scans.network_of("100.64.1.200")
    assert scans.network_of("not an address") is None
    assert scans.network_of(None) is None

    (one, _), _ = certified
    worker = _tally(app, Today())
    for address in ("2001:db8:1234:5678::1", "2001:db8:1234:9::2", "2001:db8:1234::3"):
        worker.record(one, address)
    worker.record(one, "2001:db8:aaaa::1")
    assert worker.flush()
    assert _days(session) == {(one, DAY): (4, 2)}


def test_a_flush_meeting_a_locked_database_keeps_its_counts(app, certified, session, database_url):
    (one, _), _ = certified
    worker = _tally(app, Today())
    for address in ("10.9.1.1", "10.9.2.1", "10.9.2.2", "10.9.3.1"):
        worker.record(one, address)
    with _locked(database_url):
        assert not worker.flush()
        worker.record(one, "10.9.4.1")  # scans go on being counted meanwhile
        assert worker.pending == 5
    assert _days(session) == {}
    assert worker.flush()
    assert worker.pending == 0
    assert _days(session) == {(one, DAY): (5, 4)}


def test_a_last_flush_that_fails_says_the_counts_are_lost_and_reads_nothing_more(
    app, certified, session, database_url, caplog
):
    """At exit there is no next flush to keep counts for, nor scans to read a watched
    list for."""
    (one, _), _ = certified
    worker = _tally(app, Today())
    worker.record(one, "10.9.1.1")
    assert worker.flush()
    worker.record(one, "10.9.2.1")
    read: list[date] = []
    watched = worker.store.watched

    def watched_and_say(today):
        read.append(today)
        return watched(today)

    worker.store.watched = watched_and_say
    with _locked(database_url), caplog.at_level(logging.WARNING, logger="registry.scans"):
        assert not worker.flush(last=True)
    assert "scan counts lost at exit (1 scans)" in caplog.text
    assert "next flush" not in caplog.text
    assert read == []
    assert _days(session) == {(one, DAY): (1, 1)}


class _locked:
    """Another connection holding what a flush needs: SQLite's write lock, or the
    scan tables on PostgreSQL."""

    def __init__(self, url: str):
        self._url = url

    def __enter__(self):
        if self._url.startswith("sqlite"):
            self._connection = sqlite3.connect(make_url(self._url).database, isolation_level=None)
            self._connection.execute("BEGIN IMMEDIATE")
        else:
            self._engine = create_engine(
                self._url.replace("postgresql://", "postgresql+psycopg://")
            )
            self._connection = self._engine.connect()
            # Reads go on; every write of the scan tables waits.
            self._connection.execute(
                text("LOCK TABLE scan_day, scan_network, scan_key IN EXCLUSIVE MODE")
            )
        return self

    def __exit__(self, *_exc):
        self._connection.rollback()
        self._connection.close()
        if hasattr(self, "_engine"):
            self._engine.dispose()


def test_the_day_key_is_deleted_once_the_day_is_over(app, certified, session):
    (one, _), _ = certified
    today = Today()
    worker = _tally(app, today)

    def keys() -> list[date]:
        session.rollback()
        return sorted(session.scalars(select(ScanKey.day)))

    def hashed_days() -> list[date]:
        session.rollback()
        return sorted(set(session.scalars(select(ScanNetwork.day))))

    worker.record(one, "10.7.1.1")
    assert worker.flush()
    assert keys() == [DAY, DAY + timedelta(days=1)]  # tomorrow's, made a day ahead
    first_key = session.scalar(select(ScanKey.key).where(ScanKey.day == DAY))

    today.day = DAY + timedelta(days=1)
    worker.record(one, "10.7.1.1")
    assert worker.flush()
    assert keys() == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert first_key not in [bytes(k) for k in session.scalars(select(ScanKey.key))]
    # A network's hashes on two days are unrelated: each day's key is its own.
    assert len(set(session.scalars(select(ScanNetwork.network)))) == 2

    today.day = DAY + timedelta(days=2)
    worker.record(one, "10.7.1.1")
    assert worker.flush()
    # The first day's hashes go a day after its key; its counts stay.
    assert hashed_days() == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert _days(session)[(one, DAY)] == (1, 1)


def test_scans_counted_before_the_key_of_a_finished_day_count_as_new_networks(
    app, certified, session
):
    """A worker that counted on a day whose key another deleted before it flushed: its
    networks count, as networks not seen before (never fewer)."""
    (one, _), _ = certified
    today = Today()
    worker = _tally(app, today)
    worker.record(one, "10.8.1.1")  # no key known yet: held as a prefix in memory
    today.day = DAY + timedelta(days=1)
    assert worker.flush()
    assert _days(session) == {(one, DAY): (1, 1)}
    assert DAY not in session.scalars(select(ScanKey.day)).all()


def test_the_inspectors_queue_lists_flagged_codes_with_their_daily_counts(
    app, client, world, certified, session
):
    (one, code_one), (two, code_two) = certified
    with app.app_context():
        for i in range(25):
            edge_scans.record(one, f"100.{64 + i}.3.3")  # unsold, more than 20
        for i in range(4):
            edge_scans.record(two, f"100.{64 + i}.4.4")
        assert edge_scans.flush()
    session.rollback()
    with_passwords(session, EMAILS["inspector"])
    sign_in(client, EMAILS["inspector"])
    page = client.get("/inspector/copies")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-certificate="{code_one}"' in html
    assert f'data-certificate="{code_two}"' not in html
    assert 'data-networks="25"' in html and 'data-scans="25"' in html
    assert "data-networks-total>25<" in html


@pytest.mark.skipif(not REDIS_URL, reason="REGISTRY_TEST_REDIS_URL names no Redis server")
def test_with_redis_counts_go_to_redis_and_the_database_is_not_written(
    database_url, tmp_path, client, world, session
):
    prefix = f"test-{uuid.uuid4().hex}"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
        }
    )
    one, _ = _certificate(client, world, session)
    store = app.extensions["registry.scans"].store
    try:
        with app.app_context():
            for i in range(30):
                edge_scans.record(one, TWELVE[i % 12])
            assert edge_scans.flush()
            today = edge_scans.state().tally.today()
            engine = app.extensions["registry.engine"]
            assert edge_scans.caution(engine, one, True) == today
            assert edge_scans.caution(engine, one, False) is None
            days = store.daily(None, one, today, today)
            assert [(d.scans, d.networks) for d in days] == [(30, 12)]
        assert _days(session) == {}
        assert session.scalars(select(ScanKey)).all() == []
        # The day's key expires with the day.
        ttl = store.client.ttl(f"{prefix}:scans:key:{today.isoformat()}")
        assert 0 < ttl <= 86_401
    finally:
        for name in store.client.scan_iter(f"{prefix}:*"):
            store.client.delete(name)
        app.extensions["registry.engine"].dispose()


def test_thirty_scans_through_a_proxy_caution_a_sold_code_on_the_page_and_in_the_json(
    database_url, tmp_path, world, session, caplog
):
    """Done when: 30 scans of a sold code from 12 networks (X-Forwarded-For, one proxy
    hop) show the caution in the verdict JSON and on the page; 30 from one network do
    not; and none of the 12 addresses is left anywhere the test can look."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            "BABEL_DEFAULT_LOCALE": "en",
            "PROXY_HOPS": 1,
            "SCAN_FLUSH_SECONDS": 0,
        }
    )
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    try:
        copied = certify(client, world)[1]["code"]
        genuine = certify(client, world)[1]["code"]
        for code in (copied, genuine):
            sold = client.post(f"/api/v1/certificates/{code}/sale", headers=bearer(world.shop))
            assert sold.status_code == 201, sold.json
        for i in range(30):
            for code, address in ((copied, TWELVE[i % 12]), (genuine, f"100.99.8.{i + 1}")):
                scan = client.get(f"/api/v1/verify/{code}", headers={"X-Forwarded-For": address})
                assert scan.status_code == 200
        # The counts are written, and the watched codes read, by the worker's flushing
        # thread: the caution shows within a flush or two, well inside the verdict's
        # max-age, which bounds the wait.
        deadline = time.monotonic() + app.config["VERDICT_MAX_AGE"]
        while True:
            verdict = client.get(f"/api/v1/verify/{copied}").json
            kinds = [alert["kind"] for alert in verdict["alerts"]]
            if "possible_copy" in kinds or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert "possible_copy" in kinds
        assert [a["since"] for a in verdict["alerts"] if a["kind"] == "possible_copy"] == [
            edge_scans_today(app).isoformat()
        ]
        assert "possible_copy" not in [
            alert["kind"] for alert in client.get(f"/api/v1/verify/{genuine}").json["alerts"]
        ]
        page = client.get(f"/v/{copied}").get_data(as_text=True)
        assert "This code has been checked in many places" in page
        other = client.get(f"/v/{genuine}").get_data(as_text=True)
        assert "This code has been checked in many places" not in other
    finally:
        app.extensions["registry.scans"].tally.flush(wait=5)  # the thread's, if under way
        app.extensions["registry.engine"].dispose()
    _assert_forgotten(app, TWELVE, caplog, session)


def edge_scans_today(app) -> date:
    return app.extensions["registry.scans"].tally.today()


# Privacy: what the test can find of the addresses, in the files and in the logs.


def _forms(address: str) -> list[bytes]:
    """The address and its /24, as text, and SHA-256 of either, raw and in hex."""
    a, b, c, _ = address.split(".")
    texts = [address, f"{a}.{b}.{c}", f"{a}.{b}.{c}.0", f"{a}.{b}.{c}.0/24"]
    found = []
    for value in texts:
        found.append(value.encode())
        digest = hashlib.sha256(value.encode()).digest()
        found += [digest, digest.hex().encode(), digest.hex().upper().encode()]
    packed = bytes(int(part) for part in (a, b, c))
    digest = hashlib.sha256(packed).digest()
    found += [digest, digest.hex().encode()]
    return found


def _assert_forgotten(app, addresses: list[str], caplog, session) -> None:
    """None of `addresses` in any form `_forms` gives: in the database's files (SQLite,
    its write-ahead log included, after every connection is closed) or dump
    (PostgreSQL), nor in any message logged."""
    url = app.config["DATABASE_URL"]
    session.close()
    app.extensions["registry.engine"].dispose()
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        dump = Path(app.config["KEYS_DIR"]).parent / "dump.sql"
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "the PostgreSQL tests need pg_dump (postgresql-client)"
        subprocess.run(  # noqa: S603 - pg_dump of the test's own database
            [pg_dump, "--dbname", plain, "--file", str(dump)], check=True
        )
        stored = dump.read_bytes()
    assert b"scan" in stored  # the counts are there
    logged = "\n".join(record.getMessage() for record in caplog.records).encode()
    for address in addresses:
        for form in _forms(address):
            assert form not in stored, (address, form)
            assert form not in logged, (address, form)


def test_counting_can_be_turned_off(database_url, tmp_path, client, world, session):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "SCAN_COUNTING": False,
            "SCAN_FLUSH_SECONDS": 0,
        }
    )
    one, _ = _certificate(client, world, session)
    try:
        with app.app_context():
            for i in range(30):
                edge_scans.record(one, TWELVE[i % 12])
            assert edge_scans.caution(app.extensions["registry.engine"], one, True) is None
        assert _days(session) == {}
    finally:
        app.extensions["registry.engine"].dispose()
    session.execute(delete(ScanDay))


def test_a_scan_through_a_proxy_is_counted_by_its_client_and_written_by_the_flushing_thread(
    database_url, tmp_path, client, world, session
):
    """The wiring the verify views use: `record` with request.remote_addr (after one
    proxy hop) in a request; the flush found due runs in the worker's flushing thread,
    never in the request that found it due."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PROXY_HOPS": 1,
            "SCAN_FLUSH_SECONDS": 0,
        }
    )
    one, _ = _certificate(client, world, session)
    tally = app.extensions["registry.scans"].tally
    flushed_in: list[str] = []
    add = tally.store.add

    def add_and_say_where(*args):
        flushed_in.append(threading.current_thread().name)
        return add(*args)

    tally.store.add = add_and_say_where

    def scan():
        from flask import request

        edge_scans.record(one, request.remote_addr)
        return {"thread": threading.current_thread().name}

    app.add_url_rule("/test-scan", view_func=scan)
    try:
        scanner = app.test_client()
        answered_in = set()
        for address in ("100.70.1.1", "100.70.1.2", "100.71.1.1"):
            answer = scanner.get("/test-scan", headers={"X-Forwarded-For": address})
            answered_in.add(answer.json["thread"])
        deadline = time.monotonic() + 10
        while list(_days(session).values()) != [(3, 2)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(_days(session).values()) == [(3, 2)]
        assert edge_scans_today(app) in {day for _, day in _days(session)}
        assert flushed_in and set(flushed_in) == {"registry-scan-flush"}
        assert not answered_in & set(flushed_in)
    finally:
        tally.flush(wait=5)  # the thread's flush, if one is under way, ends first
        app.extensions["registry.engine"].dispose()
