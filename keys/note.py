"""Signed checkpoints of the transparency log, as C2SP signed notes.

A checkpoint (c2sp.org/tlog-checkpoint) is a note of three lines, origin, tree size and
base64 root hash, signed by the registry's active key twice, so that tools that know
either form can check it:

    — <origin> base64(key ID || Ed25519 signature of the note text)          type 0x01
    — <origin> base64(key ID || u64 time || Ed25519 signature of             type 0x04
                      "cosignature/v1\\ntime <time>\\n" || note text)

The first is the plain signed-note signature (c2sp.org/signed-note) that checkpoint
readers expect; the second is a timestamped signature (c2sp.org/tlog-cosignature), the
standard way to sign the time a checkpoint was made, which a plain note cannot carry
without extension lines. A key ID is SHA-256(name || 0x0A || type || public key)[:4].
"""

import base64
import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys import base64url
from keys.errors import KeysError
from keys.ring import KeyInfo, KeyRing

ED25519 = 0x01
TIMESTAMPED_ED25519 = 0x04
_DASH = "\u2014 "
_MAX_SIGNATURES = 16
_SIGNATURE_LINE = re.compile(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)")


class NoteError(KeysError):
    """A checkpoint that cannot be read, or whose signature does not hold."""


class SignatureFailed(NoteError):
    """A note with no signature by a known key, or one by a known key that fails."""


@dataclass(frozen=True)
class VerifierKey:
    """A parsed vkey (c2sp.org/signed-note): a key's name, signature type and public key."""

    name: str
    kind: int
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.kind, self.public)

    def __str__(self) -> str:
        return verifier_key(self.name, self.public, self.kind)


def parse_verifier_key(text: str) -> VerifierKey:
    """A vkey `name+hexkeyid+base64(type||key)`, checked: an Ed25519 key (type 0x01, a
    note signer; or 0x04, a cosigner) whose key ID is the one its name and key give.
    Raises NoteError saying what is wrong."""
    parts = text.strip().split("+", 2)  # base64 may hold "+", a name or key ID not
    if len(parts) != 3:
        raise NoteError("a verifier key is name+keyid+key: three parts joined by '+'")
    name, hex_id, encoded = parts
    if not name or any(c.isspace() or not c.isprintable() for c in name):
        raise NoteError("a verifier key's name is non-empty, without spaces")
    try:
        raw = base64.b64decode(encoded, validate=True)
        expected = bytes.fromhex(hex_id)
    except ValueError:
        raise NoteError("a verifier key's key ID is hex and its key base64") from None
    if len(raw) != 33 or raw[0] not in (ED25519, TIMESTAMPED_ED25519):
        raise NoteError("a verifier key holds an Ed25519 key (type 0x01 or 0x04)")
    key = VerifierKey(name, raw[0], raw[1:])
    if key.key_id != expected:
        raise NoteError(f"the verifier key of {name} has a key ID that its key does not give")
    return key


def cosignature_line(name: str, public: bytes, timestamp: int, signature: bytes) -> str:
    """A cosignature's note line (c2sp.org/tlog-cosignature, Ed25519): the cosigner's
    name, then base64(key ID || u64 timestamp || signature)."""
    prefix = key_id(name, TIMESTAMPED_ED25519, public) + struct.pack(">Q", timestamp)
    return _line(name, prefix + signature)


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosignature signs of a note whose text (its lines before the blank
    line, each ending in a newline) is `text`."""
    return _cosigned(text, timestamp)


def cosignatures(note: str, cosigners: Sequence[VerifierKey]) -> dict[str, int]:
    """The cosigners (name -> timestamp) whose cosignature of the note's text holds;
    lines of other keys are ignored. Raises NoteError for a malformed note, and
    SignatureFailed for a line by one of `cosigners` that does not verify."""
    text, lines = _parts(note)
    known = {(c.name, key_id(c.name, TIMESTAMPED_ED25519, c.public)): c for c in cosigners}
    found: dict[str, int] = {}
    for line in lines:
        name, signature = _signature(line)
        cosigner = known.get((name, signature[:4]))
        if cosigner is None:
            continue
        if len(signature) != 4 + 8 + 64:
            raise SignatureFailed(f"the cosignature of {cosigner.name} is not 4 + 8 + 64 bytes")
        (stamp,) = struct.unpack(">Q", signature[4:12])
        try:
            Ed25519PublicKey.from_public_bytes(cosigner.public).verify(
                signature[12:], _cosigned(text, stamp)
            )
        except InvalidSignature:
            raise SignatureFailed(f"the cosignature of {cosigner.name} does not hold") from None
        found[cosigner.name] = stamp
    return found


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature has been checked (or that has just been made)."""

    origin: str
    size: int
    root: bytes
    #: POSIX seconds, from the timestamped signature; None when the note has none.
    timestamp: int | None
    text: str
    #: The key (of those given) whose signature verified.
    kid: str | None = None


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes, kind: int = ED25519) -> str:
    """The vkey string that note tools are configured with: name+hex key ID+base64 key."""
    encoded = base64.b64encode(bytes([kind]) + public_key).decode()
    return f"{name}+{key_id(name, kind, public_key).hex()}+{encoded}"


def body(origin: str, size: int, root: bytes) -> str:
    if not origin or any(c.isspace() or c == "+" or not c.isprintable() for c in origin):
        raise ValueError("an origin is non-empty, without spaces, '+' or control characters")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def _cosigned(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def sign_checkpoint(
    ring: KeyRing, origin: str, size: int, root: bytes, timestamp: int
) -> tuple[str, KeyInfo]:
    """The signed checkpoint note for a tree, by the ring's active key; (text, KeyInfo).

    Raises keys.NoActiveKey when the ring has no active key.
    """
    text = body(origin, size, root)
    key, (plain, stamped) = ring.sign_notes(text.encode(), _cosigned(text, timestamp))
    public = public_bytes(key.public_jwk)
    lines = [
        _line(origin, key_id(origin, ED25519, public) + plain),
        _line(
            origin,
            key_id(origin, TIMESTAMPED_ED25519, public) + struct.pack(">Q", timestamp) + stamped,
        ),
    ]
    return text + "\n" + "".join(lines), key


def _line(name: str, signature: bytes) -> str:
    return f"{_DASH}{name} {base64.b64encode(signature).decode()}\n"


def public_bytes(public_jwk: Mapping[str, str]) -> bytes:
    """The 32 raw bytes of an Ed25519 JWK's public key."""
    return base64url.decode(public_jwk["x"])


def _parts(note: object) -> tuple[str, list[str]]:
    """A signed note's text (its lines before the blank line, each ending in a newline)
    and its signature lines. Raises NoteError for what is not a signed note."""
    if not isinstance(note, str) or "\n\n" not in note or not note.endswith("\n"):
        raise NoteError("not a signed note: text, a blank line, then signature lines")
    text, _, signatures = note.rpartition("\n\n")
    return text + "\n", signatures.split("\n")[:-1]


def _signature(line: str) -> tuple[str, bytes]:
    """A signature line's key name and its signature (key ID first), decoded. Raises
    NoteError for a line that is not one."""
    match = _SIGNATURE_LINE.fullmatch(line)
    if match is None:
        raise NoteError("a signature line is malformed")
    try:
        return match.group(1), base64.b64decode(match.group(2), validate=True)
    except ValueError:
        raise NoteError("a signature is not base64") from None


def open_checkpoint(note: str, public_keys: Mapping[str, bytes]) -> Checkpoint:
    """Read a checkpoint and check it: raises NoteError unless a signature by one of
    `public_keys` (kid -> 32-byte Ed25519 key) holds, under the key name of its origin.

    Every signature line by a known key must verify, as c2sp.org/signed-note asks;
    lines of unknown keys are ignored.
    """
    text, found = _parts(note)
    if any(c < " " and c != "\n" for c in note) or "\x7f" in note:
        raise NoteError("a signed note holds no control characters but newlines")
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines: origin, size, root hash")
    origin, size_text, root_text = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise NoteError(f"the tree size {size_text[:30]!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise NoteError("the root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    if not found or len(found) > _MAX_SIGNATURES:
        raise NoteError(f"a note has 1 to {_MAX_SIGNATURES} signature lines")
    known = {}
    for kid, public in public_keys.items():
        known[(origin, key_id(origin, ED25519, public))] = (ED25519, public, kid)
        known[(origin, key_id(origin, TIMESTAMPED_ED25519, public))] = (
            TIMESTAMPED_ED25519,
            public,
            kid,
        )
    verified, timestamp = None, None
    for line in found:
        name, signature = _signature(line)
        key = known.get((name, signature[:4]))
        if key is None:
            continue
        kind, public, _kid = key
        message = text.encode()
        raw = signature[4:]
        if kind == TIMESTAMPED_ED25519:
            if len(raw) != 8 + 64:
                raise NoteError("a timestamped signature is 8 + 64 bytes")
            (stamp,) = struct.unpack(">Q", raw[:8])
            message, raw = _cosigned(text, stamp), raw[8:]
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw, message)
        except InvalidSignature:
            raise SignatureFailed(f"the signature by key {_kid} does not hold") from None
        verified = _kid
        if kind == TIMESTAMPED_ED25519:
            timestamp = stamp
    if not verified:
        raise SignatureFailed("no signature by a known key")
    return Checkpoint(origin, int(size_text), root, timestamp, note, verified)
