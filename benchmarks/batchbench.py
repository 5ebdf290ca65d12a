"""Batched writes (`python -m benchmarks --only batch`): a 10,000-row import and a
10,000-piece batch attestation, end to end, on SQLite and on PostgreSQL.

Each runs in one process through the application's whole HTTP stack (Flask's test
client: the request parsed, the token checked, every row validated, signed, logged,
stored, committed in chunks as the service commits them, and the report answered), on a
fresh database:

1. a maker's `POST /api/v1/pieces/import` of ROWS rows as CSV (rows/s);
2. an inspector's `POST /api/v1/assays/batch` of every piece the import registered, with
   shared findings (certificates/s: each an attestation, a signed certificate and their
   two log entries).

Against TARGET_PER_S each. The chunks' turns on SQLite (chunks.SQLITE_TURN_S between
chunks, when another writer waits for the lock) are counted in, as a user waits for them.

Then the checkpoint latency: a maker registers pieces one after another as fast as the
app takes them, for LATENCY_S seconds, while the signer (registry/log/signer.py) runs
beside it at its default interval and the writes sign nothing themselves; for each write,
the time from its answer to the first signed checkpoint that covers it (read every 10 ms,
as a monitor would), against LATENCY_TARGET_S.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks import logbench
from registry import accounts, create_app, db, makers, migrate
from registry.edge import database
from registry.log import tree
from registry.models import Certificate, Checkpoint
from tests.factories import assay_data, bearer, maker_data, piece_data

ROWS = 10_000
TARGET_PER_S = 2_000.0
LATENCY_S = 10.0
LATENCY_TARGET_S = 1.5
REGISTRY = Path(sys.executable).with_name("registry")
HEADER = "reference,kind,title,metal,fineness,weight_g,stones,uin\n"


def measure(rows: int = ROWS) -> dict[str, Any]:
    """Both writes on SQLite, then on PostgreSQL when a server answers."""
    results: dict[str, Any] = {"rows": rows, "target_per_s": TARGET_PER_S}
    with tempfile.TemporaryDirectory(prefix="registry-bench-batch-") as scratch:
        work = Path(scratch)
        path = work / "batch.sqlite3"
        engine = db.make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()
        print("  on SQLite …", flush=True)
        results["sqlite"] = _run(f"sqlite:///{path}", work / "keys-sqlite", rows)
        pg_url = os.environ.get("REGISTRY_BENCH_DATABASE_URL") or logbench.PG_DEFAULT
        reason = logbench._unreachable(pg_url)
        if reason:
            print(f"  on PostgreSQL: SKIPPED ({reason})", flush=True)
            results["postgresql"] = {"skipped": reason}
        else:
            print("  on PostgreSQL …", flush=True)
            with logbench._scratch_databases(pg_url, 1) as (url,):
                results["postgresql"] = _run(url, work / "keys-pg", rows)
    return results


def _app(url: str, keys_dir: Path, **settings):
    keys_dir.mkdir(exist_ok=True)
    return create_app(
        {
            "DATABASE_URL": url,
            "KEYS_DIR": str(keys_dir),
            "PUBLIC_BASE_URL": "https://registry.bench",
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": False,
            **settings,
        }
    )


def _accounts(app) -> tuple[str, str]:
    """A maker's token and an inspector's."""
    with app.app_context():
        session = database.session()
        maker = makers.admit(session, maker_data(slug="batch-bench"), actor=None)
        owner = accounts.create(
            session, {"email": "maker@bench.test", "role": "maker", "maker": maker.slug}, actor=None
        )
        inspector = accounts.create(
            session, {"email": "inspector@bench.test", "role": "inspector"}, actor=None
        )
        maker_token = accounts.issue_token(session, owner, name="bench", actor=None)[1]
        inspector_token = accounts.issue_token(session, inspector, name="bench", actor=None)[1]
        session.commit()
    return maker_token, inspector_token


def _run(url: str, keys_dir: Path, rows: int) -> dict[str, Any]:
    # As `registry serve` runs them: the writes sign no checkpoint, the signer beside them
    # does (in its own process, at its default interval).
    app = _app(
        url, keys_dir, IMPORT_MAX_ROWS=rows, ASSAY_BATCH_MAX_PIECES=rows, LOG_CHECKPOINT_ENTRIES=0
    )
    maker_token, inspector_token = _accounts(app)
    engine = app.extensions["registry.engine"]
    signing = _signer(url, keys_dir, keys_dir.parent, engine)
    try:
        client = app.test_client()
        sheet = HEADER + "".join(
            f"BATCH-{n:06d},ring,Кольцо «Енисей»,gold,585,3.42,diamond:3:0.15,\n"
            for n in range(rows)
        )
        started = time.perf_counter()
        imported = client.post(
            "/api/v1/pieces/import",
            data=sheet.encode(),
            headers={**bearer(maker_token), "Content-Type": "text/csv; charset=utf-8"},
        )
        import_s = time.perf_counter() - started
        report = imported.json
        ok = imported.status_code == 200 and report["created"] == rows
        ids = [row["piece_id"] for row in report["rows"]] if ok else []
        started = time.perf_counter()
        attested = client.post(
            "/api/v1/assays/batch",
            json={"defaults": assay_data(), "pieces": [{"piece_id": i} for i in ids]},
            headers=bearer(inspector_token),
        )
        answered = time.perf_counter()
        attest_s = answered - started
        # Until the last certificate's entries are under a signed checkpoint.
        size = tree.committed_size(engine)
        while _signed_size(engine) < size and time.perf_counter() - answered < 30:
            time.sleep(0.01)
        signed_s = time.perf_counter() - answered if _signed_size(engine) >= size else None
    finally:
        signing.terminate()
        signing.wait(timeout=10)
    batch = attested.json
    with app.app_context():
        certificates = database.session().scalar(select(func.count()).select_from(Certificate))
    engine.dispose()
    return {
        "import": {
            "status": imported.status_code,
            "created": report.get("created"),
            "seconds": round(import_s, 2),
            "rows_per_s": round(rows / import_s, 1),
        },
        "attest": {
            "status": attested.status_code,
            "passed": batch.get("passed") if isinstance(batch, dict) else None,
            "certificates": certificates,
            "seconds": round(attest_s, 2),
            "certificates_per_s": round(len(ids) / attest_s, 1) if ids else 0.0,
            "signed_after_s": round(signed_s, 2) if signed_s is not None else None,
        },
    }


def checkpoint_latency(seconds: float = LATENCY_S) -> dict[str, Any]:
    """Writes one after another in this process while `registry log signer` runs in its
    own, as `registry serve` runs it, on SQLite."""
    with tempfile.TemporaryDirectory(prefix="registry-bench-latency-") as scratch:
        work = Path(scratch)
        path = work / "latency.sqlite3"
        engine = db.make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()
        app = _app(f"sqlite:///{path}", work / "keys", LOG_CHECKPOINT_ENTRIES=0)
        maker_token, _ = _accounts(app)
        engine = app.extensions["registry.engine"]
        interval = float(app.config["LOG_CHECKPOINT_INTERVAL"])
        signing = _signer(f"sqlite:///{path}", work / "keys", work, engine)
        waiting: list[tuple[float, int]] = []  # (answered at, log size then)
        latencies: list[float] = []
        lock = threading.Lock()
        done = threading.Event()

        def watch() -> None:
            while not (done.is_set() and not waiting):
                signed = _signed_size(engine)
                now = time.perf_counter()
                with lock:
                    while waiting and waiting[0][1] <= signed:
                        latencies.append(now - waiting.pop(0)[0])
                if time.perf_counter() > deadline + 10:
                    break  # what is left was never covered: reported as such
                time.sleep(0.01)

        client = app.test_client()
        watcher = threading.Thread(target=watch)
        deadline = time.perf_counter() + seconds
        watcher.start()
        writes = 0
        try:
            while time.perf_counter() < deadline:
                made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(maker_token))
                size = tree.committed_size(engine)
                with lock:
                    waiting.append((time.perf_counter(), size))
                writes += made.status_code == 201
            done.set()
            watcher.join()
        finally:
            signing.terminate()
            signing.wait(timeout=10)
        app.extensions["registry.engine"].dispose()
    ordered = sorted(latencies)
    return {
        "seconds": seconds,
        "interval_s": interval,
        "writes": writes,
        "covered": len(ordered),
        "p50_s": round(statistics.median(ordered), 3) if ordered else None,
        "p99_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3)
        if ordered
        else None,
        "max_s": round(ordered[-1], 3) if ordered else None,
        "target_s": LATENCY_TARGET_S,
    }


def _signer(url: str, keys_dir: Path, work: Path, engine) -> subprocess.Popen:
    """`registry log signer` in its own process, as `registry serve` runs it beside its
    workers, once it has signed (its start, a second or two, is not what is measured)."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_KEYS_DIR": str(keys_dir),
        "REGISTRY_PUBLIC_BASE_URL": "https://registry.bench",
        "REGISTRY_LOG_CHECKPOINT_ENTRIES": "0",
    }
    with open(work / "signer.log", "ab") as output:
        signing = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [REGISTRY, "log", "signer"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    started = time.perf_counter()
    while _signed_size(engine) < tree.committed_size(engine):
        if signing.poll() is not None or time.perf_counter() - started > 60:
            signing.kill()
            raise RuntimeError(f"registry log signer did not sign: see {work}/signer.log")
        time.sleep(0.05)
    return signing


def _signed_size(engine) -> int:
    with engine.connect() as connection:
        size = connection.execute(select(func.max(Checkpoint.tree_size))).scalar()
        connection.rollback()
    return size or 0


def report_latency(result: dict[str, Any]) -> bool:
    """Print the checkpoint latency against its target; whether every write was covered."""
    print()
    print(
        f"checkpoint latency: {result['writes']:,} writes one after another for "
        f"{result['seconds']:.0f} s, the signer beside them every {result['interval_s']:g} s at "
        "most; from a write's answer to a signed checkpoint covering it:"
    )
    p99 = result["p99_s"]
    print(
        f"  p50 {result['p50_s']} s, p99 {p99} s, max {result['max_s']} s "
        f"(target p99 ≤ {result['target_s']} s)  "
        f"{'PASS' if p99 is not None and p99 <= result['target_s'] else 'MISS'}"
    )
    return result["covered"] == result["writes"]


def report(result: dict[str, Any]) -> bool:
    """Print the figures against the target; whether every write stored every row."""
    print()
    print(
        f"batched writes, end to end in one process (HTTP stack, {result['rows']:,} rows each, "
        "committed in chunks; checkpoints signed beside them by `registry log signer`, as "
        f"`registry serve` runs it), target ≥ {result['target_per_s']:,.0f}/s:"
    )
    whole = True
    for backend in ("sqlite", "postgresql"):
        found = result.get(backend)
        if found is None:
            continue
        if "skipped" in found:
            print(f"  {backend:10} skipped: {found['skipped']}")
            continue
        done = found["import"]
        print(
            f"  {backend:10} import             {done['rows_per_s']:8,.0f} rows/s "
            f"({done['created']:,} created in {done['seconds']:.1f} s)  "
            f"{_mark(done['rows_per_s'], result['target_per_s'])}"
        )
        done = found["attest"]
        print(
            f"  {backend:10} batch attestation  {done['certificates_per_s']:8,.0f} certificates/s "
            f"({done['certificates']:,} issued in {done['seconds']:.1f} s; all under a signed "
            f"checkpoint {done['signed_after_s']} s after the answer)  "
            f"{_mark(done['certificates_per_s'], result['target_per_s'])}"
        )
        whole &= found["import"]["created"] == result["rows"]
        whole &= found["attest"]["certificates"] == result["rows"]
        whole &= found["attest"]["signed_after_s"] is not None
    return whole


def _mark(value: float, target: float) -> str:
    return "PASS" if value >= target else "MISS"
