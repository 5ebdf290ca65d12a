"""Signed checkpoints of the log: made, stored (every one), found, and checked.

A checkpoint is made on demand (`registry log checkpoint`, POST /api/v1/log/checkpoint),
by a write whose transaction leaves LOG_CHECKPOINT_ENTRIES or more entries outside the
latest checkpoint (made just before it commits, so it covers that write), and by
`registry log checkpoint --every SECONDS` as a timer. Each is signed with the registry's
active key in the C2SP formats of keys/note.py.

A log must never sign a tree that does not extend one it signed before. The database
cannot be the judge of that, since whoever can rewrite the log can rewrite its stored
checkpoints too; so the signer keeps the last checkpoint it signed in a file beside the
keys (LOG_SIGNED_STATE), and checks a consistency proof from it before every signature.

The log's origin, the name its checkpoints are signed under, is fixed once, by the first
`registry init` (`keep_origin`), and kept beside the keys too (ORIGIN_FILE): a log that
changed its name would be another log to whoever follows it.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

import keys
from keys import note
from registry.errors import Unavailable
from registry.log import merkle, proofs, tree
from registry.models import Checkpoint, Cosignature, Event, utcnow

log = logging.getLogger(__name__)

_SIGNED = "registry.log.checkpoints.signed"
_SIGNER = "registry.log.checkpoints.signer"
_PROVEN_BATCH = 2_000  # entries read per statement when their MACs are checked

#: How far this machine's clock may be behind the newest checkpoint signed before
#: nothing more is signed: a little, for clocks that step, never a day.
CLOCK_TOLERANCE = timedelta(seconds=5)


@dataclass
class Signer:
    """Who signs this log's checkpoints, under which name, how often, and where the last
    checkpoint it signed is remembered."""

    ring: keys.KeyRing
    origin: str
    every: int
    state: Path
    # The file as last read, and what it held: it is read again only when it changed.
    _seen: tuple | None = None
    _held: note.Checkpoint | None = None

    def last_signed(self) -> note.Checkpoint | None:
        """The last checkpoint this signer remembers signing; None before the first.

        Raises Unavailable when the file is there but does not hold: it must not be
        possible to make the signer forget by damaging it.
        """
        try:
            stat = self.state.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unavailable(f"The last signed checkpoint cannot be read: {exc}") from exc
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen == self._seen:
            return self._held
        try:
            text = self.state.read_text(encoding="utf-8")
            held = note.open_checkpoint(text, public_keys(self.ring))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise Unavailable(f"The last signed checkpoint cannot be read: {exc}") from exc
        except note.NoteError as exc:
            raise Unavailable(
                f"The last signed checkpoint ({self.state}) does not hold: {exc}"
            ) from exc
        self._seen, self._held = seen, held
        return held

    def sign(self, session: Session, size: int, root: bytes) -> Checkpoint:
        """Sign and store a checkpoint of the tree of `size` entries with root `root`.

        Raises Unavailable when there is no active key, or when the tree does not extend
        the last one signed (the database's log was rewritten or restored from an older
        copy): then nothing is signed, and `registry log verify` says what differs.
        """
        last = self.last_signed()
        if last is not None:
            self._check_extends(session, last, size, root)
        self._check_proven(session, last.size if last is not None else 0, size)
        made_at = self.now().replace(microsecond=0)
        timestamp = int(made_at.timestamp())
        try:
            text, key = note.sign_checkpoint(self.ring, self.origin, size, root, timestamp)
        except keys.KeyRingError as exc:
            raise Unavailable(f"The registry cannot sign a checkpoint right now: {exc}") from exc
        checkpoint = Checkpoint(
            tree_size=size, root_hash=root, made_at=made_at, kid=key.kid, note=text
        )
        session.add(checkpoint)
        # Remembered once the transaction commits.
        session.info[_SIGNED] = note.Checkpoint(self.origin, size, root, timestamp, text, key.kid)
        return checkpoint

    def refusal(self, session: Session) -> str | None:
        """Why the log as it stands would not be signed now (a rewrite, an entry written
        by hand, the clock), or None: for the inspectors' log page, which must say it
        loudly. Signs nothing."""
        size = tree.size(session)
        try:
            last = self.last_signed()
            if last is not None:
                self._check_extends(session, last, size, tree.root(session, size))
            self._check_proven(session, last.size if last is not None else 0, size, quiet=True)
            self.now()
        except Unavailable as exc:
            return exc.detail
        return None

    def _check_extends(self, session: Session, last: note.Checkpoint, size: int, root: bytes):
        refusal = (
            f"The log in the database does not extend the last checkpoint signed "
            f"({last.size} entries, {self.state}): it was rewritten or restored from an older "
            "copy. Nothing more is signed; run `registry log verify`."
        )
        if last.origin != self.origin or size < last.size:
            raise Unavailable(refusal)
        try:
            proof = tree.consistency_proof(session, last.size, size) if last.size else []
            if last.size:
                merkle.verify_consistency(last.size, size, last.root, root, proof)
        except (merkle.ProofError, Unavailable):
            raise Unavailable(refusal) from None

    def _check_proven(
        self, session: Session, start: int, size: int, *, quiet: bool = False
    ) -> None:
        """Every entry the checkpoint would sign for the first time is one the registry
        wrote: there, in its place, with a valid MAC, and hashed into the stored tree as
        it reads. Else nothing is signed, and it is said loudly: someone wrote the log by
        hand, and every later checkpoint would vouch for what they wrote."""
        keys_ = proofs.of(session)
        for first in range(start, size, _PROVEN_BATCH):
            last = min(first + _PROVEN_BATCH, size)
            rows: Sequence[Any] = session.execute(
                select(Event.log_index, Event.entry, Event.mac)
                .where(Event.log_index >= first, Event.log_index < last)
                .order_by(Event.log_index)
            ).all()
            leaves = tree.leaves(session, first, last)
            expected = first
            for index, stored, mac in rows:
                # Bytes, even where a hand-made edit stored the entry as text.
                entry: bytes = stored.encode() if isinstance(stored, str) else bytes(stored)
                problem = None
                if index != expected:
                    problem, index = "is missing", expected
                elif not keys_.entry_holds(index, entry, mac):
                    problem = "has no valid MAC of the registry's: it was written by hand"
                elif leaves[(0, index)] != merkle.leaf_hash(entry):
                    problem = "is not the leaf the stored tree holds"
                if problem:
                    self._refuse_unproven(index, problem, quiet)
                expected += 1
            if expected != last:
                self._refuse_unproven(expected, "is missing", quiet)

    def _refuse_unproven(self, index: int, problem: str, quiet: bool):
        detail = (
            f"Entry {index} of the log {problem}. Nothing more is signed until the log is "
            "repaired; run `registry log verify`."
        )
        if not quiet:
            log.critical("refusing to sign a checkpoint: %s", detail)
        raise Unavailable(detail)

    def now(self) -> datetime:
        """The time to sign at: this machine's, never earlier than the newest checkpoint
        this signer signed (a clock may step back a little, and then waits for it).

        Raises Unavailable when the clock is behind that checkpoint by more than
        CLOCK_TOLERANCE: a clock set back would let a certificate signed after a key's
        compromise carry a time before it.
        """
        moment = utcnow()
        last = self.last_signed()
        if last is None:
            return moment
        floor = datetime.fromtimestamp(last.timestamp or 0, UTC)
        if moment < floor - CLOCK_TOLERANCE:
            detail = (
                f"This machine's clock ({moment:%Y-%m-%d %H:%M:%S} UTC) is behind the newest "
                f"checkpoint signed ({floor:%Y-%m-%d %H:%M:%S} UTC): nothing is signed until "
                "it is set right."
            )
            log.critical("%s", detail)
            raise Unavailable(detail)
        return max(moment, floor)

    def remember(self, signed: note.Checkpoint) -> None:
        """Keep `signed` as the last checkpoint signed, unless a larger one is kept already
        (two workers may finish in either order). Written as the keys beside it are:
        replaced whole, and synced, so that a power cut cannot take back what was served."""
        current = self.last_signed()
        if current is not None and current.size > signed.size:
            return
        keys.write_atomically(self.state, signed.text.encode("utf-8"))
        stat = self.state.stat()
        self._seen, self._held = (stat.st_ino, stat.st_size, stat.st_mtime_ns), signed


def watch(maker: sessionmaker, signer: Signer) -> None:
    """Have every session `maker` makes sign a checkpoint when one is due (before a commit
    that leaves `signer.every` or more entries outside the latest), and remember it once
    the commit has stood; a rollback forgets it. Its writes take their times from the
    signer's clock (`now`)."""
    maker.configure(info={**maker.kw.get("info", {}), _SIGNER: signer})

    @sa_event.listens_for(maker, "before_commit")
    def _before_commit(session: Session) -> None:
        if not session.in_nested_transaction():  # a savepoint released is not a commit
            _checkpoint_due(session, signer)

    @sa_event.listens_for(maker, "after_commit")
    def _after_commit(session: Session) -> None:
        signed = session.info.pop(_SIGNED, None)
        if signed is not None and not session.in_nested_transaction():
            try:
                signer.remember(signed)
            except (OSError, Unavailable) as exc:
                log.error("the last signed checkpoint could not be kept: %s", exc)

    @sa_event.listens_for(maker, "after_soft_rollback")
    def _after_rollback(session: Session, previous) -> None:
        if previous.parent is None:
            session.info.pop(_SIGNED, None)


def now(session: Session) -> datetime:
    """The time a write of `session` happens at: its signer's (Signer.now), so that no
    time the registry writes is earlier than a checkpoint it signed. Raises Unavailable
    when the clock is behind it (nothing may then be signed). A session without a signer
    (a tool working on a database alone) takes the clock's time."""
    signer = session.info.get(_SIGNER)
    return signer.now() if signer is not None else utcnow()


def make(session: Session, signer: Signer) -> Checkpoint:
    """Sign and store a checkpoint of the whole log as it stands; the caller commits.

    Locks the head, so that no append slips between reading the size and signing.
    Raises Unavailable when it cannot be signed (see Signer.sign).
    """
    size = tree.size(session, lock=True)
    return signer.sign(session, size, tree.root(session, size))


#: The file, in the keys directory, that holds the log's origin from its first init on.
ORIGIN_FILE = "log-origin.txt"


def kept_origin(path: Path, signer: Signer) -> str | None:
    """The origin this log was given: the one kept in `path` by `keep_origin`, else the
    origin of the last checkpoint `signer` remembers signing (a log signed before its
    origin was kept); None for a log never initialised nor signed.

    Raises OSError when `path` cannot be read, ValueError when it holds no origin.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        try:
            last = signer.last_signed()
        except Unavailable:
            return None  # nothing is signed until it holds again (Signer.sign)
        return last.origin if last is not None else None
    origin = text.strip()
    note.body(origin, 0, bytes(32))  # ValueError unless it can name a log
    return origin


def keep_origin(session: Session, signer: Signer, path: Path, wanted: str) -> str:
    """Fix the log's origin, at `registry init`, and have `signer` sign under it.

    The origin kept already, if any (`kept_origin`), stays: it is never replaced. Else it
    is the origin of the newest checkpoint in the database signed by a key of the ring (a
    log signed before its origin was kept, whose signer's memory is gone), or else `wanted`,
    the one the settings give; it is then written to `path` as the keys are (whole, and
    synced), as is an origin read from the signer's memory. Raises ValueError when
    `wanted` cannot name a log, OSError.
    """
    origin = kept_origin(path, signer)
    if origin is None:
        origin = _signed_origin(session, signer.ring) or wanted
        note.body(origin, 0, bytes(32))
    if not path.exists():  # also an origin read from the signer's memory: kept from now on
        keys.write_atomically(path, f"{origin}\n".encode())
    signer.origin = origin
    return origin


def _signed_origin(session: Session, ring: keys.KeyRing) -> str | None:
    """The origin of the newest of the latest checkpoints stored that a key of `ring`
    signed: a row written by hand, signed by no key of ours, names nothing."""
    known = public_keys(ring)
    for text in session.scalars(select(Checkpoint.note).order_by(*_NEWEST_FIRST).limit(16)):
        try:
            return note.open_checkpoint(text, known).origin
        except note.NoteError:
            continue
    return None


# The newest checkpoint is the one of the largest tree, the last made of that size.
_NEWEST_FIRST = (Checkpoint.tree_size.desc(), Checkpoint.id.desc())


def latest(session: Session, *, at_most: int | None = None) -> Checkpoint | None:
    """The newest checkpoint, or the newest of a tree no larger than `at_most`."""
    query = select(Checkpoint).order_by(*_NEWEST_FIRST)
    if at_most is not None:
        query = query.where(Checkpoint.tree_size <= at_most)
    return session.scalar(query.limit(1))


def served(checkpoint: Checkpoint) -> str:
    """The checkpoint's note as served: its own signature lines, then the witnesses'
    cosignatures (registry/log/witnessing.py)."""
    return checkpoint.note + (checkpoint.cosigned or "")


def cosignatures(session: Session, checkpoint: Checkpoint) -> list[Cosignature]:
    """The witnesses' cosignatures of the checkpoint, by witness."""
    return list(
        session.scalars(
            select(Cosignature)
            .where(Cosignature.checkpoint_id == checkpoint.id)
            .order_by(Cosignature.witness)
        )
    )


def newest_query(*, witnessed: bool = False):
    """The newest checkpoint's size, root and note as served (with its cosignatures), for
    a statement to read with others; with `witnessed`, the newest with at least the bound
    parameter `quorum` of cosignatures (0: any)."""
    query = select(
        Checkpoint.tree_size,
        Checkpoint.root_hash,
        (Checkpoint.note + func.coalesce(Checkpoint.cosigned, "")).label("note"),
    )
    if witnessed:
        query = query.where(Checkpoint.cosignatures >= bindparam("quorum"))
    return query.order_by(*_NEWEST_FIRST).limit(1)


def size_signed_by(session: Session, ring: keys.KeyRing, moment: datetime) -> int:
    """The size of the newest tree a checkpoint of ours signed at or before `moment`: a
    position in the log that a clock set back cannot move, as the entries after it were
    all signed later. 0 when none was. Rows whose note does not verify, or whose signed
    time is later than their column says, are passed over."""
    known = public_keys(ring)
    candidates = session.scalars(
        select(Checkpoint.note)
        .where(Checkpoint.made_at <= moment)
        .order_by(*_NEWEST_FIRST)
        .limit(256)
    )
    limit = int(moment.timestamp())
    for text in candidates:
        try:
            signed = note.open_checkpoint(text, known)
        except note.NoteError:
            continue
        if signed.timestamp is not None and signed.timestamp <= limit:
            return signed.size
    return 0


def public_keys(ring: keys.KeyRing) -> dict[str, bytes]:
    """Every key that may have signed a checkpoint: kid -> raw Ed25519 public key."""
    return {info.kid: note.public_bytes(info.public_jwk) for info in ring.keys()}


def verifier_key(origin: str, info: keys.KeyInfo) -> str:
    return note.verifier_key(origin, note.public_bytes(info.public_jwk))


def _checkpoint_due(session: Session, signer: Signer) -> None:
    """Before a transaction that appended commits: a checkpoint when enough entries wait."""
    if not tree.appended(session) or not signer.every:
        return
    size = tree.size(session, lock=True)
    newest = session.scalar(newest_query().with_only_columns(Checkpoint.tree_size))
    if size - (newest or 0) < signer.every:
        return
    root = tree.appended_root(session, size) or tree.root(session, size)
    try:
        signer.sign(session, size, root)
    except Unavailable as exc:
        # The write itself stands (a key compromise, recorded while no key is active, must
        # be): the next write or `registry log checkpoint` covers it, once it can.
        log.error("no checkpoint of the log at size %d: %s", size, exc.detail)
