"""The transparency log, in-process: how fast writes append, how fast proofs come.

`appends` issues certificates as the inspectors' API does (registry.assays.attest, then
commit: one transaction holding the assay:passed and certificate:issued entries, their
leaves and tree nodes, and a signed checkpoint), on a fresh migrated database, with a
checkpoint per write (LOG_CHECKPOINT_ENTRIES=1, the default) and without one
(LOG_CHECKPOINT_ENTRIES=0), in alternating rounds so that a noisy machine slows both
alike; on SQLite, and on PostgreSQL when a server answers. Every configuration has a key
ring of its own, so its signer's last signed checkpoint (KEYS_DIR/log-checkpoint.txt) is
of its own database's log: one kept from another database's log would make the signer
refuse every checkpoint ("does not extend the last checkpoint signed"). Each run counts
the checkpoints it made and the ones refused.

`proofs` times registry.log.tree's inclusion and consistency proofs in a stored tree of
1,000,000 entries (a migrated SQLite database holding the log's nodes and head only:
`proof_tree` builds it once, cached in benchmarks/.data/), for random indices and
sizes, and the same proofs from pymerkle (PyPI, `pip install -e '.[bench]'`) over the
same entries: its SQLite-backed tree (cached beside ours) and its in-memory tree.
"""

import contextlib
import contextvars
import json
import logging
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from registry import accounts, assays, create_app, db, makers, migrate, pieces
from registry.edge import database
from registry.log import merkle, public, tree
from registry.models import Account
from tests import factories

DATA = Path(__file__).resolve().parent / ".data"

#: Bump whenever the proof tree's entries or layout change, so the cached ones are rebuilt.
PROOF_TREE_VERSION = 1
PROOF_TREE_SIZE = 1_000_000
PROOF_SAMPLES = 2_000
PROOF_MEDIAN_TARGET_MS = 5.0
#: Seconds one series of proofs may take: past it, the rest of its samples are skipped
#: (and the report says how many were timed). A guard against a pathological regression:
#: a series of PROOF_SAMPLES normally takes a few seconds at most.
SERIES_BUDGET_S = 30.0
#: Proofs of each kind checked with registry.log.merkle's verifiers.
VERIFIED = 10
#: Perfect nodes per executemany batch while building the proof tree.
NODE_BATCH = 200_000
#: Certificates issued per configuration and database, in ROUNDS alternating rounds.
APPEND_N = 400
#: The same on copies of the 100,000-certificate database (slower: fewer).
BIG_APPEND_N = 100
ROUNDS = 4
APPEND_WARMUP = 10
#: The file a checkpoint signer keeps its last signed checkpoint in, in its KEYS_DIR
#: (registry.log.checkpoints, LOG_SIGNED_STATE's default).
SIGNED_STATE = "log-checkpoint.txt"
#: Tried when REGISTRY_BENCH_DATABASE_URL is not set: the server the tests use.
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
_SEED = 9162
_BASE_URL = "https://bench.registry.test"
_INSPECTORATE = "East Siberian State Inspectorate of Assay Supervision"


def entry(index: int) -> bytes:
    """The proof tree's synthetic entry `index`: small canonical JSON."""
    return b'{"action":"bench:synthetic","index":%d}' % index


# Appends ----------------------------------------------------------------------------


def appends(
    n: int = APPEND_N,
    *,
    big_log: Path | None = None,
    big_keys: Path | None = None,
    big_base_url: str | None = None,
    big_n: int = BIG_APPEND_N,
    pg_url: str | None = None,
) -> dict[str, Any]:
    """Certificates issued per second on each database, with and without a checkpoint
    per write: on fresh migrated databases, and on copies of `big_log` (the benchmark's
    100,000-certificate SQLite database) when given, each with a copy of `big_keys` (the
    key ring that signed its checkpoint) and `big_base_url` (its checkpoint's origin)."""
    results: dict[str, Any] = {"certificates_per_configuration": n, "rounds": ROUNDS}
    with tempfile.TemporaryDirectory(prefix="registry-bench-append-") as scratch:
        work = Path(scratch)
        runs = {}
        for name in ("checkpoint_each", "no_checkpoint"):
            path = work / f"{name}.sqlite3"
            engine = db.make_engine(f"sqlite:///{path}")
            migrate.upgrade(engine)
            engine.dispose()
            runs[name] = (f"sqlite:///{path}", _keys_dir(work, f"sqlite-{name}"))
        print("  appends on SQLite …", flush=True)
        results["sqlite"] = _append_pair(runs, n)
        if big_log is not None:
            runs = {}
            for name in ("checkpoint_each", "no_checkpoint"):
                path = work / f"big-{name}.sqlite3"
                shutil.copyfile(big_log, path)
                runs[name] = (f"sqlite:///{path}", _keys_dir(work, f"big-{name}", big_keys))
            print(f"  appends on SQLite, a copy of {big_log.parent.name} …", flush=True)
            results["sqlite_big_log"] = _append_pair(runs, big_n, base_url=big_base_url)
            for name in runs:
                (work / f"big-{name}.sqlite3").unlink()

        pg_url = pg_url or os.environ.get("REGISTRY_BENCH_DATABASE_URL") or PG_DEFAULT
        reason = _unreachable(pg_url)
        if reason:
            print(f"  appends on PostgreSQL: SKIPPED ({reason})", flush=True)
            results["postgresql"] = {"skipped": reason}
        else:
            print("  appends on PostgreSQL …", flush=True)
            with _scratch_databases(pg_url, 2) as (first, second):
                runs = {
                    "checkpoint_each": (first, _keys_dir(work, "pg-checkpoint_each")),
                    "no_checkpoint": (second, _keys_dir(work, "pg-no_checkpoint")),
                }
                results["postgresql"] = _append_pair(runs, n)
                results["postgresql"]["server"] = make_url(pg_url).render_as_string()
    return results


def _keys_dir(work: Path, name: str, source: Path | None = None) -> Path:
    """A key ring for one run alone: a copy of `source` less its signer's last signed
    checkpoint (of another copy's log), or an empty one (the app makes a key on start)."""
    directory = work / f"keys-{name}"
    if source is None:
        directory.mkdir()
    else:
        shutil.copytree(
            source, directory, ignore=shutil.ignore_patterns(SIGNED_STATE, f".{SIGNED_STATE}.*")
        )
    if (directory / SIGNED_STATE).exists():
        raise RuntimeError(f"{directory / SIGNED_STATE}: a run's signer must start afresh")
    return directory


def _append_pair(
    runs: dict[str, tuple[str, Path]], n: int, *, base_url: str = _BASE_URL
) -> dict[str, Any]:
    """ "checkpoint_each" and "no_checkpoint", each on its (database URL, keys dir)."""
    settings = {"checkpoint_each": 1, "no_checkpoint": 0}
    appended = {
        name: _AppendRun(url, keys_dir, settings[name], n + APPEND_WARMUP, base_url=base_url)
        for name, (url, keys_dir) in runs.items()
    }
    for run in appended.values():
        run.attest(APPEND_WARMUP, timed=False)
    per_round = n // ROUNDS
    for number in range(ROUNDS):
        order = list(appended.values()) if number % 2 == 0 else list(appended.values())[::-1]
        for run in order:
            run.attest(per_round if number < ROUNDS - 1 else n - per_round * number)
    for run in appended.values():
        run.close()
    result: dict[str, Any] = {name: run.summary() for name, run in appended.items()}
    result["log_size_before"] = appended["checkpoint_each"].log_size_before
    with_cp, without = result["checkpoint_each"], result["no_checkpoint"]
    # Per certificate: the mean time with a checkpoint per write less the mean without.
    result["checkpoint_cost_ms"] = round(with_cp["mean_ms"] - without["mean_ms"], 3)
    result["ratio_with_to_without"] = round(
        with_cp["certificates_per_s"] / without["certificates_per_s"], 3
    )
    writes = with_cp["certificates"] + APPEND_WARMUP
    if with_cp["checkpoints_made"] != writes or with_cp["checkpoint_errors"]:
        print(
            f"  !! a checkpoint per write made {with_cp['checkpoints_made']} checkpoints in "
            f"{writes} writes, {with_cp['checkpoint_errors']} refused: "
            f"{with_cp['first_checkpoint_error']}",
            flush=True,
        )
    return result


def _append_time(session) -> float:
    """Seconds registry.log.tree.append takes for a certificate's two entries (its
    assay:passed and certificate:issued), in a transaction already begun as a write's
    is, which is then rolled back: the log is left as it was."""
    tree.size(session)  # begins the transaction, as the write's own reads do
    started = time.perf_counter()
    tree.append(session, b'{"action":"assay:passed","bench":true}')
    tree.append(session, b'{"action":"certificate:issued","bench":true}')
    elapsed = time.perf_counter() - started
    session.rollback()
    return elapsed


class _CheckpointErrors(logging.Handler):
    """Counts what registry.log.checkpoints logs as errors: a checkpoint due but not made
    (a refusal to sign, or no key to sign with)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = record.getMessage()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        logger = logging.getLogger("registry.log.checkpoints")
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)


class _AppendRun:
    """An app on its own database and key ring: a maker with `count` registered pieces,
    an inspector, and the timed attestations of those pieces."""

    def __init__(self, url: str, keys_dir: Path, every: int, count: int, *, base_url: str):
        self.every = every
        self.app = create_app(
            {
                "DATABASE_URL": url,
                "KEYS_DIR": str(keys_dir),
                "PUBLIC_BASE_URL": base_url,
                "LOG_CHECKPOINT_ENTRIES": every,
                "LOG_LEVEL": "WARNING",
                "RATELIMIT_ENABLED": False,
            }
        )
        self.ring = self.app.extensions["registry.keyring"]
        self.issuer = self.app.extensions["registry.issuer"]
        self.errors = _CheckpointErrors()
        self.times: list[float] = []
        self.append_times: list[float] = []
        with self.errors.watching(), self.app.app_context():
            session = database.session()
            self.log_size_before = tree.size(session)
            maker = makers.admit(
                session,
                {
                    "slug": "bench-maker",
                    "name_ru": "Мастерская",
                    "name_en": "Bench Workshop",
                    "region": "RU-KYA",
                    "city": "Красноярск",
                    "mark": "BENCH1",
                },
                actor=None,
            )
            owner = accounts.create(
                session,
                {"email": "maker@bench.test", "role": "maker", "maker": maker.slug},
                actor=None,
            )
            inspector = accounts.create(
                session, {"email": "inspector@bench.test", "role": "inspector"}, actor=None
            )
            session.commit()
            self.inspector_id = inspector.id
            self.pending: list[int] = []
            for number in range(count):
                piece = pieces.register(
                    session,
                    maker,
                    factories.piece_data(reference=f"BENCH-{number:06d}"),
                    actor=owner,
                )
                session.flush()
                self.pending.append(piece.id)
                if number % 100 == 99:
                    session.commit()
            session.commit()
            # The attestations' checkpoints are the ones made from here on.
            self.checkpoints_before = _checkpoint_count(session)

    def attest(self, count: int, *, timed: bool = True) -> None:
        # One app context per round, as one per request: a session of its own.
        with self.errors.watching(), self.app.app_context():
            session = database.session()
            inspector = session.get(Account, self.inspector_id)
            for _ in range(count):
                piece_id = self.pending.pop(0)
                started = time.perf_counter()
                assays.attest(
                    session,
                    self.ring,
                    piece_id,
                    {
                        "result": "passed",
                        "metal": "gold",
                        "fineness": 585,
                        "assay_mark": "585-KRS",
                        "inspectorate": _INSPECTORATE,
                    },
                    issuer=self.issuer,
                    actor=inspector,
                )
                session.commit()
                if timed:
                    self.times.append(time.perf_counter() - started)
                    self.append_times.append(_append_time(session))

    def close(self) -> None:
        with self.app.app_context():
            session = database.session()
            self.log_size = tree.size(session)
            self.checkpoints = _checkpoint_count(session)
        self.app.extensions["registry.engine"].dispose()

    def summary(self) -> dict[str, Any]:
        ms = sorted(1000 * t for t in self.times)
        return {
            "log_checkpoint_entries": self.every,
            "certificates": len(ms),
            "certificates_per_s": round(len(ms) / (sum(ms) / 1000), 1),
            "mean_ms": round(statistics.fmean(ms), 3),
            # Time in registry.log.tree.append (entries' leaves and tree nodes), per
            # certificate: its two entries together, timed apart (see _append_time).
            "log_append_ms": round(1000 * sum(self.append_times) / len(ms), 3),
            "p50_ms": round(_percentile(ms, 50), 3),
            "p99_ms": round(_percentile(ms, 99), 3),
            "log_size_after": self.log_size,
            "checkpoints_after": self.checkpoints,
            # By the attestations (warm-up included): one a write with a checkpoint each.
            "checkpoints_made": self.checkpoints - self.checkpoints_before,
            "checkpoint_errors": self.errors.count,
            "first_checkpoint_error": self.errors.first,
        }


def _checkpoint_count(session) -> int:
    return session.scalar(text("SELECT count(*) FROM checkpoint"))


def _unreachable(url: str) -> str | None:
    """Why the PostgreSQL server at `url` cannot be used, or None when it can."""
    try:
        engine = create_engine(db.normalise_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        return f"{make_url(url).render_as_string()} does not answer: {type(exc).__name__}"
    return None


@contextlib.contextmanager
def _scratch_databases(url: str, count: int) -> Iterator[list[str]]:
    """Fresh migrated databases beside the one `url` names, dropped afterwards (as the
    tests' postgres_ready fixture makes its own)."""
    server = make_url(db.normalise_url(url))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    names = [f"{server.database}_bench_{os.getpid()}_{secrets.token_hex(3)}" for _ in range(count)]
    made: list[str] = []
    try:
        for name in names:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            made.append(name)
            engine = db.make_engine(server.set(database=name).render_as_string(hide_password=False))
            migrate.upgrade(engine)
            engine.dispose()
        yield [server.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        for name in made:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The proof tree ---------------------------------------------------------------------


def proof_tree(*, rebuild: bool = False) -> tuple[Path, dict[str, Any], bool]:
    """The cached SQLite database whose log has PROOF_TREE_SIZE entries: (path, meta,
    built by this call)."""
    return _cached_tree(
        "log",
        PROOF_TREE_VERSION,
        PROOF_TREE_SIZE,
        _build_proof_tree,
        f"the log of {PROOF_TREE_SIZE:,} entries",
        rebuild=rebuild,
    )


def _cached_tree(
    kind: str,
    version: int,
    size: int,
    build: Callable[[Path, int], dict[str, Any]],
    what: str,
    *,
    rebuild: bool,
) -> tuple[Path, dict[str, Any], bool]:
    """A database `build` makes once per migration head, version and size, kept in DATA
    (staged, then renamed, so that an interrupted build is never taken for one):
    (path, meta, built by this call). Older ones of the same kind are removed."""
    head = "+".join(sorted(_heads()))
    directory = DATA / f"{kind}-{head}-v{version}-{size}"
    built = rebuild or not (directory / "meta.json").exists()
    if built:
        DATA.mkdir(exist_ok=True)
        for stale in DATA.glob(f"{kind}-*"):
            shutil.rmtree(stale)
        print(f"  building {what} …", flush=True)
        staging = DATA / f"building-{kind}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        meta = build(staging / "registry.sqlite3", size)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        staging.rename(directory)
    meta = json.loads((directory / "meta.json").read_text())
    return directory / "registry.sqlite3", meta, built


def _heads() -> list[str]:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_heads()


def _build_proof_tree(database: Path, size: int) -> dict[str, Any]:
    started = time.monotonic()
    engine = db.make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    engine.dispose()
    builder = merkle.Builder()
    nodes = 0
    # The DB-API directly: two million rows go in some five times faster than through
    # SQLAlchemy's executemany, and they are plain (level, index, hash) triples.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            batch: list[tuple[int, int, bytes]] = []
            for index in range(size):
                for (level, i), value in builder.append(merkle.leaf_hash(entry(index))):
                    batch.append((level, i, value))
                if len(batch) >= NODE_BATCH:
                    connection.executemany(
                        'INSERT INTO log_node (level, "index", hash) VALUES (?, ?, ?)', batch
                    )
                    nodes += len(batch)
                    batch = []
            connection.executemany(
                'INSERT INTO log_node (level, "index", hash) VALUES (?, ?, ?)', batch
            )
            nodes += len(batch)
            # The migration made the head row at size 0.
            connection.execute("UPDATE log_head SET size = ? WHERE id = 1", (size,))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "size": size,
        "nodes": nodes,
        "root": builder.root().hex(),
        "build_seconds": round(time.monotonic() - started, 1),
        "events": 0,
        "note": "log_node and log_head only: no event rows, no checkpoint",
    }


# Proofs -----------------------------------------------------------------------------


def proofs(samples: int = PROOF_SAMPLES, *, rebuild: bool = False) -> dict[str, Any]:
    """Our proofs at PROOF_TREE_SIZE entries, then pymerkle's for the same questions."""
    started = time.monotonic()
    path, meta, built = proof_tree(rebuild=rebuild)
    size = meta["size"]
    print(
        f"  log of {size:,} entries: {'BUILT' if built else 'reused'} "
        f"(built in {meta['build_seconds']:.0f} s; {meta['nodes']:,} nodes, no event rows)",
        flush=True,
    )
    rng = random.Random(_SEED)  # noqa: S311 - reproducible samples
    indices = [rng.randrange(size) for _ in range(samples)]
    firsts = [rng.randrange(1, size) for _ in range(samples)]
    result: dict[str, Any] = {
        "tree_size": size,
        "samples": samples,
        "tree": {**meta, "built": built, "path": str(path)},
        # Reads of our own tree run as reads (deferred BEGIN), without changing how the
        # rest of this process (the append benchmark) begins its transactions.
        "ours": contextvars.copy_context().run(_our_proofs, path, meta, indices, firsts),
    }
    result["pymerkle"] = _pymerkle_proofs(path, meta, indices, firsts)
    ours, theirs = result["ours"], result["pymerkle"]
    ratios = {}
    pairs = (
        ("inclusion", "inclusion", "inclusion proof"),
        ("inclusion", "inclusion_committed", "inclusion_proof_committed"),
        ("inclusion", "served_inclusion", "served inclusion"),
        ("consistency", "consistency", "consistency_proof"),
        ("consistency", "consistency_committed", "consistency proof committed"),
        ("consistency", "served_consistency", "served consistency"),
    )
    for backend in ("sqlite", "inmemory"):
        for kind, our_key, label in pairs:
            for state in ("cold", "warm"):
                found = theirs.get(backend, {}).get(f"{kind}_{state}")
                if found and found["p50_ms"]:
                    key = f"{label} / pymerkle {backend} {state}"
                    ratios[key] = round(ours[our_key]["p50_ms"] / found["p50_ms"], 3)
    result["ratios"] = ratios
    result["targets"] = {
        f"{name} median <= {PROOF_MEDIAN_TARGET_MS:g} ms": ours[name]["p50_ms"]
        <= PROOF_MEDIAN_TARGET_MS
        for name in _OURS
    }
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


#: Our series: the proofs alone in a transaction (as a write sees them), from committed
#: nodes through the prepared reads the public endpoints use, and what those endpoints
#: compute in all.
_OURS = {
    "inclusion": "ours inclusion proof in a transaction",
    "inclusion_committed": "ours inclusion_proof_committed(engine)",
    "served_inclusion": "ours served inclusion (+leaf, root)",
    "consistency": "ours consistency_proof(connection)",
    "consistency_committed": "ours consistency proof from committed nodes",
    "served_consistency": "ours served consistency (+roots)",
}


def _inclusion_proof(connection, index: int, size: int) -> list[bytes]:
    """An inclusion proof read in the caller's transaction, as a write would read one
    (the registry itself serves them from committed nodes only)."""
    ranges = merkle.inclusion_ranges(index, size)
    return merkle.assemble(ranges, tree.nodes(connection, merkle.needed(ranges)))


def _consistency_proof_committed(engine, first: int, second: int) -> list[bytes]:
    """A consistency proof alone from committed nodes, through the prepared reads that
    public.consistency makes (which reads the two roots' nodes with it)."""
    ranges = merkle.consistency_ranges(first, second)
    return merkle.assemble(ranges, tree.committed_nodes(engine, merkle.needed(ranges)))


def _our_proofs(path: Path, meta: dict, indices: list[int], firsts: list[int]) -> dict:
    db.declare_reading()
    size = meta["size"]
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            root = tree.root(connection, size)
            if root.hex() != meta["root"]:
                raise RuntimeError("the stored tree's root is not the one built")
            inclusion = _timed(lambda i: _inclusion_proof(connection, i, size), indices)
            consistency = _timed(lambda m: tree.consistency_proof(connection, m, size), firsts)
            # Every proof of the first VERIFIED verifies (RFC 9162 2.1.3.2 and 2.1.4.2).
            for i in indices[:VERIFIED]:
                proof = _inclusion_proof(connection, i, size)
                merkle.verify_inclusion(i, size, merkle.leaf_hash(entry(i)), proof, root)
            for m in firsts[:VERIFIED]:
                proof = tree.consistency_proof(connection, m, size)
                merkle.verify_consistency(m, size, tree.root(connection, m), root, proof)
        committed = _timed(lambda i: tree.inclusion_proof_committed(engine, i, size), indices)
        committed_consistency = _timed(
            lambda m: _consistency_proof_committed(engine, m, size), firsts
        )
        # What the API's proof endpoints compute: the proof with its leaf and roots.
        served = _timed(lambda i: public.inclusion(None, engine, i, size), indices)
        served_consistency = _timed(lambda m: public.consistency(engine, m, size), firsts)
        for i in indices[:VERIFIED]:
            proof = tree.inclusion_proof_committed(engine, i, size)
            merkle.verify_inclusion(i, size, merkle.leaf_hash(entry(i)), proof, root)
            answer = public.inclusion(None, engine, i, size)
            merkle.verify_inclusion(i, size, answer.leaf_hash, answer.proof, answer.root_hash)
        for m in firsts[:VERIFIED]:
            answer = public.consistency(engine, m, size)
            merkle.verify_consistency(m, size, answer.first_root, root, answer.proof)
            assert _consistency_proof_committed(engine, m, size) == answer.proof
    finally:
        engine.dispose()
    return {
        "inclusion": inclusion,
        "inclusion_committed": committed,
        "consistency": consistency,
        "consistency_committed": committed_consistency,
        "served_inclusion": served,
        "served_consistency": served_consistency,
        "verified": f"the first {VERIFIED} proofs of each kind verify against the stored root",
    }


def _pymerkle_proofs(path: Path, meta: dict, indices: list[int], firsts: list[int]) -> dict:
    try:
        import pymerkle
    except ImportError:
        note = "pymerkle is not installed: pip install -e '.[bench]' (make bench does)"
        print(f"  pymerkle: SKIPPED ({note})", flush=True)
        return {"skipped": note}
    size = meta["size"]
    # RFC 9162 hashing: SHA-256, leaves prefixed 0x00 and nodes 0x01 (pymerkle's
    # "security", on unless disable_security=True), the empty tree's root SHA-256("").
    options = {"algorithm": "sha256", "disable_security": False}
    result: dict[str, Any] = {"version": pymerkle.__version__, "options": options}
    result["sanity"] = _pymerkle_sanity(pymerkle, options)

    # Its SQLite tree, cached like ours: its build appends the entries in bulk
    # (SqliteTree.append_entries, its fastest path).
    file = DATA / f"pymerkle-{pymerkle.__version__}-v{PROOF_TREE_VERSION}-{size}.sqlite3"
    built = not file.exists()
    if built:
        for stale in DATA.glob("pymerkle-*.sqlite3"):
            stale.unlink()
        staging = file.with_suffix(f".building-{os.getpid()}")
        staging.unlink(missing_ok=True)
        started = time.monotonic()
        with contextlib.closing(pymerkle.SqliteTree(str(staging), **options)) as tree:
            tree.append_entries(entry(i) for i in range(size))
        seconds = round(time.monotonic() - started, 1)
        staging.rename(file)
        file.with_suffix(".json").write_text(json.dumps({"build_seconds": seconds}) + "\n")
    seconds = json.loads(file.with_suffix(".json").read_text())["build_seconds"]
    print(
        f"  pymerkle {pymerkle.__version__} SqliteTree: {'BUILT' if built else 'reused'} "
        f"(built in {seconds:.0f} s)",
        flush=True,
    )
    sqlite_result: dict[str, Any] = {"build_seconds": seconds, "built": built, "path": str(file)}
    # Cold: a tree just opened, its subroot cache empty (the OS has the file cached);
    # warm: the same questions again, its cache holding what the cold pass computed.
    for kind, questions in (("inclusion", indices), ("consistency", firsts)):
        with contextlib.closing(pymerkle.SqliteTree(str(file), **options)) as tree:
            if tree.get_size() != size:
                raise RuntimeError(f"the cached pymerkle tree has {tree.get_size()} entries")
            prove = _pymerkle_prover(tree, kind, size)
            sqlite_result[f"{kind}_cold"] = _timed(prove, questions)
            sqlite_result[f"{kind}_warm"] = _timed(prove, questions)
            if kind == "inclusion":
                sqlite_result["root_matches_ours"] = tree.get_root(size).hex() == meta["root"]
    result["sqlite"] = sqlite_result

    # Its in-memory tree: built in this run (it cannot be stored), the same entries.
    started = time.monotonic()
    tree = pymerkle.InmemoryTree(**options)
    tree.append_entries(entry(i) for i in range(size))
    inmemory: dict[str, Any] = {"build_seconds": round(time.monotonic() - started, 1)}
    print(f"  pymerkle InmemoryTree: built in {inmemory['build_seconds']:.0f} s", flush=True)
    inmemory["root_matches_ours"] = tree.get_root().hex() == meta["root"]
    for kind, questions in (("inclusion", indices), ("consistency", firsts)):
        prove = _pymerkle_prover(tree, kind, size)
        inmemory[f"{kind}_cold"] = _timed(prove, questions)
        inmemory[f"{kind}_warm"] = _timed(prove, questions)
    del tree
    result["inmemory"] = inmemory
    return result


def _pymerkle_prover(tree, kind: str, size: int) -> Callable[[int], Any]:
    if kind == "inclusion":
        return lambda i: tree.prove_inclusion(i + 1, size)  # pymerkle counts from 1
    return lambda m: tree.prove_consistency(m, size)


def _pymerkle_sanity(pymerkle, options: dict) -> dict[str, Any]:
    """pymerkle and registry.log.merkle agree: the same root for every size up to SMALL of
    the same entries, and the same audit paths (pymerkle's starts with the leaf)."""
    small = 1_500
    tree = pymerkle.InmemoryTree(**options)
    builder = merkle.Builder()
    roots = []
    for index in range(small):
        tree.append_entry(entry(index))
        builder.append(merkle.leaf_hash(entry(index)))
        roots.append(builder.root())
    roots_equal = all(tree.get_root(n).hex() == roots[n - 1].hex() for n in range(1, small + 1))
    empty_equal = pymerkle.InmemoryTree(**options).get_root() == merkle.EMPTY_ROOT
    leaves = [merkle.leaf_hash(entry(i)) for i in range(small)]
    rng = random.Random(_SEED)  # noqa: S311 - reproducible samples
    paths_equal = True
    for _ in range(200):
        n = rng.randrange(1, small + 1)
        i = rng.randrange(n)
        theirs = tree.prove_inclusion(i + 1, n).path
        ours = merkle.assemble(
            merkle.inclusion_ranges(i, n), _all_nodes(leaves[:n], merkle.inclusion_ranges(i, n))
        )
        paths_equal &= theirs[0] == leaves[i] and list(theirs[1:]) == ours
    agreed = roots_equal and empty_equal and paths_equal
    print(
        f"  pymerkle sanity (sizes 1 to {small:,}): roots "
        f"{'equal' if roots_equal else 'DIFFER'}, empty root "
        f"{'equal' if empty_equal else 'DIFFERS'}, inclusion paths "
        f"{'equal' if paths_equal else 'DIFFER'}",
        flush=True,
    )
    if not agreed:
        print("  !! pymerkle does not hash as RFC 9162 here: its timings are not comparable")
    return {
        "sizes": small,
        "roots_equal": roots_equal,
        "empty_root_equal": empty_equal,
        "inclusion_paths_equal": paths_equal,
    }


def _all_nodes(leaves: list[bytes], ranges) -> dict[merkle.Node, bytes]:
    """The perfect nodes the ranges need, computed from the leaves (no database)."""
    found = {}
    for level, index in merkle.needed(ranges):
        hashes = leaves[index << level : (index + 1) << level]
        while len(hashes) > 1:
            hashes = [
                merkle.node_hash(a, b) for a, b in zip(hashes[::2], hashes[1::2], strict=True)
            ]
        found[(level, index)] = hashes[0]
    return found


# Proofs at scale ---------------------------------------------------------------------

#: The log of the scale part: every perfect node of a tree of this many entries, with
#: synthetic hashes (random bytes: what a proof reads is where its nodes are, not what).
SCALE_TREE_SIZE = 10_000_000
SCALE_TREE_VERSION = 1
SCALE_TARGET_MS = 2.0
_SCALE_BATCH = 200_000


def scale_tree(*, rebuild: bool = False) -> tuple[Path, dict[str, Any], bool]:
    """The cached SQLite database holding every perfect node of a tree of
    SCALE_TREE_SIZE entries, synthetic: (path, meta, built by this call)."""
    return _cached_tree(
        "scale",
        SCALE_TREE_VERSION,
        SCALE_TREE_SIZE,
        _build_scale_tree,
        f"a synthetic tree of {SCALE_TREE_SIZE:,} entries",
        rebuild=rebuild,
    )


def _build_scale_tree(database: Path, size: int) -> dict[str, Any]:
    started = time.monotonic()
    engine = db.make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    engine.dispose()
    rng = random.Random(_SEED)  # noqa: S311 - synthetic hashes, reproducible
    nodes = 0
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            level, count = 0, size
            while count:
                for start in range(0, count, _SCALE_BATCH):
                    connection.executemany(
                        'INSERT INTO log_node (level, "index", hash) VALUES (?, ?, ?)',
                        (
                            (level, i, rng.randbytes(32))
                            for i in range(start, min(count, start + _SCALE_BATCH))
                        ),
                    )
                nodes += count
                level, count = level + 1, count // 2
            connection.execute("UPDATE log_head SET size = ? WHERE id = 1", (size,))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "size": size,
        "nodes": nodes,
        "build_seconds": round(time.monotonic() - started, 1),
        "note": "every perfect node, synthetic hashes; no entries, no checkpoint",
    }


def proofs_at_scale(samples: int = PROOF_SAMPLES, *, rebuild: bool = False) -> dict[str, Any]:
    """Inclusion and consistency proofs as the public endpoints read them (prepared
    reads of committed nodes), at SCALE_TREE_SIZE entries, against SCALE_TARGET_MS."""
    path, meta, built = scale_tree(rebuild=rebuild)
    size = meta["size"]
    print(
        f"  synthetic tree of {size:,} entries: {'BUILT' if built else 'reused'} "
        f"(built in {meta['build_seconds']:.0f} s; {meta['nodes']:,} nodes)",
        flush=True,
    )
    rng = random.Random(_SEED + 1)  # noqa: S311 - reproducible samples
    indices = [rng.randrange(size) for _ in range(samples)]
    firsts = [rng.randrange(1, size) for _ in range(samples)]

    def measure() -> dict[str, Any]:
        db.declare_reading()
        engine = db.make_engine(f"sqlite:///{path}")
        try:
            return {
                "inclusion": _timed(
                    lambda i: tree.inclusion_proof_committed(engine, i, size), indices
                ),
                "consistency": _timed(
                    lambda m: _consistency_proof_committed(engine, m, size), firsts
                ),
            }
        finally:
            engine.dispose()

    result = contextvars.copy_context().run(measure)
    return {"tree_size": size, "samples": samples, "tree": {**meta, "built": built}, **result}


def report_scale(result: dict[str, Any]) -> None:
    print()
    print(
        f"proofs at {result['tree_size']:,} entries (synthetic nodes), {result['samples']:,} "
        "random questions each, from committed nodes as the endpoints read them:"
    )
    for kind in ("inclusion", "consistency"):
        found = result[kind]
        ok = found["p99_ms"] <= SCALE_TARGET_MS
        print(
            f"  {kind:12} p50 {found['p50_ms']:.3f} ms, p99 {found['p99_ms']:.3f} ms "
            f"(target ≤ {SCALE_TARGET_MS:g} ms)  {'PASS' if ok else 'MISS'}"
        )


# Timing ------------------------------------------------------------------------------


def _timed(
    call: Callable[[int], Any], questions: list[int], budget_s: float = SERIES_BUDGET_S
) -> dict[str, float]:
    """Each question's time; the first ones only when all would take over `budget_s`."""
    times = []
    deadline = time.perf_counter() + budget_s
    for question in questions:
        started = time.perf_counter()
        call(question)
        finished = time.perf_counter()
        times.append(1000 * (finished - started))
        if finished > deadline:
            break
    times.sort()
    return {
        "samples": len(times),
        "p50_ms": round(_percentile(times, 50), 4),
        "p99_ms": round(_percentile(times, 99), 4),
        "max_ms": round(times[-1], 4),
        "total_s": round(sum(times) / 1000, 3),
    }


def _percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# Reports -----------------------------------------------------------------------------


def report_appends(result: dict[str, Any]) -> None:
    print()
    print(
        f"appends: certificates issued in-process (assays.attest + commit, one per "
        f"transaction), {result['certificates_per_configuration']:,} per configuration"
    )
    print(
        f"{'database':16} {'checkpoint':>12} {'certs/s':>9} {'mean ms':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'in tree.append ms':>22}"
    )
    for backend in ("sqlite", "sqlite_big_log", "postgresql"):
        found = result.get(backend)
        if found is None:
            continue
        if "skipped" in found:
            print(f"{backend:16} skipped: {found['skipped']}")
            continue
        print(
            f"{backend}: a log of {found['log_size_before']:,} entries at the start, "
            f"{found['checkpoint_each']['certificates']:,} certificates per configuration"
        )
        for name, label in (("checkpoint_each", "every write"), ("no_checkpoint", "none")):
            r = found[name]
            print(
                f"{backend:16} {label:>12} {r['certificates_per_s']:9,.0f} {r['mean_ms']:8.2f} "
                f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['log_append_ms']:22.2f}"
            )
        r = found["checkpoint_each"]
        print(
            f"{'':16} a checkpoint per write costs {found['checkpoint_cost_ms']:.2f} ms a "
            f"certificate; rate with/without {found['ratio_with_to_without']:.2f}; "
            f"{r['checkpoints_made']:,} checkpoints made in "
            f"{r['certificates'] + APPEND_WARMUP:,} writes, {r['checkpoint_errors']:,} refused"
        )


def report_proofs(result: dict[str, Any]) -> None:
    print()
    print(
        f"proofs at {result['tree_size']:,} entries, {result['samples']:,} random "
        "indices (inclusion) and first sizes (consistency) each"
    )
    print(f"{'':44} {'p50 ms':>8} {'p99 ms':>8} {'total s':>8} {'samples':>8}")
    ours = result["ours"]
    for key, label in _OURS.items():
        _row(label, ours[key])
    short = [key for key in _OURS if ours[key]["samples"] < result["samples"]]
    if short:
        print(f"!! cut at {SERIES_BUDGET_S:g} s, not every sample timed: {', '.join(short)}")
    theirs = result["pymerkle"]
    if "skipped" in theirs:
        print(f"pymerkle: skipped: {theirs['skipped']}")
    else:
        for tree, name in (("sqlite", "SqliteTree"), ("inmemory", "InmemoryTree")):
            found = theirs[tree]
            for kind in ("inclusion", "consistency"):
                for state in ("cold", "warm"):
                    _row(f"pymerkle {name} {kind} ({state})", found[f"{kind}_{state}"])
        print(
            f"pymerkle {theirs['version']} builds: SqliteTree "
            f"{theirs['sqlite']['build_seconds']:.0f} s (bulk append_entries; cached), "
            f"InmemoryTree {theirs['inmemory']['build_seconds']:.0f} s (every run); roots "
            f"equal ours at {result['tree_size']:,}: SqliteTree "
            f"{theirs['sqlite']['root_matches_ours']}, InmemoryTree "
            f"{theirs['inmemory']['root_matches_ours']}"
        )
        for key, ratio in result["ratios"].items():
            print(f"ratio of medians {key:47} {ratio:9.2f}")
    for key, ok in result["targets"].items():
        print(f"target {key:52} {'PASS' if ok else 'MISS'}")


def _row(label: str, r: dict[str, float]) -> None:
    print(f"{label:44} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['total_s']:8.2f} {r['samples']:8,}")
