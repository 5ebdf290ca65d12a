"""add-checkpoint (c2sp.org/tlog-witness): every check the spec asks for, in its order,
and the cosignature (c2sp.org/tlog-cosignature, Ed25519, timestamped) when all hold.

The request body is an old size line, up to 63 consistency proof lines, a blank line,
then the log's signed checkpoint. The answer's status says which check refused it:
400 a malformed request, 403 no valid signature by the log's key, 404 a log this
witness was not given, 409 an old size other than the one last cosigned (the body is
that size), 422 a checkpoint that does not extend the one last cosigned.
"""

import base64
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keys import note
from keys.witness import WitnessKey
from registry.log import merkle
from registry.witness.state import Latest, Store

log = logging.getLogger(__name__)

#: The spec's bound on the consistency proof.
MAX_PROOF_LINES = 63
#: How far ahead of the witness's clock a checkpoint's own time may be (clocks drift).
FUTURE_SKEW_S = 60
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_EMPTY_ROOT = hashlib.sha256(b"").digest()


class Refused(Exception):
    """The witness does not cosign: an HTTP status, and why in words."""

    def __init__(self, status: int, message: str, *, body: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        #: The body the spec prescribes (409: the size last cosigned), else the message.
        self.body = body if body is not None else message + "\n"
        self.content_type = "text/x.tlog.size" if status == 409 else "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    old_size: int
    proof: list[bytes]
    checkpoint: str


def parse(body: bytes) -> Request:
    """The request's parts, or Refused(400) saying what is malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the request is not UTF-8 text") from None
    head, blank, checkpoint = text.partition("\n\n")
    if not blank:
        raise Refused(400, "the request has no blank line before its checkpoint")
    lines = head.split("\n")
    old, *proof_lines = lines
    if not old.startswith("old ") or not _SIZE.fullmatch(old[4:]):
        raise Refused(400, "the first line is 'old <size>', the size in decimal")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise Refused(400, f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    proof = []
    for line in proof_lines:
        try:
            value = base64.b64decode(line, validate=True)
        except ValueError:
            raise Refused(400, "a consistency proof line is not base64") from None
        if len(value) != merkle.HASH_SIZE:
            raise Refused(400, f"a consistency proof line is not {merkle.HASH_SIZE} bytes")
        proof.append(value)
    return Request(int(old[4:]), proof, checkpoint)


def add_checkpoint(
    body: bytes,
    *,
    key: WitnessKey,
    logs: Mapping[str, Sequence[note.VerifierKey]],
    store: Store,
    now: int,
) -> str:
    """The witness's cosignature line of the request's checkpoint, once it is stored as
    the newest of its log; else raises Refused. `logs` are the verifier keys of each
    log by origin (a log that rotated its key has several)."""
    request = parse(body)
    origin = request.checkpoint.split("\n", 1)[0]
    log_keys = logs.get(origin)
    if not log_keys:
        raise Refused(404, f"this witness does not witness a log named {origin[:100]!r}")
    try:
        checkpoint = note.open_checkpoint(
            request.checkpoint, {key.key_id.hex(): key.public for key in log_keys}
        )
    except note.SignatureFailed as exc:
        raise Refused(403, f"the checkpoint is not signed by the log's key: {exc}") from None
    except note.NoteError as exc:
        raise Refused(400, f"the checkpoint cannot be read: {exc}") from None
    if request.old_size > checkpoint.size:
        raise Refused(400, f"the old size {request.old_size} is above the checkpoint's")
    if checkpoint.timestamp is not None and checkpoint.timestamp > now + FUTURE_SKEW_S:
        _alarm(origin, checkpoint.size, f"dated {checkpoint.timestamp - now} s in the future")
        raise Refused(422, "the checkpoint is dated in the future")
    if checkpoint.size == 0 and checkpoint.root != _EMPTY_ROOT:
        raise Refused(422, "a checkpoint of size 0 has the root of the empty tree")
    with store.locked(origin) as held:
        latest = held.latest
        size = latest.size if latest else 0
        if request.old_size != size:
            raise Refused(409, f"the last checkpoint cosigned has size {size}", body=f"{size}\n")
        _check_extends(origin, latest, checkpoint, request.proof)
        # The witness's own cosignature never goes back in time, whatever its clock did.
        stamp = max(now, latest.cosigned_at if latest else 0)
        line = key.cosign(_text(checkpoint.text), stamp)
        held.replace(
            Latest(
                size=checkpoint.size,
                root=checkpoint.root,
                note=_served(checkpoint.text, log_keys) + line,
                cosigned_at=stamp,
            )
        )
    return line


def _check_extends(
    origin: str, latest: Latest | None, checkpoint: note.Checkpoint, proof: list[bytes]
) -> None:
    if latest is None or latest.size == 0:
        if proof:
            raise Refused(422, "from old size 0 the consistency proof is empty")
        return
    try:
        merkle.verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, proof)
    except merkle.ProofError as exc:
        _alarm(origin, checkpoint.size, f"not consistent with size {latest.size}: {exc}")
        raise Refused(
            422, f"the checkpoint does not extend the one of size {latest.size}: {exc}"
        ) from None


def _alarm(origin: str, size: int, why: str) -> None:
    # A checkpoint signed by the log's own key that the witness cannot accept is evidence
    # that the log misbehaved (or was restored and signed again): kept in the witness's log.
    log.error("refused a checkpoint of %s at size %d signed by its key: %s", origin, size, why)


def _text(note_text: str) -> str:
    """The note's text: its lines before the blank line, each ending in a newline."""
    return note_text.rpartition("\n\n")[0] + "\n"


def _served(note_text: str, log_keys: Sequence[note.VerifierKey]) -> str:
    """The checkpoint with the signature lines of the log's keys that the witness
    verified (every other line dropped), ready for the witness's own line."""
    text, _, lines = note_text.rpartition("\n\n")
    ids = {
        (key.name, note.key_id(key.name, kind, key.public))
        for key in log_keys
        for kind in (note.ED25519, note.TIMESTAMPED_ED25519)
    }
    kept = []
    for line in lines.split("\n")[:-1]:
        name, _, encoded = line[2:].partition(" ")
        if (name, base64.b64decode(encoded)[:4]) in ids:
            kept.append(line + "\n")
    return text + "\n\n" + "".join(kept)
