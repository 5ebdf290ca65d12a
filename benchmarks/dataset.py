"""The benchmark's database: 100,000 certified pieces with real signed certificates.

A migrated SQLite database (the registry's own migrations), three makers (one per
region), an inspector, and for every piece a passed assay, a certificate whose payload
is `registry.certificates.payload(...)` signed by a `keys.KeyRing`, and the log events
the services would have appended. About 2% of the certificates are revoked and 1% were
superseded by a reissue, as in real data.

Rows go in with SQLAlchemy Core executemany, built in parallel by one process per core.
The result is cached in benchmarks/.data/, keyed by the Alembic head revision, the
signed payload's schema version and BUILDER_VERSION (bump it when the data changes).
"""

import contextlib
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
from sqlalchemy import insert

import keys
from registry import assays, certificates, codes, config, db, demo, ledger, migrate

# Aliased: this module's own names `makers` and `pieces` are lists and counts.
from registry import makers as registry_makers
from registry import pieces as registry_pieces
from registry.models import Account, AssayRecord, Certificate, Event, Maker, Piece
from schemas.certificates import SCHEMA_VERSION
from schemas.standards import FINENESSES, KINDS, REVOCATION_REASONS

#: Bump whenever the builder makes different data, so that cached databases are rebuilt.
BUILDER_VERSION = 2
PIECES = 100_000
REVOKED_SHARE = 0.02
SUPERSEDED_SHARE = 0.01
#: Pieces per executemany batch (and per unit of work for the builder processes).
CHUNK = 2_000
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


def ensure(*, pieces: int = PIECES, rebuild: bool = False) -> Dataset:
    """The cached database for the current schema, built first when there is none."""
    key = f"{head_revision()}-s{SCHEMA_VERSION}-b{BUILDER_VERSION}-{pieces}"
    directory = DATA / f"db-{key}"
    if rebuild or not (directory / "meta.json").exists():
        DATA.mkdir(exist_ok=True)
        for stale in DATA.glob("db-*"):
            shutil.rmtree(stale)  # one cached database at a time: each is some 300 MB
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
    later: list[dict[str, Any]] = []
    with engine.begin() as connection:
        _insert_people(connection, start)
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
                connection.execute(insert(Event.__table__), rows["events"])
                later.extend(rows["later"])
                counts["pieces"] += len(rows["pieces"])
                counts["certificates"] += len(rows["certificates"])
                counts["events"] += len(rows["events"])
        # Revocations and reissues happened after the issues, in the order of their time.
        later.sort(key=lambda row: row["occurred_at"])
        connection.execute(insert(Event.__table__), later)
        counts["events"] += len(later)
    engine.dispose()
    # Everything into the main file, so that a copy of that file alone is complete.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


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


def _insert_people(connection, start: datetime) -> None:
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
                ledger.Action.MAKER_ADMITTED,
                actor=admin,
                maker=maker,
                data=registry_makers.admission(maker),
                at=at,
            )
        ledger.append(
            log,
            ledger.Action.ACCOUNT_CREATED,
            actor=None if account is admin else admin,
            maker=maker,
            data={"account": ledger.digest(account.email), "role": account.role},
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
    connection.execute(insert(Event.__table__), log.rows())


class _Log:
    """Stands in for the session that `ledger.append` writes to, so the events built
    here have exactly the entries the services would append."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def flush(self) -> None:
        pass

    def add(self, event: Event) -> None:
        self.events.append(event)

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
        kind = rng.choice(KINDS)
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
            inspectorate=demo.INSPECTORATE,
            notes=None,
            attested_at=attested_at,
        )
        ledger.append(
            log,
            ledger.Action.PIECE_REGISTERED,
            actor=account,
            maker=maker,
            piece=piece,
            data=registry_pieces.registration(piece),
            at=registered_at,
        )
        ledger.append(
            log,
            ledger.Action.ASSAY_PASSED,
            actor=inspector,
            maker=maker,
            piece=piece,
            data=assays.attestation(assay),
            at=attested_at,
        )
        # As in certificates.issue: signed in the attestation's transaction, at its time.
        first = _certificate(ring, issuer, piece, assay, piece_id, code, attested_at)
        ledger.append(
            log,
            ledger.Action.CERTIFICATE_ISSUED,
            actor=inspector,
            maker=maker,
            piece=piece,
            certificate=first,
            data={"kid": first.kid, "supersedes": None},
            at=attested_at,
        )
        if revoked:
            reason = rng.choice(REVOCATION_REASONS)
            first.status = "revoked"
            first.revoked_at = attested_at + timedelta(minutes=rng.randint(60, 60 * 24 * 40))
            first.revocation_reason = reason
            first.revocation_note = _NOTES[reason]
            ledger.append(
                later,
                ledger.Action.CERTIFICATE_REVOKED,
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
                ledger.Action.CERTIFICATE_SUPERSEDED,
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
                ledger.Action.CERTIFICATE_ISSUED,
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
    )


def _certificate_row(certificate: Certificate) -> dict[str, Any]:
    return {c.key: getattr(certificate, c.key) for c in Certificate.__table__.columns}


def _piece_row(piece: Piece) -> dict[str, Any]:
    return {c.key: getattr(piece, c.key) for c in Piece.__table__.columns}
