"""Verification at scale on PostgreSQL (`python -m benchmarks --only scale`).

A registry of SCALE_CERTIFICATES certificates is built once the way a registry grows:
CSV imports of a maker's pieces and batch attestations of them (`POST
/api/v1/pieces/import`, `POST /api/v1/assays/batch`), 10,000 at a time, through the
application in this process. It is kept as a `pg_dump` in benchmarks/.data/ and restored
into a scratch database on later runs. A registry of SMALL_CERTIFICATES is built the same
way every run.

Then verifications are timed on each: `GET /api/v1/verify/<code>` for random codes, in
this process (Flask's test client: the whole request, the database on this machine), the
two registries taking turns request by request so that the machine's drifting load falls
on both alike; the p50 at the large registry is compared with the p50 at the small one,
against P50_RATIO_TARGET. Only the database grows between the two.
"""

import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from benchmarks import batchbench, logbench
from registry import db
from tests.factories import assay_data, bearer

DATA = Path(__file__).resolve().parent / ".data"
SCALE_CERTIFICATES = 1_000_000
SMALL_CERTIFICATES = 10_000
BATCH = 10_000
SAMPLES = 3_000
P50_RATIO_TARGET = 1.2
_SEED = 20261207


def measure(
    *, certificates: int = SCALE_CERTIFICATES, samples: int = SAMPLES, rebuild: bool = False
) -> dict[str, Any]:
    """The p50 of a verification at `certificates` against one at SMALL_CERTIFICATES."""
    url = os.environ.get("REGISTRY_BENCH_DATABASE_URL") or logbench.PG_DEFAULT
    reason = logbench._unreachable(url)
    if reason:
        return {"skipped": reason}
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        return {"skipped": "pg_dump and pg_restore are not installed (postgresql-client)"}
    result: dict[str, Any] = {"samples": samples, "target": P50_RATIO_TARGET}
    with tempfile.TemporaryDirectory(prefix="registry-bench-scale-") as scratch:
        work = Path(scratch)
        with logbench._scratch_databases(url, 2) as (small_url, large_url):
            print(f"  building {SMALL_CERTIFICATES:,} certificates …", flush=True)
            small_keys = work / "keys-small"
            _build(small_url, small_keys, SMALL_CERTIFICATES)
            large_keys, built = _large(large_url, certificates, rebuild=rebuild)
            print("  verifying, the two registries taking turns …", flush=True)
            small, large = (
                _Verifier(small_url, small_keys, samples),
                _Verifier(large_url, large_keys, samples),
            )
            for verifier in (small, large):  # warm-up: the worker's caches, the buffers
                verifier.run(timed=False)
            # One request each in turn, so that the machine's drifting load falls on both.
            for _ in range(samples):
                small.run()
                large.run()
            result["small"], result["large"] = small.summary(), large.summary()
            result["large"]["built"] = built
    result["certificates"] = {"small": SMALL_CERTIFICATES, "large": certificates}
    result["p50_ratio"] = round(result["large"]["p50_ms"] / result["small"]["p50_ms"], 3)
    return result


def _large(url: str, certificates: int, *, rebuild: bool) -> tuple[Path, bool]:
    """The large registry in the scratch database at `url`: restored from the kept dump,
    or built and then dumped. Its keys directory, and whether it was built now."""
    head = "+".join(sorted(logbench._heads()))
    directory = DATA / f"pg-{head}-{certificates}"
    dump, keys_dir = directory / "registry.dump", directory / "keys"
    if rebuild or not dump.exists():
        for stale in DATA.glob("pg-*"):
            shutil.rmtree(stale)
        staging = DATA / f"building-pg-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        print(f"  building {certificates:,} certificates (once; kept as a dump) …", flush=True)
        started = time.monotonic()
        _build(url, staging / "keys", certificates)
        subprocess.run(  # noqa: S603 - the server's own tools, our arguments
            [
                _tool("pg_dump"),
                "--format=custom",
                f"--file={staging / 'registry.dump'}",
                _libpq(url),
            ],
            check=True,
        )
        (staging / "seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        staging.rename(directory)
        return keys_dir, True
    print(f"  restoring {certificates:,} certificates from {dump.relative_to(DATA)} …", flush=True)
    engine = create_engine(db.normalise_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:  # the migrated schema goes: the dump has its own
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    subprocess.run(  # noqa: S603 - the server's own tools, our arguments
        [_tool("pg_restore"), "--no-owner", f"--dbname={_libpq(url)}", str(dump)], check=True
    )
    copied = Path(tempfile.mkdtemp(prefix="registry-bench-keys-")) / "keys"
    shutil.copytree(keys_dir, copied)
    return copied, False


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (postgresql-client)")
    return found


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _build(url: str, keys_dir: Path, certificates: int) -> None:
    """Import and attest `certificates` pieces, BATCH at a time."""
    app = batchbench._app(
        url, keys_dir, IMPORT_MAX_ROWS=BATCH, ASSAY_BATCH_MAX_PIECES=BATCH, LOG_LEVEL="ERROR"
    )
    maker_token, inspector_token = batchbench._accounts(app)
    client = app.test_client()
    started = time.monotonic()
    for first in range(0, certificates, BATCH):
        count = min(BATCH, certificates - first)
        sheet = batchbench.HEADER + "".join(
            f"SCALE-{n:07d},ring,Кольцо «Енисей»,gold,585,3.42,diamond:3:0.15,\n"
            for n in range(first, first + count)
        )
        imported = client.post(
            "/api/v1/pieces/import",
            data=sheet.encode(),
            headers={**bearer(maker_token), "Content-Type": "text/csv; charset=utf-8"},
        )
        if imported.status_code != 200 or imported.json["created"] != count:
            raise RuntimeError(f"the import at {first:,} failed: {imported.status_code}")
        ids = [row["piece_id"] for row in imported.json["rows"]]
        attested = client.post(
            "/api/v1/assays/batch",
            json={"defaults": assay_data(), "pieces": [{"piece_id": i} for i in ids]},
            headers=bearer(inspector_token),
        )
        if attested.status_code != 200 or attested.json["passed"] != count:
            raise RuntimeError(f"the attestation at {first:,} failed: {attested.status_code}")
        done = first + count
        if done % 100_000 == 0:
            rate = done / (time.monotonic() - started)
            print(f"    {done:,} certificates ({rate:,.0f} a second)", flush=True)
    app.extensions["registry.engine"].dispose()


class _Verifier:
    """Verifications of random codes of one registry, one request at a time."""

    def __init__(self, url: str, keys_dir: Path, samples: int):
        self.app = batchbench._app(url, keys_dir, LOG_LEVEL="ERROR", SCAN_COUNTING=False)
        engine = self.app.extensions["registry.engine"]
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
            self.codes = list(
                connection.execute(
                    text("SELECT code FROM certificate ORDER BY random() LIMIT :n"),
                    {"n": samples * 2},
                ).scalars()
            )
            self.log_size = connection.execute(text("SELECT size FROM log_head")).scalar_one()
        random.Random(_SEED).shuffle(self.codes)  # noqa: S311 - reproducible order
        self.client = self.app.test_client()
        self.times: list[float] = []
        self.next = 0

    def run(self, *, timed: bool = True) -> None:
        """One verification (or, untimed, the warm-up: the codes past the samples)."""
        if not timed:
            for code in self.codes[len(self.codes) // 2 :]:
                self.client.get(f"/api/v1/verify/{code}")
            return
        code = self.codes[self.next]
        self.next += 1
        started = time.perf_counter()
        answer = self.client.get(f"/api/v1/verify/{code}")
        self.times.append(1000 * (time.perf_counter() - started))
        if answer.status_code != 200 or answer.json["status"] != "valid":
            raise RuntimeError(f"{code}: {answer.status_code}")

    def summary(self) -> dict[str, Any]:
        self.app.extensions["registry.engine"].dispose()
        times = sorted(self.times)
        return {
            "log_size": self.log_size,
            "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        }


def report(result: dict[str, Any]) -> None:
    print()
    if "skipped" in result:
        print(f"verification at scale on PostgreSQL: skipped: {result['skipped']}")
        return
    small, large = result["small"], result["large"]
    print(
        f"verification at scale on PostgreSQL ({result['samples']:,} random codes each, "
        "in-process, one at a time):"
    )
    for name, found in (("small", small), ("large", large)):
        print(
            f"  {result['certificates'][name]:>9,} certificates (log {found['log_size']:,}): "
            f"p50 {found['p50_ms']:.3f} ms, p99 {found['p99_ms']:.3f} ms"
        )
    ok = result["p50_ratio"] <= result["target"]
    print(
        f"  p50 at {result['certificates']['large']:,} / at {result['certificates']['small']:,}: "
        f"{result['p50_ratio']:.2f} (target ≤ {result['target']:g})  {'PASS' if ok else 'MISS'}"
    )
