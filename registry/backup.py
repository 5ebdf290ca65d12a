"""Backups: a consistent snapshot of the database taken while the server runs, and its
restore, which never takes the log back behind a checkpoint already published unless
the operator says so.

A backup is a new directory:

    manifest.json            written last: what the backup holds, and each file's SHA-256
    database.sqlite3         SQLite: a copy made with SQLite's backup API
    database.pgdump          PostgreSQL: `pg_dump --format=custom`, of one exported snapshot
    keys/keyring.json        the key ring's public state: every key's public half and status
    keys/log-origin.txt      the name the log's checkpoints are signed under
    keys/log-checkpoint.txt  the newest checkpoint the snapshot holds, signed, in the form
                             the signer keeps in its memory (LOG_SIGNED_STATE)

The private keys (`<kid>.pem`) and the commitment key are secrets: they are never in a
backup, and are backed up separately, as secrets (README, "Operations").

Why a restore can fork the log: a checkpoint, once served, may be held by anyone (an
auditor's state file, a witness, a buyer's phone). A database restored from before it
holds a shorter tree, or, once written to again, another tree of the same size; every
checkpoint signed afterwards contradicts the one served. So a restore first compares the
backup's tree with every published checkpoint it can see, and refuses unless the tree
extends each one (`accept_fork` overrides, and the refusal says what was published).
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.engine import Connection, Engine, make_url

import keys
from keys import note
from keys.commitments import FILE_NAME as COMMITMENT_KEY_FILE
from keys.commitments import CommitmentKey
from registry import db
from registry.errors import Conflict, InvalidInput, Unavailable
from registry.log import checkpoints, merkle, tree
from registry.models import PortalSession

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
#: The key ring's state file (keys/ring.py): public keys, statuses and times, no secret.
KEYRING_FILE = "keyring.json"
#: Where the backup's own copies of the keys directory's public files go.
KEYS_PART = "keys"
CHECKPOINT_FILE = "log-checkpoint.txt"
#: In an auditor's state file (registry/log/remote.py), what follows the checkpoint note.
_AUDIT_RANGE = "\n\ncompact range "
_CHUNK = 1 << 20
_LOCK_TIMEOUT = "10s"  # a restore that waits on a running server's locks gives up


@dataclass(frozen=True)
class Published:
    """A checkpoint already shown to others, which the restored log must extend."""

    size: int
    root: bytes
    #: Where it was found, in words an operator can look up.
    where: str


@dataclass(frozen=True)
class Fork:
    """A published checkpoint the backup's log does not extend, and why."""

    published: Published
    reason: str

    def __str__(self) -> str:
        return (
            f"- {self.published.where}: a checkpoint of {self.published.size} entries, root "
            f"{_b64(self.published.root)}, was published; {self.reason}"
        )


@dataclass(frozen=True)
class Manifest:
    """What a backup holds (manifest.json)."""

    created_at: str
    backend: str
    database: str
    tree_size: int
    root: bytes
    origin: str | None
    checkpoint: note.Checkpoint | None
    files: dict[str, str]
    #: The commitment key's fingerprint (CommitmentKey.fingerprint): the rows' MACs and
    #: seals hold only under that key, which a restore must find in the keys directory.
    commitment_key: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "backend": self.backend,
            "database": self.database,
            "tree_size": self.tree_size,
            "root": _b64(self.root),
            "origin": self.origin,
            "checkpoint": None
            if self.checkpoint is None
            else {
                "size": self.checkpoint.size,
                "root": _b64(self.checkpoint.root),
                "note": self.checkpoint.text,
            },
            "files": self.files,
            "commitment_key": self.commitment_key,
        }


@dataclass
class Restored:
    """What a restore did: the backup put back, the forks accepted, the files set aside."""

    manifest: Manifest
    forks: list[Fork] = field(default_factory=list)
    #: The signer's memory as it was, renamed (never deleted) when it was replaced.
    set_aside: Path | None = None
    #: Files of the keys directory written from the backup (those it lacked).
    written: list[Path] = field(default_factory=list)
    #: Published checkpoints that could not be read (and so not compared), accepted too.
    unreadable: list[str] = field(default_factory=list)
    #: Portal sessions the backup held open, ended: each was live when the backup was
    #: taken, and may have been ended since (a sign-out, a password change).
    sessions_ended: int = 0

    @property
    def forked(self) -> bool:
        return bool(self.forks or self.unreadable)


# Backup ------------------------------------------------------------------------------


def take(
    engine: Engine, destination: Path, *, signer: checkpoints.Signer, keys_dir: Path
) -> tuple[Manifest, list[Fork]]:
    """Back up the database behind `engine`, with the keys' public state, the log's origin
    and the newest checkpoint of the snapshot, into the new directory `destination`.

    Online: the server may go on writing; what is copied is one consistent snapshot
    (SQLite's backup API, or a PostgreSQL snapshot shared with pg_dump). Every file is
    synced, the manifest last. Returns (Manifest, forks): forks name the published
    checkpoints (the signer's memory) that the snapshot does not extend, a database
    already rewritten or restored behind the registry's back. Raises Conflict when
    `destination` holds files already, Unavailable when the snapshot cannot be made.
    """
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise Conflict(f"{destination} exists and is not an empty directory: name a new one")
    destination.mkdir(parents=True, exist_ok=True)
    (destination / KEYS_PART).mkdir(exist_ok=True)
    # Read before the snapshot: a checkpoint remembered now was committed before it.
    remembered = signer.last_signed()
    published = (
        []
        if remembered is None
        else [Published(remembered.size, remembered.root, f"the signer's memory ({signer.state})")]
    )
    backend = engine.dialect.name
    if backend == "sqlite":
        name, size, root, newest, forks = _snapshot_sqlite(engine, destination, published)
    elif backend == "postgresql":
        name, size, root, newest, forks = _snapshot_postgres(engine, destination, published)
    else:
        raise Unavailable(f"no backup for a {backend} database")
    # Read after the snapshot: every key that signed a checkpoint in it is named.
    files = {name: _sha256(destination / name)}

    def keep(part: str, data: bytes) -> None:
        keys.write_atomically(destination / part, data)
        files[part] = _sha256(destination / part)

    if (keys_dir / KEYRING_FILE).exists():
        keep(f"{KEYS_PART}/{KEYRING_FILE}", (keys_dir / KEYRING_FILE).read_bytes())
    checkpoint = _opened(newest, keys.KeyRing(destination / KEYS_PART))
    if checkpoint is not None:
        keep(f"{KEYS_PART}/{CHECKPOINT_FILE}", checkpoint.text.encode("utf-8"))
    # The origin kept by `registry init`; else the one the log was signed under (a log
    # whose origin was never written down).
    try:
        origin = checkpoints.kept_origin(keys_dir / checkpoints.ORIGIN_FILE, signer)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"the log's origin cannot be read: {exc}") from None
    if origin is None and checkpoint is not None:
        origin = checkpoint.origin
    if origin is not None:
        keep(f"{KEYS_PART}/{checkpoints.ORIGIN_FILE}", f"{origin}\n".encode())
    manifest = Manifest(
        created_at=_now(),
        backend=backend,
        database=name,
        tree_size=size,
        root=root,
        origin=origin,
        checkpoint=checkpoint,
        files=files,
        commitment_key=_fingerprint(keys_dir),
    )
    document = json.dumps(manifest.document(), indent=2, ensure_ascii=False) + "\n"
    keys.write_atomically(destination / MANIFEST, document.encode("utf-8"))
    return manifest, forks


class _Nodes:
    """Perfect nodes of a snapshot's tree, read on demand; closed when done."""

    def __init__(
        self,
        read: Callable[[set[merkle.Node]], dict[merkle.Node, bytes]],
        close: Callable[[], None] | None = None,
    ):
        self._read, self._close = read, close

    def __call__(self, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        return self._read(wanted)

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _snapshot_sqlite(engine: Engine, destination: Path, published: list[Published]):
    source_path = _sqlite_path(engine.url.render_as_string(hide_password=False))
    target = destination / SQLITE_FILE
    partial = destination / f".{SQLITE_FILE}.partial"
    if not source_path.is_file():  # sqlite3 would make an empty database there
        raise Unavailable(f"there is no database at {source_path}")
    try:
        source = sqlite3.connect(source_path, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise Unavailable(f"the database {source_path} cannot be opened: {exc}") from exc
    try:
        copy = sqlite3.connect(partial)
        try:
            # One step (pages=-1): the whole database under one read transaction, so that
            # writers may go on in WAL mode and the copy is of one moment.
            source.backup(copy)
            # A single file: the copy needs no -wal beside it to be whole.
            copy.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            copy.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise Unavailable(f"the database {source_path} could not be copied: {exc}") from exc
    finally:
        source.close()
    _sync(partial)
    os.replace(partial, target)
    _sync(destination)
    size, newest, nodes = _read_sqlite(target)
    try:
        root = _root(size, nodes)
        forks = _forks(published, size, root, nodes)
    finally:
        nodes.close()
    return SQLITE_FILE, size, root, newest, forks


def _read_sqlite(path: Path) -> tuple[int, str | None, _Nodes]:
    """From a snapshot file: the log's size, the newest checkpoint's note, and its nodes."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        head = connection.execute("SELECT size FROM log_head WHERE id = 1").fetchone()
        newest = connection.execute(
            "SELECT note FROM checkpoint ORDER BY tree_size DESC, id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error as exc:
        connection.close()
        raise InvalidInput(f"{path} is not a registry database: {exc}") from exc
    if head is None:
        connection.close()
        raise InvalidInput(f"{path} holds no log head: not an initialised registry database")

    def read(wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        found = {}
        for level, index in wanted:
            row = connection.execute(
                'SELECT hash FROM log_node WHERE level = ? AND "index" = ?', (level, index)
            ).fetchone()
            if row is not None:
                found[(level, index)] = bytes(row[0])
        return found

    return int(head[0]), newest[0] if newest else None, _Nodes(read, connection.close)


def _snapshot_postgres(engine: Engine, destination: Path, published: list[Published]):
    target = destination / POSTGRES_FILE
    partial = destination / f".{POSTGRES_FILE}.partial"
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # The snapshot pg_dump reads is this transaction's: the size, root, newest
            # checkpoint and nodes read here are those of the dump, whatever is written
            # meanwhile.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            size = tree.size(connection)
            root = tree.root(connection, size)
            newest = connection.execute(checkpoints.newest_query()).first()
            _run(
                "pg_dump",
                ["--format=custom", f"--snapshot={snapshot}", f"--file={partial}"],
                engine.url,
                failure=f"the database could not be dumped into {destination}",
            )
            forks = _forks(
                published, size, root, _Nodes(lambda wanted: _stored(connection, wanted))
            )
    _sync(partial)
    os.replace(partial, target)
    _sync(destination)
    return POSTGRES_FILE, size, root, newest.note if newest else None, forks


def _stored(connection: Connection, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    try:
        return tree.nodes(connection, wanted)
    except Unavailable:
        return {}  # _forks names what is missing


# Restore -----------------------------------------------------------------------------


def read_manifest(source: Path) -> Manifest:
    """A backup's manifest, with every file it names checked against its hash.

    Raises InvalidInput when `source` is not a whole, intact backup.
    """
    path = source / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(
            f"{source} holds no {MANIFEST}: not a backup, or not a finished one"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} cannot be read: {exc}") from None
    try:
        if document["format"] != FORMAT:
            raise InvalidInput(f"{path} is of format {document['format']!r}, not {FORMAT}")
        files = {str(k): str(v) for k, v in document["files"].items()}
        for name, digest in files.items():
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise InvalidInput(f"{path} names a file outside the backup: {name!r}")
            if not (source / name).is_file():
                raise InvalidInput(f"the backup lacks {name}")
            if _sha256(source / name) != digest:
                raise InvalidInput(
                    f"{source / name} is not the file the backup made (its hash differs)"
                )
        ring = keys.KeyRing(source / KEYS_PART)
        held = document["checkpoint"]
        checkpoint = None
        if held is not None:
            checkpoint = note.open_checkpoint(held["note"], checkpoints.public_keys(ring))
        return Manifest(
            created_at=document["created_at"],
            backend=document["backend"],
            database=document["database"],
            tree_size=int(document["tree_size"]),
            root=base64.b64decode(document["root"], validate=True),
            origin=document["origin"],
            checkpoint=checkpoint,
            files=files,
            commitment_key=document.get("commitment_key"),
        )
    except (KeyError, TypeError, ValueError, note.NoteError) as exc:
        raise InvalidInput(f"{path} does not hold: {exc}") from None
    except keys.KeyRingError as exc:
        raise InvalidInput(f"the backup's key state does not hold: {exc}") from None


def restore(
    source: Path,
    *,
    database_url: str,
    keys_dir: Path,
    signer: checkpoints.Signer,
    audit_states: Sequence[Path] = (),
    accept_fork: bool = False,
) -> Restored:
    """Replace the database at `database_url` with the backup in `source`.

    Not while a server or another command uses the database: the caller stops them.
    First every published checkpoint it can see (the signer's memory; each auditor's
    state file in `audit_states`) is compared with the backup's tree. If the tree does not
    extend one, it raises Conflict naming each, unless `accept_fork`: then it restores,
    keeps the signer's memory aside (renamed, never deleted) and sets it to the backup's
    checkpoint, so that the signer signs again; the result names the forks accepted.
    The keys directory keeps its own key ring and origin, which must hold the backup's
    (else Conflict); those it lacks are written from the backup. Raises InvalidInput for
    a damaged backup, Unavailable when the database cannot be replaced.
    """
    manifest = read_manifest(source)
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    if manifest.backend != backend:
        raise InvalidInput(
            f"the backup is of a {manifest.backend} database; "
            f"the registry is set to a {backend} one"
        )
    backup_keys = source / KEYS_PART
    _check_keys(backup_keys, keys_dir, manifest)
    ring = keys.KeyRing(backup_keys)
    known = {**checkpoints.public_keys(ring), **_live_keys(keys_dir)}

    # 1. What was published: the signer's memory, each auditor's state, and later the
    #    witnesses' cosigned checkpoints (when the registry has witnesses, their latest
    #    cosigned checkpoint each joins this list, as the auditors' states do).
    published: list[Published] = []
    unreadable: list[str] = []
    memory = signer.state
    if memory.exists():
        try:
            remembered = note.open_checkpoint(memory.read_text(encoding="utf-8"), known)
            published.append(
                Published(remembered.size, remembered.root, f"the signer's memory ({memory})")
            )
        except (OSError, UnicodeDecodeError, note.NoteError) as exc:
            unreadable.append(f"- the signer's memory ({memory}) cannot be read: {exc}")
    for state in audit_states:
        published.append(_audit_state(state, known, manifest.origin))

    # 2. Does the backup's tree extend each one?
    path = source / manifest.database
    nodes = _read_sqlite(path)[2] if backend == "sqlite" else _dump_nodes(path)
    try:
        forks = _forks(published, manifest.tree_size, manifest.root, nodes)
    finally:
        nodes.close()
    if (forks or unreadable) and not accept_fork:
        raise Conflict(refusal(manifest, forks, unreadable))

    # 3. The database, then the signer's memory.
    if backend == "sqlite":
        _restore_sqlite(path, _sqlite_path(database_url))
    else:
        _run(
            "pg_restore",
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                str(path),
            ],
            make_url(db.normalise_url(database_url)),
            failure="the database could not be restored (nothing of it was changed)",
            options=f"-c lock_timeout={_LOCK_TIMEOUT}",
        )
    done = Restored(manifest=manifest, forks=forks, unreadable=unreadable)
    done.sessions_ended = _end_sessions(database_url)
    for name in (KEYRING_FILE, checkpoints.ORIGIN_FILE):
        if (backup_keys / name).exists() and not (keys_dir / name).exists():
            keys.write_atomically(keys_dir / name, (backup_keys / name).read_bytes())
            done.written.append(keys_dir / name)
    checkpoint = manifest.checkpoint
    if done.forked:
        if memory.exists():
            done.set_aside = memory.with_name(f"{memory.name}.replaced-{_stamp()}")
            os.replace(memory, done.set_aside)
            _sync(memory.parent)
        if checkpoint is not None:
            keys.write_atomically(memory, checkpoint.text.encode("utf-8"))
    elif checkpoint is not None and _remembered_size(memory, known) < checkpoint.size:
        # The signer then refuses any later tree that does not extend the backup's.
        keys.write_atomically(memory, checkpoint.text.encode("utf-8"))
    return done


def refusal(manifest: Manifest, forks: Iterable[Fork], unreadable: Iterable[str] = ()) -> str:
    """Why a restore would fork the log, for an operator: what was published and where,
    what the backup holds, and how to go on anyway."""
    return "\n".join(
        [
            "Restoring this backup would take the log back behind a checkpoint already "
            "published: whoever holds that checkpoint would see the log fork, and every "
            "checkpoint signed afterwards would contradict it.",
            *_facts(manifest, forks, unreadable),
            "Prefer a newer backup. If this one is all there is, run the restore again with "
            "--accept-fork: the log then forks, the signer's memory is set aside, and every "
            "auditor and witness that holds the newer checkpoint will report the fork.",
        ]
    )


def warning(done: Restored) -> str:
    """What an operator must hear after a restore that forked the log (--accept-fork)."""
    lines = [
        "WARNING: THE LOG HAS FORKED. A checkpoint already published is not extended by "
        "the log restored:",
        *_facts(done.manifest, done.forks, done.unreadable),
        "The log now goes on from the backup. Tell every auditor and witness that follows "
        "it: the checkpoints they hold no longer hold, and they must start again.",
    ]
    if done.set_aside is not None:
        lines.append(f"The signer's memory as it was is kept in {done.set_aside}.")
    return "\n".join(lines)


def _facts(manifest: Manifest, forks: Iterable[Fork], unreadable: Iterable[str]) -> list[str]:
    signed = (
        f", last signed at {manifest.checkpoint.size} entries"
        if manifest.checkpoint
        else ", with no signed checkpoint"
    )
    return [
        *map(str, forks),
        *unreadable,
        f"The backup (made {manifest.created_at}) holds a log of {manifest.tree_size} "
        f"entries, root {_b64(manifest.root)}{signed}.",
    ]


def _forks(
    published: Iterable[Published], size: int, root: bytes, read_nodes: Callable
) -> list[Fork]:
    """The published checkpoints that the tree of `size` entries, root `root`, does not
    extend (RFC 9162 §2.1.4 consistency, from the snapshot's own nodes)."""
    published = list(published)
    wanted = set(merkle.edge_nodes(size))
    for p in published:
        if 0 < p.size < size:
            wanted |= merkle.needed(merkle.consistency_ranges(p.size, size))
    found = read_nodes(wanted)
    if wanted - set(found):
        raise InvalidInput(
            f"the backup's tree lacks node {min(wanted - set(found))}: it is damaged"
        )
    if (
        merkle.fold([found[n] for n in merkle.edge_nodes(size)]) if size else merkle.EMPTY_ROOT
    ) != root:
        raise InvalidInput(
            "the backup's tree does not have the root its manifest names: it is damaged"
        )
    forks = []
    for p in published:
        if p.size > size:
            forks.append(Fork(p, f"the backup's log has {size} entries, {p.size - size} fewer."))
            continue
        if p.size == 0:
            continue
        ranges = merkle.consistency_ranges(p.size, size)
        try:
            merkle.verify_consistency(p.size, size, p.root, root, merkle.assemble(ranges, found))
        except merkle.ProofError:
            forks.append(
                Fork(
                    p,
                    f"the backup's log of {size} entries holds other entries "
                    f"in its first {p.size}.",
                )
            )
    return forks


def _audit_state(path: Path, known: dict[str, bytes], origin: str | None) -> Published:
    """The checkpoint an auditor's state file (`registry log verify --url … --state`) holds."""
    try:
        content = path.read_text(encoding="utf-8")
        checkpoint = note.open_checkpoint(
            content.split(_AUDIT_RANGE, 1)[0].rstrip("\n") + "\n", known
        )
    except (OSError, UnicodeDecodeError, note.NoteError) as exc:
        raise InvalidInput(f"the audit state {path} cannot be read: {exc}") from None
    if origin is not None and checkpoint.origin != origin:
        raise InvalidInput(
            f"the audit state {path} is of the log {checkpoint.origin!r}, not {origin!r}"
        )
    return Published(checkpoint.size, checkpoint.root, f"the audit state {path}")


def _check_keys(backup_keys: Path, keys_dir: Path, manifest: Manifest) -> None:
    """The keys directory must be this log's: its origin, and every key of the backup."""
    live_origin = keys_dir / checkpoints.ORIGIN_FILE
    if manifest.origin is not None and live_origin.exists():
        live = live_origin.read_text(encoding="utf-8").strip()
        if live != manifest.origin:
            raise Conflict(
                f"the backup is of the log {manifest.origin!r}; the keys directory {keys_dir} "
                f"is of the log {live!r}. Restore into the keys directory of the backup's log."
            )
    if manifest.commitment_key is not None:
        try:
            live_key = _fingerprint(keys_dir)
        except keys.KeyRingError as exc:
            raise Conflict(f"the keys directory's commitment key cannot be read: {exc}") from None
        if live_key != manifest.commitment_key:
            raise Conflict(
                f"the keys directory {keys_dir} does not hold the commitment key the backup's "
                "rows were proved with (its log entries' MACs and certificates' seals would all "
                "fail): restore the keys directory's secrets from their own backup first"
            )
    if not (keys_dir / KEYRING_FILE).exists():
        return
    held = {info.kid for info in keys.KeyRing(keys_dir).keys()}
    missing = [info.kid for info in keys.KeyRing(backup_keys).keys() if info.kid not in held]
    if missing:
        raise Conflict(
            f"the keys directory {keys_dir} lacks keys the backup's log was signed with "
            f"({', '.join(missing)}): restore the keys directory from its own backup first"
        )


def _fingerprint(keys_dir: Path) -> str | None:
    if not (keys_dir / COMMITMENT_KEY_FILE).exists():
        return None
    return CommitmentKey.in_directory(keys_dir, create=False).fingerprint()


def _end_sessions(database_url: str) -> int:
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection:
            ended = connection.execute(
                update(PortalSession)
                .where(PortalSession.ended_at.is_(None))
                .values(ended_at=datetime.now(UTC))
            )
            return ended.rowcount
    finally:
        engine.dispose()


def _live_keys(keys_dir: Path) -> dict[str, bytes]:
    if not (keys_dir / KEYRING_FILE).exists():
        return {}
    return checkpoints.public_keys(keys.KeyRing(keys_dir))


def _remembered_size(memory: Path, known: dict[str, bytes]) -> int:
    try:
        return note.open_checkpoint(memory.read_text(encoding="utf-8"), known).size
    except (OSError, UnicodeDecodeError, note.NoteError):
        return -1


def _restore_sqlite(snapshot: Path, target: Path) -> None:
    """Replace `target` with a copy of `snapshot`: written aside, synced, renamed over it."""
    if not target.parent.is_dir():
        raise Unavailable(f"the database's directory {target.parent} does not exist")
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".restore")
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(snapshot, "rb") as into:
            shutil.copyfileobj(into, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        # The old database's write-ahead log and shared memory go first: SQLite would
        # replay a -wal left beside the new file into it.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync(target.parent)


def _dump_nodes(dump: Path) -> _Nodes:
    """The tree's nodes as a PostgreSQL dump holds them, read by pg_restore into a text
    stream (no database is touched): one pass over the log_node table's rows."""

    def read(wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        found: dict[merkle.Node, bytes] = {}
        if not wanted:
            return found
        binary = _binary("pg_restore")
        process = subprocess.Popen(  # noqa: S603 - a fixed program, arguments not from a shell
            [binary, "--data-only", "--table=log_node", "--file=-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None  # noqa: S101 - asked for above
        in_rows = False
        for line in process.stdout:
            if not in_rows:
                in_rows = line.startswith("COPY ") and "log_node" in line
                continue
            if line.startswith("\\."):
                in_rows = False
                continue
            level, index, value = line.rstrip("\n").split("\t")
            node = (int(level), int(index))
            if node in wanted:
                # bytea in COPY's text form: \\x then hex digits.
                found[node] = bytes.fromhex(value.removeprefix("\\\\x"))
        _, errors = process.communicate()
        if process.returncode:
            raise Unavailable(f"pg_restore could not read {dump}: {errors.strip()}")
        return found

    return _Nodes(read)


# Helpers -----------------------------------------------------------------------------


def _root(size: int, read_nodes: Callable) -> bytes:
    edge = merkle.edge_nodes(size)
    found = read_nodes(set(edge))
    if len(found) != len(edge):
        raise InvalidInput("the snapshot's tree is missing nodes: run `registry log verify`")
    return merkle.fold([found[n] for n in edge]) if edge else merkle.EMPTY_ROOT


def _opened(text_: str | None, ring: keys.KeyRing) -> note.Checkpoint | None:
    if text_ is None:
        return None
    try:
        return note.open_checkpoint(text_, checkpoints.public_keys(ring))
    except note.NoteError as exc:
        raise Unavailable(
            f"the newest checkpoint in the database does not hold ({exc}): "
            "run `registry log verify`"
        ) from None


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory database has nothing to back up or restore")
    return Path(database)


def _binary(name: str) -> str:
    """A PostgreSQL client program: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise Unavailable(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return candidates[-1]


def _run(program: str, arguments: list[str], url, *, failure: str, options: str = "") -> None:
    """Run a PostgreSQL client on the database at `url` (its password in the
    environment, never on the command line)."""
    url = make_url(db.normalise_url(url.render_as_string(hide_password=False)))
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    if options:
        environment["PGOPTIONS"] = options
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(  # noqa: S603 - a fixed program, arguments not from a shell
        [_binary(program), f"--dbname={conninfo}", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise Unavailable(f"{failure}: {program} said: {done.stderr.strip()}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sync(path: Path) -> None:
    """A file's bytes, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
