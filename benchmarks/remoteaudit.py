"""The remote audit of a 1,000,000-entry log: `python -m benchmarks.remoteaudit`.

Builds once (cached in benchmarks/.data/) a migrated SQLite database whose log holds
AUDIT_LOG_SIZE entries, each an event row of some 450 bytes shaped like a certificate's
issue, with their tree's perfect nodes and a checkpoint signed by the database's own
key ring; serves it with gunicorn and the shared settings (registry.gunicorn_conf) on
127.0.0.1; and times `registry log verify --url` (registry.log.remote.audit) reading it
whole from a first run, then a run from the state the first saved (nothing new to read).

Two figures: with the public rate limit lifted (what reading, hashing and serving cost),
and with the deployment's own (PUBLIC_RATE_LIMIT, 300 a minute per client by default,
which a monitor asking 1,000 entries a page meets). `--rate-limited` adds the second.
Each audit runs in a thread of its own and is given up after BUDGET_S.
"""

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import logbench
from registry import create_app, db, migrate
from registry.edge import database, log_signer
from registry.log import checkpoints, merkle, remote

DATA = logbench.DATA
AUDIT_LOG_SIZE = 1_000_000
#: Bump whenever the entries or the layout change, so the cached database is rebuilt.
AUDIT_LOG_VERSION = 1
BUDGET_S = 1800.0
_BASE_URL = "https://audit.registry.test"
_ROWS_BATCH = 100_000


def entry(index: int) -> bytes:
    """Entry `index`: canonical JSON (RFC 8785: keys sorted, no spaces) of a realistic
    size, as ledger.append writes a certificate's issue."""
    return (
        b'{"action":"certificate:issued","actor":{"id":3,"role":"inspector"},'
        b'"at":"2026-03-01T12:00:00.000000Z","certificate":"K7Q%07dX",'
        b'"data":{"fineness":585,"mark_sha256":"%064x","metal":"gold",'
        b'"payload_sha256":"%064x","title_sha256":"%064x"},'
        b'"maker":"bench-maker","piece":%d}' % (index, index, index * 7 + 1, index * 13 + 5, index)
    )


def audit_log(*, rebuild: bool = False) -> tuple[Path, Path, dict[str, Any]]:
    """The cached database and its key ring: (database, keys dir, meta)."""
    directory = DATA / f"audit-log-v{AUDIT_LOG_VERSION}-{AUDIT_LOG_SIZE}"
    if rebuild or not (directory / "meta.json").exists():
        shutil.rmtree(directory, ignore_errors=True)
        staging = DATA / f"building-audit-log-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        print(f"  building a log of {AUDIT_LOG_SIZE:,} entries …", flush=True)
        meta = _build(staging, AUDIT_LOG_SIZE)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        staging.rename(directory)
    meta = json.loads((directory / "meta.json").read_text())
    return directory / "registry.sqlite3", directory / "keys", meta


def _build(directory: Path, size: int) -> dict[str, Any]:
    started = time.monotonic()
    path = directory / "registry.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    builder = merkle.Builder()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            nodes: list[tuple[int, int, bytes]] = []
            rows: list[tuple[int, bytes]] = []
            for index in range(size):
                data = entry(index)
                rows.append((index, data))
                for (level, i), value in builder.append(merkle.leaf_hash(data)):
                    nodes.append((level, i, value))
                if len(rows) >= _ROWS_BATCH or index == size - 1:
                    connection.executemany(
                        "INSERT INTO event (log_index, action, occurred_at, actor_role, entry)"
                        " VALUES (?, 'certificate:issued', '2026-03-01 12:00:00', 'inspector', ?)",
                        rows,
                    )
                    connection.executemany(
                        'INSERT INTO log_node (level, "index", hash) VALUES (?, ?, ?)', nodes
                    )
                    rows, nodes = [], []
            connection.execute("UPDATE log_head SET size = ? WHERE id = 1", (size,))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    keys_dir = directory / "keys"
    keys_dir.mkdir()
    app = create_app(_config(path, keys_dir))
    with app.app_context():
        session = database.session()
        made = checkpoints.make(session, log_signer.signer())
        session.commit()
        signed = made.tree_size
        database.end_session()
        database.engine().dispose()
    # Into the database file itself: the copies made of it take that file alone.
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "size": size,
        "checkpoint_size": signed,
        "root": builder.root().hex(),
        "build_seconds": round(time.monotonic() - started, 1),
    }


def _config(path: Path, keys_dir: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{path}",
        "KEYS_DIR": str(keys_dir),
        "PUBLIC_BASE_URL": _BASE_URL,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": False,
    }


def measure(*, rate_limited: bool = False, rebuild: bool = False) -> dict[str, Any]:
    from benchmarks import run

    path, keys_dir, meta = audit_log(rebuild=rebuild)
    results: dict[str, Any] = {"log_size": meta["checkpoint_size"], "page": remote.PAGE}
    limits = {"unlimited": "1000000000 per minute"}
    if rate_limited:
        limits["deployment_limit"] = ""
    with tempfile.TemporaryDirectory(prefix="registry-bench-audit-") as scratch:
        work = Path(scratch)
        shutil.copyfile(path, work / "registry.sqlite3")
        shutil.copytree(keys_dir, work / "keys")
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(
            REGISTRY_DATABASE_URL=f"sqlite:///{work / 'registry.sqlite3'}",
            REGISTRY_KEYS_DIR=str(work / "keys"),
            REGISTRY_PUBLIC_BASE_URL=_BASE_URL,
            REGISTRY_LOG_LEVEL="WARNING",
        )
        for name, limit in limits.items():
            served = {**env, "REGISTRY_PUBLIC_RATE_LIMIT": limit} if limit else env
            log = work / f"gunicorn-{name}.log"
            with run._server("wsgi:app", served, workers=2, log=log) as (port, _pid):
                url = f"http://127.0.0.1:{port}"
                state = work / f"state-{name}.txt"
                first = _timed(url, state)
                again = _timed(url, state)
            results[name] = {"first_run": first, "from_saved_state": again}
            print(f"  {name}: {json.dumps(results[name])}", flush=True)
    return results


def _timed(url: str, state: Path) -> dict[str, Any]:
    outcome: dict[str, Any] = {}

    def audit() -> None:
        started = time.monotonic()
        try:
            report = remote.audit(url, state=state)
        except remote.AuditFailed as exc:
            outcome["error"] = str(exc)
            return
        seconds = time.monotonic() - started
        outcome.update(
            entries_read=report.read,
            seconds=round(seconds, 1),
            entries_per_s=round(report.read / seconds) if report.read else None,
        )

    thread = threading.Thread(target=audit, daemon=True)
    thread.start()
    thread.join(BUDGET_S)
    if thread.is_alive():
        outcome["error"] = f"not done in {BUDGET_S:.0f} s"
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.remoteaudit", description=__doc__)
    parser.add_argument("--rate-limited", action="store_true", help="also under the limit")
    parser.add_argument("--rebuild", action="store_true", help="build the log again")
    args = parser.parse_args(argv)
    results = measure(rate_limited=args.rate_limited, rebuild=args.rebuild)
    (DATA / "remoteaudit.json").write_text(json.dumps(results, indent=2) + "\n")
    return (
        1
        if any(
            "error" in r
            for v in results.values()
            if isinstance(v, dict)
            for r in v.values()
            if isinstance(r, dict)
        )
        else 0
    )


if __name__ == "__main__":
    sys.exit(main())
