"""The witnesses' cosignatures (C2SP tlog-witness), collected by the checkpoint signer.

After the signer signs a checkpoint it asks each configured witness (REGISTRY_WITNESSES)
to cosign it, with the consistency proof from the size that witness last cosigned. Each
witness has a thread of its own, which always asks about the newest checkpoint (skipping
any it missed) and retries with backoff: a slow or dead witness never holds up a write,
a checkpoint or another witness. A cosignature is checked against the witness's vkey
before it is stored with its checkpoint (`cosigned`, served after the note's own lines)
and counted (`cosignatures`): a scan's proof is against the newest checkpoint with a
quorum of them (REGISTRY_WITNESS_QUORUM, by default every witness).

A witness that refuses a checkpoint the registry's key signed (one that does not extend
what it cosigned before, or a size it never saw) raises an alarm: logged at error, kept
in `witness_state` for the inspectors' log page, counted in the signer's status. Nothing
is ever rewritten in answer: a refusal is evidence, most likely of a database restored
and written to again.
"""

import base64
import http.client
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keys import note
from registry.log import tree
from registry.models import Checkpoint, Cosignature, WitnessState

log = logging.getLogger(__name__)

#: Seconds a witness has to answer.
TIMEOUT_S = 5.0
#: The first and the longest wait before asking a witness again after a failure.
BACKOFF_S = (1.0, 60.0)
#: Seconds between looks at the newest checkpoint when nothing wakes a witness's thread.
IDLE_S = 5.0


@dataclass(frozen=True)
class Witness:
    """A configured witness: its vkey (its name is the vkey's), where it is asked, and
    what the pages call it in each language."""

    vkey: note.VerifierKey
    url: str
    ru: str
    en: str

    @property
    def name(self) -> str:
        return self.vkey.name


def configured(value: object) -> tuple[Witness, ...]:
    """REGISTRY_WITNESSES: a JSON list of {"vkey", "url", "name"} (the name a string, or
    {"ru", "en"}; the vkey's name when left out). Raises ValueError saying what is wrong."""
    if value in (None, "", [], ()):
        return ()
    if not isinstance(value, list | tuple):
        raise ValueError('REGISTRY_WITNESSES is a JSON list of {"vkey": …, "url": …, "name": …}')
    found = []
    for number, entry in enumerate(value, 1):
        where = f"REGISTRY_WITNESSES, witness {number}"
        if not isinstance(entry, dict):
            raise ValueError(f'{where}: each is {{"vkey": …, "url": …, "name": …}}')
        try:
            vkey = note.parse_verifier_key(str(entry.get("vkey", "")))
        except note.NoteError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if vkey.kind != note.TIMESTAMPED_ED25519:
            raise ValueError(f"{where}: a witness's vkey is an Ed25519 cosigner's (type 0x04)")
        url = str(entry.get("url", "")).rstrip("/")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{where}: its url is an http:// or https:// address")
        name = entry.get("name") or vkey.name
        ru, en = (name.get("ru"), name.get("en")) if isinstance(name, dict) else (name, name)
        if not (isinstance(ru, str) and ru.strip() and isinstance(en, str) and en.strip()):
            raise ValueError(f'{where}: its name is a text, or {{"ru": …, "en": …}}')
        found.append(Witness(vkey, url, ru.strip(), en.strip()))
    if len({w.name for w in found}) != len(found):
        raise ValueError("REGISTRY_WITNESSES names a witness twice")
    return tuple(found)


def quorum(value: object, witnesses: tuple[Witness, ...]) -> int:
    """REGISTRY_WITNESS_QUORUM: how many cosignatures make a checkpoint witnessed; by
    default every configured witness's. Raises ValueError."""
    if value in (None, ""):
        return len(witnesses)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= len(witnesses):
        raise ValueError(
            f"REGISTRY_WITNESS_QUORUM is a whole number from 0 to {len(witnesses)}, "
            "the witnesses configured"
        )
    return value


class Outcome(Enum):
    COSIGNED = "cosigned"
    #: The witness had cosigned further than this registry remembered: asked again.
    SKIPPED = "skipped ahead"
    UP_TO_DATE = "up to date"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


def ask(session: Session, witness: Witness, *, timeout: float = TIMEOUT_S) -> Outcome:
    """Ask `witness` to cosign the next checkpoint it has not (`_next`), store what it
    answers, commit. COSIGNED and SKIPPED mean there may be another to ask about at once.

    No transaction is open while the witness is asked: on SQLite the signer's sessions
    write, and a transaction would hold the database's one write lock for as long as a
    slow witness takes to answer."""
    if session.get(WitnessState, witness.name) is None:
        session.add(WitnessState(witness=witness.name, cosigned_size=0, refusals=0))
        session.commit()
    newest = session.scalar(select(Checkpoint).order_by(*_NEWEST_FIRST).limit(1))
    if newest is None:
        session.rollback()
        return Outcome.UP_TO_DATE
    state = session.get_one(WitnessState, witness.name)
    found = _next(session, witness, state, newest)
    if found is None:
        session.rollback()
        return Outcome.UP_TO_DATE
    target = _Asked(found.id, found.tree_size, found.note)
    newest_size, old = newest.tree_size, state.cosigned_size
    for _ in range(2):  # a 409 names the size the witness holds: asked once more from it
        if old > newest_size:
            return _refused(
                session,
                witness,
                f"the witness has cosigned {old} entries, more than this log's newest "
                f"checkpoint holds ({newest_size}): the database is older than what "
                "the witness saw",
            )
        if old > target.size:
            # It cosigned beyond what this registry remembers (its state was lost, or
            # another signer asked it): go on from there, the witness checks the proof.
            session.get_one(WitnessState, witness.name).cosigned_size = old
            session.commit()
            return Outcome.SKIPPED
        proof = tree.consistency_proof(session, old, target.size) if old else []
        session.rollback()  # nothing held while the witness answers
        body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        body += "\n" + target.note
        try:
            status, text = _post(f"{witness.url}/add-checkpoint", body.encode(), timeout)
        except (OSError, http.client.HTTPException) as exc:
            return _unreachable(session, witness, f"{type(exc).__name__}: {exc}")
        if status == 200:
            return _cosigned(session, witness, target, text)
        if status == 409 and text.strip().isdigit() and int(text.strip()) != old:
            old = int(text.strip())
            continue
        if status in (400, 403, 404, 409, 422):
            return _refused(session, witness, f"{status}: {text.strip()[:500]}")
        return _unreachable(session, witness, f"HTTP {status}: {text.strip()[:200]}")
    return _refused(session, witness, "the witness's size moved while it was asked")


@dataclass(frozen=True)
class _Asked:
    """The checkpoint a witness is asked about, as read before the request."""

    id: int
    size: int
    note: str


#: How many checkpoints a witness that fell behind is asked about one by one, so that
#: every checkpoint ends up cosigned; further behind (days down), only the newest.
CATCH_UP = 1000
_NEWEST_FIRST = (Checkpoint.tree_size.desc(), Checkpoint.id.desc())


def _next(
    session: Session, witness: Witness, state: WitnessState, newest: Checkpoint
) -> Checkpoint | None:
    """The checkpoint to ask `witness` about: the first one, in order, of at least the
    size it last cosigned that it has not cosigned (a new witness starts from the first);
    the newest when more than CATCH_UP wait (a witness added to a long history, or one
    down for days: what it missed cannot be cosigned after a later one)."""
    mine = select(Cosignature.id).where(
        Cosignature.checkpoint_id == Checkpoint.id, Cosignature.witness == witness.name
    )
    waiting = list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.tree_size >= state.cosigned_size, ~mine.exists())
            .order_by(Checkpoint.tree_size, Checkpoint.id)
            .limit(CATCH_UP + 1)
        )
    )
    if not waiting:
        return None
    return newest if len(waiting) > CATCH_UP else waiting[0]


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.netloc, timeout=timeout)
    try:
        connection.request(
            "POST", parts.path or "/", body=body, headers={"Content-Type": "text/plain"}
        )
        answer = connection.getresponse()
        return answer.status, answer.read(64 * 1024).decode("utf-8", "replace")
    finally:
        connection.close()


def _cosigned(session: Session, witness: Witness, target: _Asked, text: str) -> Outcome:
    line, signed_at = None, None
    for candidate in (answered + "\n" for answered in text.split("\n") if answered):
        try:  # each line read once: one by the witness's key must hold, no line be malformed
            stamps = note.cosignatures(target.note + candidate, [witness.vkey])
        except note.NoteError as exc:
            return _refused(session, witness, f"its answer is not a cosignature that holds: {exc}")
        if line is None and witness.name in stamps:
            line, signed_at = candidate, datetime.fromtimestamp(stamps[witness.name], UTC)
    if line is None or signed_at is None:
        return _refused(session, witness, "its answer holds no cosignature by its key")
    session.add(
        Cosignature(checkpoint_id=target.id, witness=witness.name, signed_at=signed_at, line=line)
    )
    session.execute(
        update(Checkpoint)
        .where(Checkpoint.id == target.id)
        .values(
            cosignatures=Checkpoint.cosignatures + 1,
            cosigned=func.coalesce(Checkpoint.cosigned, "") + line,
        )
    )
    state = session.get_one(WitnessState, witness.name)
    state.cosigned_size = max(state.cosigned_size, target.size)
    state.cosigned_at = signed_at
    session.commit()
    return Outcome.COSIGNED


def _refused(session: Session, witness: Witness, why: str) -> Outcome:
    log.error("ALARM: witness %s refused the log's checkpoint: %s", witness.name, why)
    state = session.get_one(WitnessState, witness.name)
    state.refusals += 1
    state.last_refusal = why
    state.last_refusal_at = datetime.now(UTC)
    session.commit()
    return Outcome.REFUSED


def _unreachable(session: Session, witness: Witness, why: str) -> Outcome:
    log.warning("witness %s could not be asked: %s", witness.name, why)
    state = session.get_one(WitnessState, witness.name)
    state.last_error = why
    state.last_error_at = datetime.now(UTC)
    session.commit()
    return Outcome.UNREACHABLE


class Collector:
    """A thread per witness, asking it about the newest checkpoint whenever `poke`d (the
    signer pokes after each checkpoint), every IDLE_S otherwise, and after a failure
    once its backoff has passed."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        witnesses: tuple[Witness, ...],
        *,
        stop: threading.Event,
        on_refusal: Callable[[], None] = lambda: None,
        timeout: float = TIMEOUT_S,
    ):
        self._sessions = sessions
        self._stop = stop
        self._on_refusal = on_refusal
        self._timeout = timeout
        self._wakes = {w.name: threading.Event() for w in witnesses}
        self._threads = [
            threading.Thread(target=self._run, args=(w,), name=f"witness {w.name}", daemon=True)
            for w in witnesses
        ]

    def start(self) -> "Collector":
        for thread in self._threads:
            thread.start()
        return self

    def poke(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    def join(self, timeout: float | None = None) -> None:
        self.poke()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, witness: Witness) -> None:
        wake = self._wakes[witness.name]
        backoff = 0.0
        while not self._stop.is_set():
            if backoff:  # after a failure, checkpoints signed meanwhile do not hurry it
                if self._stop.wait(backoff):
                    return
            else:
                wake.wait(IDLE_S)
                if self._stop.is_set():
                    return
            wake.clear()
            session = self._sessions()
            try:
                outcome = ask(session, witness, timeout=self._timeout)
            except Exception:  # a witness's thread outlives anything one request does
                log.exception("asking witness %s failed", witness.name)
                session.rollback()
                outcome = Outcome.UNREACHABLE
            finally:
                session.close()
            if outcome is Outcome.REFUSED:
                self._on_refusal()
            if outcome in (Outcome.REFUSED, Outcome.UNREACHABLE):
                backoff = min(max(backoff * 2, BACKOFF_S[0]), BACKOFF_S[1])
            else:
                backoff = 0.0
                if outcome in (Outcome.COSIGNED, Outcome.SKIPPED):
                    wake.set()  # the next checkpoint, if any, is asked about at once
