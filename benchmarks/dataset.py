"""The benchmark's database: 100,000 certified pieces with real signed certificates.

A migrated SQLite database (the registry's own migrations), three makers (one per
region), an inspector with an API token (its secret in meta.json, for the audit export),
and for every piece a passed assay, a certificate whose payload is
`registry.certificates.payload(...)` signed by a `keys.KeyRing`, and the log events the
services would have appended. About 2% of the certificates are revoked and 1% were
superseded by a reissue, as in real data.

The events are the transparency log: numbered without gaps in the order of their time
(as the writes would have appended them), their Merkle tree stored as the registry
stores it (every perfect node, registry/log/tree.py), the log's head at their count,
and one checkpoint of the whole log signed at the end, so that every certificate's
verification carries its inclusion proof. `check` proves the result consistent.

Rows go in with SQLAlchemy Core executemany, built in parallel by one process per core.
The result is cached in benchmarks/.data/, keyed by the Alembic head revision, the
signed payload's schema version and BUILDER_VERSION (bump it when the data changes).
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Update, func, insert, select, update

import keys
from keys import note
from keys.commitments import CommitmentKey
from registry import accounts, certificates, codes, config, db, demo, inspection, migrate

# Aliased: this module's own names `makers` and `pieces` are lists and counts.
from registry import pieces as registry_pieces
from registry.log import checkpoints, events, ledger, merkle, proofs, tree
from registry.models import (
    Account,
    ApiToken,
    AssayRecord,
    Certificate,
    Checkpoint,
    Event,
    LogHead,
    LogNode,
    Maker,
    Piece,
)
from schemas.certificates import SCHEMA_VERSION
from schemas.standards import FINENESSES, EventType, Kind, RevocationReason

#: Bump whenever the builder makes different data, so that cached databases are rebuilt.
BUILDER_VERSION = 4
PIECES = 100_000
REVOKED_SHARE = 0.02
SUPERSEDED_SHARE = 0.01
#: Pieces per executemany batch (and per unit of work for the builder processes).
CHUNK = 2_000
#: Log entries (and their tree's nodes) per executemany batch.
LOG_BATCH = 20_000
DATA = Path(__file__).resolve().parent / ".data"

_SEED = 8785
_ADMIN, _INSPECTOR = 1, 2  # account ids; makers' accounts follow
_PREFIXES = {"yenisey-gold": "YG", "sayan-silver": "SS", "tuva-ornament": "TO"}
_OFFICES = {"RU-KYA": "KRS", "RU-KK": "ABK", "RU-TY": "KZL"}
_KIND_TITLES = {
    "ring": "Кольцо",
    "earrings": "Серьги",
    "pendant": "Подвеска",
    "brooch": "Брошь",
    "bracelet": "Браслет",
    "chain": "Цепь",
    "necklace": "Ожерелье",
    "cufflinks": "Запонки",
    "other": "Украшение",
}
_NAMES = ("Енисей", "Саяны", "Столбы", "Кедр", "Ангара", "Ергаки", "Бирюса", "Улуг-Хем", "Абакан")
_STONES = ("diamond", "chrysolite", "nephrite", "garnet", "topaz", "amethyst", "agalmatolite")
_METALS = (("silver", 55), ("gold", 35), ("platinum", 5), ("palladium", 5))
_NOTES = {
    "data_error": "Weight recorded wrongly at registration.",
    "fraud": "The hallmark was found counterfeit on re-inspection.",
    "piece_destroyed": "Melted down at the owner's request.",
    "piece_lost_or_stolen": "Reported stolen by the owner.",
    "other": "Withdrawn by the maker.",
}
_EVENT_COLUMNS = [c.key for c in Event.__table__.columns if c.key != "id"]


@dataclass(frozen=True)
class Dataset:
    directory: Path
    database: Path
    keys_dir: Path
    codes_file: Path
    #: True when built by this call, False when a cached one was reused.
    built: bool
    build_seconds: float
    counts: dict[str, int]
    #: The inspector's bearer token (the audit API needs one).
    inspector_token: str
    #: The public base URL the certificates and the checkpoint name (REGISTRY_PUBLIC_BASE_URL).
    public_base_url: str


def private_copy(data: Dataset, work: Path) -> dict[str, str]:
    """A copy of the database and keys in `work`, for one server or app alone (the cache
    stays as built), and the REGISTRY_* settings that serve it. Without the signer's last
    signed checkpoint (beside the keys) that another copy's log may have left: the copy's
    log would not extend it, and no checkpoint would be signed."""
    from benchmarks.logbench import SIGNED_STATE

    work.mkdir(parents=True, exist_ok=True)
    database = work / "registry.sqlite3"
    shutil.copyfile(data.database, database)
    shutil.copytree(
        data.keys_dir,
        work / "keys",
        ignore=shutil.ignore_patterns(SIGNED_STATE, f".{SIGNED_STATE}.*"),
    )
    return {
        "REGISTRY_DATABASE_URL": f"sqlite:///{database}",
        "REGISTRY_KEYS_DIR": str(work / "keys"),
        # The checkpoint's origin was resolved from this when the database was built.
        "REGISTRY_PUBLIC_BASE_URL": data.public_base_url,
        # The limiter runs, as in production, but never trips.
        "REGISTRY_PUBLIC_RATE_LIMIT": "1000000000 per minute",
        "REGISTRY_LOG_LEVEL": "WARNING",
    }


def app_with(settings: dict[str, str]) -> Any:
    """The registry built from `settings` (REGISTRY_* variables) instead of this
    process's own, which are put back after."""
    from registry import create_app

    saved = dict(os.environ)
    try:
        for name in [name for name in os.environ if name.startswith("REGISTRY_")]:
            del os.environ[name]
        os.environ.update(settings)
        return create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def ensure(*, pieces: int = PIECES, rebuild: bool = False) -> Dataset:
    """The cached database for the current schema, built first when there is none."""
    key = f"{head_revision()}-s{SCHEMA_VERSION}-b{BUILDER_VERSION}-{pieces}"
    directory = DATA / f"db-{key}"
    if rebuild or not (directory / "meta.json").exists():
        DATA.mkdir(exist_ok=True)
        for stale in DATA.glob("db-*"):
            shutil.rmtree(stale)  # one cached database at a time: each is some 650 MB
        print(f"building the benchmark database of {pieces:,} certified pieces…", flush=True)
        staging = DATA / f"building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        build(staging, pieces=pieces)
        staging.rename(directory)  # only a finished build gets the name that is reused
        built = True
    else:
        built = False
    meta = json.loads((directory / "meta.json").read_text())
    return Dataset(
        directory=directory,
        database=directory / "registry.sqlite3",
        keys_dir=directory / "keys",
        codes_file=directory / "codes.txt",
        built=built,
        build_seconds=meta["build_seconds"],
        counts=meta["counts"],
        inspector_token=meta["inspector_token"],
        public_base_url=meta["public_base_url"],
    )


def head_revision() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return "+".join(sorted(script.get_heads()))


def build(directory: Path, *, pieces: int = PIECES) -> None:
    """Build the database, key ring and codes file in `directory` (which must not exist)."""
    started = time.monotonic()
    directory.mkdir(parents=True)
    ring = keys.KeyRing(directory / "keys")
    ring.ensure_active()
    _worker["commitments"] = CommitmentKey.in_directory(directory / "keys")
    database = directory / "registry.sqlite3"
    engine = db.make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)

    rng = random.Random(_SEED)  # noqa: S311 - test data, reproducible on purpose; codes use secrets
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=730)
    superseded = sorted(rng.sample(range(1, pieces + 1), round(pieces * SUPERSEDED_SHARE)))
    taken = set(superseded)
    unsuperseded = [i for i in range(1, pieces + 1) if i not in taken]
    revoked = set(rng.sample(unsuperseded, round(pieces * REVOKED_SHARE)))
    fresh = _unique_codes(pieces + len(superseded))
    reissue = {
        piece_id: (pieces + rank + 1, fresh[pieces + rank])
        for rank, piece_id in enumerate(superseded)
    }
    specs = [
        [
            (i, fresh[i - 1], i in revoked, reissue.get(i))
            for i in range(first, min(first + CHUNK, pieces + 1))
        ]
        for first in range(1, pieces + 1, CHUNK)
    ]
    counts = {"pieces": 0, "certificates": 0, "events": 0}
    events: list[dict[str, Any]] = []
    base_url = config.Defaults.PUBLIC_BASE_URL
    with engine.begin() as connection:
        events.extend(_insert_people(connection, start))
        inspector_token, token_events = _insert_token(connection)
        events.extend(token_events)
        # Spawned, not forked: the children must not inherit this open SQLite connection.
        with ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(directory / "keys"), start, pieces, _SEED),
        ) as pool:
            for number, rows in enumerate(pool.map(_build_chunk, specs), start=1):
                if number % max(1, len(specs) // 5) == 0:
                    print(f"  {number * CHUNK:,} pieces", flush=True)
                connection.execute(insert(Piece.__table__), rows["pieces"])
                connection.execute(insert(AssayRecord.__table__), rows["assays"])
                connection.execute(insert(Certificate.__table__), rows["certificates"])
                events.extend(rows["events"])
                events.extend(rows["later"])
                counts["pieces"] += len(rows["pieces"])
                counts["certificates"] += len(rows["certificates"])
        seals = proofs.Proofs(_worker["commitments"])
        size, root = _insert_log(connection, events, seals)
        counts["events"] = size
        del events
        # As the services seal each state they change, once the entries are numbered.
        certificates.seal_unsealed(connection, seals)
        _insert_checkpoint(connection, ring, log_origin(base_url), size, root)
    engine.dispose()
    # Everything into the main file, so that a copy of that file alone is complete.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checked = check(database, directory / "keys")

    all_codes = fresh[:]
    rng.shuffle(all_codes)
    (directory / "codes.txt").write_text("".join(code + "\n" for code in all_codes))
    counts.update(revoked=len(revoked), superseded=len(superseded))
    meta = {
        "built_at": now.isoformat(),
        "build_seconds": round(time.monotonic() - started, 1),
        "counts": counts,
        "alembic_head": head_revision(),
        "builder_version": BUILDER_VERSION,
        "public_base_url": base_url,
        "inspector_token": inspector_token,
        "log": checked,
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def log_origin(base_url: str) -> str:
    """The LOG_ORIGIN the registry's configuration resolves to for this public base URL."""
    origin, _asked = config.log_origin({"PUBLIC_BASE_URL": base_url})
    return origin


def check(database: Path, keys_dir: Path) -> dict[str, Any]:
    """Prove the built log consistent, or raise: the entries are numbered 0 to n - 1, the
    head says n, every perfect node is stored, the root folded from the stored nodes
    (registry.log.tree.root) is the one recomputed from every entry, and the checkpoint
    is of that tree and its signature holds."""
    started = time.monotonic()
    engine = db.make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            size = tree.size(connection)
            stored_root = tree.root(connection, size)
            builder = merkle.Builder()
            rows = connection.execute(
                select(Event.log_index, Event.entry).order_by(Event.log_index)
            )
            for index, entry in rows:
                if index != builder.size:
                    raise RuntimeError(f"log index {index} where {builder.size} was due")
                builder.append(merkle.leaf_hash(entry))
            stored_nodes = connection.scalar(select(func.count()).select_from(LogNode))
            newest = connection.execute(
                select(Checkpoint.tree_size, Checkpoint.root_hash, Checkpoint.note)
                .order_by(Checkpoint.id.desc())
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    problems = []
    if builder.size != size:
        problems.append(f"{builder.size:,} entries, but the head says {size:,}")
    if builder.root() != stored_root:
        problems.append("the root of the stored nodes is not the root of the entries")
    if stored_nodes != 2 * size - size.bit_count():
        problems.append(f"{stored_nodes:,} nodes stored, {2 * size - size.bit_count():,} due")
    opened = note.open_checkpoint(newest.note, checkpoints.public_keys(keys.KeyRing(keys_dir)))
    whole = (size, stored_root)
    if (newest.tree_size, newest.root_hash) != whole or (opened.size, opened.root) != whole:
        problems.append("the checkpoint is not of the whole log")
    if problems:
        raise RuntimeError("the benchmark database's log is inconsistent: " + "; ".join(problems))
    print(
        f"  log checked: {size:,} entries, {stored_nodes:,} nodes, root {stored_root.hex()[:16]}… "
        f"= recomputed, checkpoint signed ({time.monotonic() - started:.1f} s)",
        flush=True,
    )
    return {"size": size, "nodes": stored_nodes, "root": stored_root.hex(), "origin": opened.origin}


def _insert_log(
    connection, events: list[dict[str, Any]], seals: proofs.Proofs
) -> tuple[int, bytes]:
    """Number the events in the order of their time, store them (with the MAC of their
    final place) and their Merkle tree, and set the log's head; (size, root)."""
    # Stable: events of one time keep the order the services append them in.
    events.sort(key=lambda row: row["occurred_at"])
    builder = merkle.Builder()
    for first in range(0, len(events), LOG_BATCH):
        batch = events[first : first + LOG_BATCH]
        nodes = []
        for row in batch:
            row["id"] = builder.size + 1
            row["log_index"] = builder.size
            row["mac"] = seals.entry_mac(builder.size, row["entry"])
            completed = builder.append(merkle.leaf_hash(row["entry"]))
            nodes.extend({"level": lv, "index": i, "hash": h} for (lv, i), h in completed)
        connection.execute(insert(Event.__table__), batch)
        connection.execute(insert(LogNode.__table__), nodes)
    # The migration made the head row at size 0.
    connection.execute(update(LogHead.__table__).where(LogHead.id == 1).values(size=builder.size))
    return builder.size, builder.root()


def _insert_checkpoint(connection, ring: keys.KeyRing, origin, size, root) -> None:
    # As registry.log.checkpoints stores one: signed by the active key, at a whole second.
    made_at = datetime.now(UTC).replace(microsecond=0)
    text, key = note.sign_checkpoint(ring, origin, size, root, int(made_at.timestamp()))
    connection.execute(
        insert(Checkpoint.__table__).values(
            tree_size=size, root_hash=root, made_at=made_at, kid=key.kid, note=text
        )
    )


def _unique_codes(count: int) -> list[str]:
    seen: set[str] = set()
    result = []
    while len(result) < count:
        code = codes.new()
        if code not in seen:
            seen.add(code)
            result.append(code)
    return result


def _makers() -> list[Maker]:
    return [
        Maker(id=number, admitted_at=None, **data)
        for number, data in enumerate(demo.MAKERS, start=1)
    ]


def _accounts(makers: list[Maker]) -> list[Account]:
    people = [
        Account(id=_ADMIN, email="office@bench.yenisey.example", role="admin"),
        Account(
            id=_INSPECTOR,
            email="inspector@bench.yenisey.example",
            role="inspector",
            display_name="Bench Inspector",
        ),
    ]
    for number, maker in enumerate(makers, start=_INSPECTOR + 1):
        people.append(
            Account(
                id=number,
                email=f"{maker.slug}@bench.yenisey.example",
                role="maker",
                maker_id=maker.id,
                maker=maker,
            )
        )
    return people


def _insert_people(connection, start: datetime) -> list[dict[str, Any]]:
    """The makers and accounts; their events, to be numbered with the rest."""
    makers = _makers()
    people = _accounts(makers)
    log = _Log()
    admin = people[_ADMIN - 1]
    at = start - timedelta(days=10)
    for account in people:
        maker = account.maker
        if maker is not None:
            ledger.append(
                log,
                EventType.MAKER_ADMITTED,
                actor=admin,
                maker=maker,
                data=events.admission(maker),
                at=at,
            )
        ledger.append(
            log,
            EventType.ACCOUNT_CREATED,
            actor=None if account is admin else admin,
            maker=maker,
            data={"account": ledger.commitment(log, account.email), "role": account.role},
            at=at,
        )
    maker_columns = [c.key for c in Maker.__table__.columns]
    maker_rows = []
    for maker in makers:
        maker.admitted_at = at
        maker_rows.append({key: getattr(maker, key) for key in maker_columns})
    connection.execute(insert(Maker.__table__), maker_rows)
    connection.execute(
        insert(Account.__table__),
        [
            {
                "id": account.id,
                "email": account.email,
                "role": account.role,
                "maker_id": account.maker_id,
                "display_name": account.display_name,
                "password_hash": None,
                "created_at": at,
            }
            for account in people
        ],
    )
    return log.rows()


def _insert_token(connection) -> tuple[str, list[dict[str, Any]]]:
    """The inspector's API token, made by registry.accounts as `registry tokens create`
    makes one (now, by the system); (its secret, its event)."""
    inspector = _accounts(_makers())[_INSPECTOR - 1]
    log = _Log()
    token, secret = accounts.issue_token(log, inspector, name="benchmark", actor=None)
    connection.execute(
        insert(ApiToken.__table__).values(
            account_id=inspector.id,
            prefix=token.prefix,
            secret_hash=token.secret_hash,
            name=token.name,
            created_at=log.events[0].occurred_at,
        )
    )
    if token.secret_hash != hashlib.sha256(secret.encode()).hexdigest():
        raise RuntimeError("registry.accounts no longer stores a token as its SHA-256")
    return secret, log.rows()


class _Log:
    """Stands in for the session that the services write to, so the events built here
    have exactly the entries the services would append (other rows added, such as a
    token, are kept in `others`).

    To registry.log.tree.append, which ledger.append calls, it is a log of its own that
    counts from 0 and keeps no nodes: the builder makes the entries in parallel and out
    of order, and `_insert_log` numbers them, and stores their tree, once their order is
    known.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.others: list[Any] = []
        self.info: dict[str, Any] = {}
        ledger.keep_private(self, _worker["commitments"])
        self._size = 0

    def flush(self) -> None:
        pass

    def add(self, row: Any) -> None:
        (self.events if isinstance(row, Event) else self.others).append(row)

    def connection(self) -> Any:
        # The nodes an append completes are inserted as on SQLite (db.insert_rows): here,
        # through `execute`, which keeps none.
        return SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        if isinstance(statement, Update):  # an append takes the head's next size
            self._size += 1
            return SimpleNamespace(scalar_one_or_none=lambda: self._size)
        return None  # the nodes an append completes

    def rows(self) -> list[dict[str, Any]]:
        return [{key: getattr(event, key) for key in _EVENT_COLUMNS} for event in self.events]


class _Record(SimpleNamespace):
    """A row as `certificates.payload` and `ledger.append` read it: attributes only.
    SQLAlchemy's instrumented models would cost a fifth of the build time."""


class _Piece(_Record):
    weight_g = Piece.weight_g  # the model's own property


# In each builder process, set by _init_worker.
_worker: dict[str, Any] = {}


def _init_worker(keys_dir: str, start: datetime, pieces: int, seed: int) -> None:
    makers = _makers()
    people = _accounts(makers)
    _worker.update(
        ring=keys.KeyRing(keys_dir),
        commitments=CommitmentKey.in_directory(keys_dir),
        issuer=certificates.Issuer(
            name=config.Defaults.ISSUER_NAME,
            url=config.Defaults.PUBLIC_BASE_URL,
            brand=config.Defaults.BRAND,
        ),
        makers=makers,
        people=people,
        start=start,
        pieces=pieces,
        seed=seed,
    )


def _build_chunk(spec: list[tuple[int, str, bool, tuple[int, str] | None]]) -> dict[str, list]:
    ring: keys.KeyRing = _worker["ring"]
    issuer: certificates.Issuer = _worker["issuer"]
    makers: list[Maker] = _worker["makers"]
    people: list[Account] = _worker["people"]
    inspector = people[_INSPECTOR - 1]
    span = timedelta(days=680) / _worker["pieces"]
    rng = random.Random(_worker["seed"] * 1_000_003 + spec[0][0])  # noqa: S311 - test data
    log, later = _Log(), _Log()
    rows: dict[str, list] = {"pieces": [], "assays": [], "certificates": []}
    reissues = []

    for piece_id, code, revoked, reissue in spec:
        maker = makers[piece_id % len(makers)]
        account = people[_INSPECTOR + maker.id - 1]
        registered_at = _worker["start"] + span * piece_id + timedelta(minutes=rng.randint(0, 600))
        registered_at = registered_at.replace(microsecond=0)
        attested_at = registered_at + timedelta(minutes=rng.randint(60, 7200))
        kind = rng.choice(tuple(Kind))
        metal = rng.choices([m for m, _ in _METALS], [w for _, w in _METALS])[0]
        fineness = rng.choice(FINENESSES[metal])
        weight_cg = rng.randint(80, 4000)
        stones = [
            {
                "type": rng.choice(_STONES),
                "count": rng.randint(1, 12),
                "carat": round(rng.uniform(0.01, 3), 2),
            }
            for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))
        ]
        uin = f"{6400000000000000 + piece_id}" if rng.random() < 0.5 else None
        # A reissued piece was corrected: its first certificate signed the old weight.
        first_weight = weight_cg + rng.randint(5, 50) if reissue else weight_cg
        piece = _Piece(
            id=piece_id,
            maker_id=maker.id,
            maker=maker,
            reference=f"{_PREFIXES[maker.slug]}-{piece_id:06d}",
            kind=kind,
            title=f"{_KIND_TITLES[kind]} «{rng.choice(_NAMES)}»",
            description=(
                f"Ручная работа, {maker.city}. Handmade in {maker.name_en}'s workshop."
                if rng.random() < 0.4
                else None
            ),
            metal=metal,
            fineness=fineness,
            weight_cg=first_weight,
            stones=stones,
            uin=uin,
            status="revoked" if revoked else "certified",
            registered_at=registered_at,
            registered_by_id=account.id,
            photo_id=None,
            photo=None,
        )
        assay = _Record(
            id=piece_id,
            piece_id=piece_id,
            inspector_id=_INSPECTOR,
            result="passed",
            metal=metal,
            fineness=fineness,
            assay_mark=f"{fineness}-{_OFFICES[maker.region]}",
            inspectorate=inspection.INSPECTORATE,
            notes=None,
            attested_at=attested_at,
        )
        ledger.append(
            log,
            EventType.PIECE_REGISTERED,
            actor=account,
            maker=maker,
            piece=piece,
            data=registry_pieces.registration(log, piece),
            at=registered_at,
        )
        ledger.append(
            log,
            EventType.ASSAY_PASSED,
            actor=inspector,
            maker=maker,
            piece=piece,
            data=events.attestation(log, assay),
            at=attested_at,
        )
        # As in certificates.issue: signed in the attestation's transaction, at its time.
        first = _certificate(ring, issuer, piece, assay, piece_id, code, attested_at)
        ledger.append(
            log,
            EventType.CERTIFICATE_ISSUED,
            actor=inspector,
            maker=maker,
            piece=piece,
            certificate=first,
            data={"kid": first.kid, "supersedes": None},
            at=attested_at,
        )
        if revoked:
            reason = rng.choice(tuple(RevocationReason))
            first.status = "revoked"
            first.revoked_at = attested_at + timedelta(minutes=rng.randint(60, 60 * 24 * 40))
            first.revocation_reason = reason
            first.revocation_note = _NOTES[reason]
            ledger.append(
                later,
                EventType.CERTIFICATE_REVOKED,
                actor=inspector,
                maker=maker,
                piece=piece,
                certificate=first,
                data={"reason": reason, "note": _NOTES[reason]},
                at=first.revoked_at,
            )
        rows["certificates"].append(_certificate_row(first))
        if reissue:
            reissued_at = attested_at + timedelta(minutes=rng.randint(60, 60 * 24 * 30))
            new_id, new_code = reissue
            first.status = "superseded"
            rows["certificates"][-1]["status"] = "superseded"
            piece.weight_cg = weight_cg
            ledger.append(
                later,
                EventType.CERTIFICATE_SUPERSEDED,
                actor=inspector,
                maker=maker,
                piece=piece,
                certificate=first,
                data={"note": "Weight corrected after re-weighing.", "changed": ["weight_g"]},
                at=reissued_at,
            )
            second = _certificate(
                ring, issuer, piece, assay, new_id, new_code, reissued_at, supersedes=first
            )
            ledger.append(
                later,
                EventType.CERTIFICATE_ISSUED,
                actor=inspector,
                maker=maker,
                piece=piece,
                certificate=second,
                data={"kid": second.kid, "supersedes": first.code},
                at=reissued_at,
            )
            reissues.append(_certificate_row(second))
        rows["pieces"].append(_piece_row(piece))
        rows["assays"].append({c.key: getattr(assay, c.key) for c in AssayRecord.__table__.columns})
    # Reissues after the certificates they supersede (the foreign key points back).
    rows["certificates"].extend(reissues)
    rows["events"] = log.rows()
    rows["later"] = later.rows()
    return rows


def _certificate(
    ring: keys.KeyRing,
    issuer: certificates.Issuer,
    piece: Piece,
    assay: AssayRecord,
    certificate_id: int,
    code: str,
    issued_at: datetime,
    *,
    supersedes: Certificate | None = None,
) -> Certificate:
    payload = certificates.payload(
        piece, assay, code=code, issued_at=issued_at, issuer=issuer, supersedes=supersedes
    )
    signed = ring.sign(payload)
    return _Record(
        id=certificate_id,
        code=code,
        piece_id=piece.id,
        assay_id=assay.id,
        kid=signed.kid,
        payload=payload,
        jws=signed.jws,
        seal=ring.seal(signed.kid, certificates.sealed_bytes(signed.jws, payload)),
        issued_at=issued_at,
        status="valid",
        revoked_at=None,
        revocation_reason=None,
        revocation_note=None,
        supersedes_id=supersedes.id if supersedes else None,
        state_seal=None,  # sealed once the log's entries are numbered (build)
    )


def _certificate_row(certificate: Certificate) -> dict[str, Any]:
    return {c.key: getattr(certificate, c.key) for c in Certificate.__table__.columns}


def _piece_row(piece: Piece) -> dict[str, Any]:
    return {c.key: getattr(piece, c.key) for c in Piece.__table__.columns}
