"""The key directory: Ed25519 keys on disk, which one signs, and which ones still verify.

The directory holds:
    keyring.json   every key's kid, public x, status and times; replaced atomically
    <kid>.pem      its private key, PKCS#8, encrypted when a passphrase is set (mode 0o600)
    keyring.lock   flock'd by whoever changes the ring, so two processes never race

Readers take no lock: keyring.json is only ever replaced whole (os.replace), so a reader
sees the old file or the new one. The kid of every key is its RFC 7638 thumbprint, and
both the state file and each key file are checked against it when read.
"""

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys import jwk
from keys import jws as _jws  # aliased: KeyRing.verify takes an argument named jws
from keys.errors import KeyRingError, NoActiveKey, UnknownKey

_STATE = "keyring.json"
_LOCK = "keyring.lock"
_FORMAT = 1
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_SEAL_INFO = b"yenisey-registry seal v1"
_UNREAD = object()


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"


@dataclass(frozen=True)
class KeyInfo:
    """What is public about one key; it never holds private material."""

    kid: str
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None
    compromised_since: datetime | None
    public_jwk: dict[str, str]
    #: The position in the registry's log from which the compromise counts: signatures
    #: recorded at this entry or later are not trusted, whatever time they carry (a
    #: clock set back writes times before a compromise, never positions).
    compromised_from_entry: int | None = None

    def valid_in_log(self, index: int | None) -> bool:
        """Whether a signature recorded at log entry `index` can be trusted; one recorded
        nowhere (None) cannot, once the key is compromised from a position."""
        if self.compromised_from_entry is None:
            return True
        return index is not None and index < self.compromised_from_entry

    def valid_at(self, when: datetime) -> bool:
        """Whether a signature this key made at `when` can be trusted.

        Only a compromise invalidates: a retired key signed honestly until it was retired,
        and the ring never signs with it afterwards. Take `when` from a record that the key
        holder could not forge (the registry's database, the transparency log), never from
        the signed payload: whoever holds a compromised key can backdate what it signs.
        Raises ValueError for a naive `when`, which cannot be placed in time.
        """
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("when must be timezone-aware")
        return self.compromised_since is None or when < self.compromised_since


@dataclass(frozen=True)
class Signed:
    """The JWS to store and serve as it is; the kid saves callers from parsing it."""

    jws: str
    kid: str


@dataclass(frozen=True)
class Verified:
    """A JWS that passed every check; `key.valid_at` is left to the caller to judge."""

    payload: bytes
    kid: str
    key: KeyInfo


@dataclass(frozen=True)
class Rotation:
    """What one rotation did: the key active before it (None when there was none, after a
    compromise or in an empty ring), now retired, and the new active key."""

    previous: KeyInfo | None
    new: KeyInfo


class KeyRing:
    """A directory of Ed25519 signing keys; the only holder of private keys in the project.

    Cheap to construct: nothing is read until first use. Every public call costs one
    os.stat of keyring.json and re-reads it only when it changed, so that a rotation made
    by another process (the CLI) reaches a running server without a restart. Safe to share
    between threads. Private keys are decrypted once and kept in memory while active.
    """

    def __init__(self, directory: str | os.PathLike[str], *, passphrase: bytes | None = None):
        if passphrase is not None and not passphrase:
            raise ValueError("passphrase must not be empty; pass None for unencrypted keys")
        self._directory = Path(directory)
        self._passphrase = passphrase
        self._state_path = self._directory / _STATE
        self._mutex = threading.Lock()
        self._state: dict[str, KeyInfo] = {}
        self._seen: object = _UNREAD
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._seal_keys: dict[str, bytes] = {}
        # mkdir applies the umask, which can only narrow 0o700.
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"KeyRing({str(self._directory)!r})"

    def keys(self) -> list[KeyInfo]:
        """Every key the ring has held, oldest first."""
        return list(self._current().values())

    def get(self, kid: str) -> KeyInfo:
        """Raises UnknownKey for a kid the ring has never held."""
        state = self._current()
        if kid not in state:
            raise UnknownKey(f"no key {kid!r} in {self._directory}")
        return state[kid]

    def active(self) -> KeyInfo:
        """The key that signs now; raises NoActiveKey when there is none."""
        return self._active(self._current())

    def ensure_active(self) -> KeyInfo:
        """The active key, generating one if there is none (first start, or a compromise).

        After the active key was marked compromised this does what rotate() would. Safe
        when several processes start at once: exactly one key is generated.
        """
        active = _find_active(self._current())
        if active is not None:
            return active
        with self._locked() as state:
            return _find_active(state) or self._add_key(state)

    def generate(self) -> KeyInfo:
        """Make the first active key; raises KeyRingError if one is active already."""
        with self._locked() as state:
            active = _find_active(state)
            if active is not None:
                raise KeyRingError(
                    f"{self._directory} already has an active key {active.kid}; use rotate"
                )
            return self._add_key(state)

    def rotate(self) -> KeyInfo:
        """Make a new active key; the previous active one is retired and keeps verifying."""
        return self.replace_active().new

    def replace_active(self) -> Rotation:
        """rotate(), saying which key was active before: both read and changed under the
        ring's lock, so that a rotation racing this one can neither slip in between nor
        be named as the key replaced here."""
        with self._locked() as state:
            return Rotation(previous=_find_active(state), new=self._add_key(state))

    def mark_compromised(
        self, kid: str, *, since: datetime, from_entry: int | None = None
    ) -> KeyInfo:
        """Mark a key compromised from `since` on, and from log entry `from_entry` on
        where the log is known; what it signed before both stays valid.

        If the key was active, the ring is left WITHOUT an active key: nothing can be
        signed until rotate() or generate() makes a new one. Marking a key twice keeps
        the earlier time, so a mistake can never make signatures valid again. Raises
        UnknownKey, and ValueError for a naive `since`.
        """
        if since.tzinfo is None or since.utcoffset() is None:
            raise ValueError("since must be timezone-aware")
        since = since.astimezone(UTC)
        with self._locked() as state:
            if kid not in state:
                raise UnknownKey(f"no key {kid!r} in {self._directory}")
            known = state[kid].compromised_since
            known_entry = state[kid].compromised_from_entry
            entries = [e for e in (from_entry, known_entry) if e is not None]
            marked = replace(
                state[kid],
                status=KeyStatus.COMPROMISED,
                compromised_since=since if known is None else min(since, known),
                compromised_from_entry=min(entries) if entries else None,
            )
            self._save({**state, kid: marked})
            return marked

    def sign(self, payload: bytes) -> Signed:
        """Compact JWS over exactly `payload` with the active key; raises NoActiveKey."""
        active = self._active(self._current())
        return Signed(
            jws=_jws.sign(payload, self._private_key(active.kid), kid=active.kid),
            kid=active.kid,
        )

    def sign_notes(self, *messages: bytes) -> tuple[KeyInfo, list[bytes]]:
        """Plain Ed25519 signatures of signed notes (keys.note), all by the one active
        key; raises NoActiveKey.

        Only text with a newline is signed: a note always has one, a JWS signing input
        never does, so that this can never be made to sign what passes for a certificate.
        """
        if not all(b"\n" in message for message in messages):
            raise ValueError("a signed note has at least one newline")
        active = self._active(self._current())
        private_key = self._private_key(active.kid)
        return active, [private_key.sign(message) for message in messages]

    def verify(self, jws: str) -> Verified:
        """Check a JWS against every key of the ring; raises VerificationError.

        A compromised key still verifies here: judge `result.key.valid_at(issue time)`.
        """
        state = self._current()

        def key_for(kid: str) -> Ed25519PublicKey | None:
            return jwk.public_key(state[kid].public_jwk) if kid in state else None

        payload, kid = _jws.verify(jws, key_for)
        return Verified(payload=payload, kid=kid, key=state[kid])

    def seal(self, kid: str, data: bytes) -> str:
        """An HMAC-SHA256 of `data` under a secret derived (HKDF) from key `kid`'s private
        key: hex, 64 characters. Raises KeyRingError when that key cannot be read.

        What it is for: checking on every read, in microseconds, that stored bytes are the
        ones this key signed, where an Ed25519 verification costs a hundred times more.
        Only a holder of the private key can make a seal, as only it can sign; to anyone
        else a seal proves nothing (they verify the JWS with the JWKS).
        """
        return hmac.new(self._seal_key(kid), data, hashlib.sha256).hexdigest()

    def check_seal(self, kid: str, data: bytes, seal: str) -> bool:
        """Whether `seal` is key `kid`'s seal of `data`. False, never an error, when the
        key cannot be read: the caller then verifies the signature instead."""
        try:
            key = self._seal_key(kid)
        except KeyRingError:
            return False
        return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).hexdigest(), seal)

    def jwks(self) -> dict[str, list[dict[str, str | int]]]:
        """Every key, with its status and times, for /.well-known/jwks.json (RFC 7517 §5)."""
        return {"keys": [_published(info) for info in self._current().values()]}

    # Reading the state.

    def _current(self) -> dict[str, KeyInfo]:
        # The one os.stat per call; the mapping returned is never mutated afterwards.
        signature = _signature(self._state_path)
        with self._mutex:
            if signature != self._seen:
                self._adopt(*self._read())
            return self._state

    def _read(self) -> tuple[dict[str, KeyInfo], object]:
        try:
            with open(self._state_path, "rb") as file:
                seen = _signature_of(os.fstat(file.fileno()))
                data = file.read()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            raise KeyRingError(f"cannot read {self._state_path}: {exc.strerror}") from None
        try:
            return _parse_state(data), seen
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyRingError(
                f"{self._state_path} is corrupt ({exc}): restore it from a backup"
            ) from None

    def _active(self, state: Mapping[str, KeyInfo]) -> KeyInfo:
        active = _find_active(state)
        if active is None:
            raise self._no_active_key(state)
        return active

    def _no_active_key(self, state: Mapping[str, KeyInfo]) -> NoActiveKey:
        if not state:
            return NoActiveKey(f"{self._directory} has no keys yet: generate the first one")
        return NoActiveKey(
            f"{self._directory} has no active key (the last one was marked compromised): "
            "rotate to make a new one"
        )

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        with self._mutex:
            key = self._private.get(kid)
        if key is None:
            # Loaded outside the mutex: decryption with a passphrase is slow on purpose,
            # and verification must not wait for it.
            key = self._load_private_key(kid)
            with self._mutex:
                self._private[kid] = key
        return key

    def _seal_key(self, kid: str) -> bytes:
        # Kept for every key once derived (a retired key's private half is not): it can
        # make seals, which only this registry checks, but never a signature.
        with self._mutex:
            key = self._seal_keys.get(kid)
        if key is None:
            if not (self._directory / f"{kid}.pem").exists():
                raise KeyRingError(f"no private key {kid} in {self._directory}")
            private = self._load_private_key(kid)
            raw = private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(raw)
            with self._mutex:
                self._seal_keys[kid] = key
        return key

    def _load_private_key(self, kid: str) -> Ed25519PrivateKey:
        path = self._directory / f"{kid}.pem"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyRingError(f"key file {path} is missing") from None
        except OSError as exc:
            raise KeyRingError(f"cannot read key file {path}: {exc.strerror}") from None
        encrypted = data.lstrip().startswith(_ENCRYPTED_PEM)
        if encrypted and self._passphrase is None:
            raise KeyRingError(f"key {kid} is encrypted: set REGISTRY_KEY_PASSPHRASE")
        if not encrypted and self._passphrase is not None:
            # Refused rather than used: the operator believes the keys are encrypted.
            raise KeyRingError(
                f"key {kid} is stored unencrypted although a passphrase is set: "
                "unset REGISTRY_KEY_PASSPHRASE, or rotate to a new, encrypted key"
            )
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase)
        except (TypeError, ValueError):
            if encrypted:
                raise KeyRingError(
                    f"wrong passphrase for key {kid} (or {path} is damaged)"
                ) from None
            raise KeyRingError(f"key file {path} is not a PEM private key") from None
        if (
            not isinstance(key, Ed25519PrivateKey)
            or jwk.thumbprint(jwk.public_jwk(key.public_key())) != kid
        ):
            raise KeyRingError(f"key file {path} does not hold the key {kid}")
        return key

    # Changing the state: always under the lock, always from a fresh read.

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, KeyInfo]]:
        fd = os.open(self._directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state, seen = self._read()
            # Only under the lock: outside it, a first key may be written but not yet named.
            if seen is None and any(self._directory.glob("*.pem")):
                raise KeyRingError(
                    f"{self._state_path} is missing but {self._directory} holds key files: "
                    "restore keyring.json from a backup, or move the .pem files away"
                )
            yield state
        finally:
            os.close(fd)  # which releases the flock

    def _add_key(self, state: Mapping[str, KeyInfo]) -> KeyInfo:
        # The key file is written before keyring.json names it: a crash in between leaves
        # an unused file, never a kid without its key.
        now = datetime.now(UTC)
        private_key = Ed25519PrivateKey.generate()
        public_jwk = jwk.public_jwk(private_key.public_key())
        kid = jwk.thumbprint(public_jwk)
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if self._passphrase is None
            else serialization.BestAvailableEncryption(self._passphrase)
        )
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        write_atomically(self._directory / f"{kid}.pem", pem)
        new = KeyInfo(
            kid=kid,
            status=KeyStatus.ACTIVE,
            created_at=now,
            retired_at=None,
            compromised_since=None,
            public_jwk=public_jwk,
        )
        retired = {
            old: replace(info, status=KeyStatus.RETIRED, retired_at=now)
            if info.status is KeyStatus.ACTIVE
            else info
            for old, info in state.items()
        }
        self._save({**retired, kid: new})
        with self._mutex:
            self._private[kid] = private_key
        return new

    def _save(self, state: dict[str, KeyInfo]) -> None:
        document = {"format": _FORMAT, "keys": [_record(info) for info in state.values()]}
        write_atomically(self._state_path, json.dumps(document, indent=2).encode() + b"\n")
        seen = _signature(self._state_path)  # ours: the lock is held
        with self._mutex:
            self._adopt(state, seen)

    def _adopt(self, state: dict[str, KeyInfo], seen: object) -> None:
        # The caller holds self._mutex. Only the private key that may still sign stays in
        # memory.
        self._state, self._seen = state, seen
        self._private = {
            kid: key
            for kid, key in self._private.items()
            if kid in state and state[kid].status is KeyStatus.ACTIVE
        }


def _find_active(state: Mapping[str, KeyInfo]) -> KeyInfo | None:
    return next((info for info in state.values() if info.status is KeyStatus.ACTIVE), None)


def _published(info: KeyInfo) -> dict[str, str | int]:
    entry: dict[str, str | int] = {
        **info.public_jwk,
        "kid": info.kid,
        "alg": _jws.ALG,
        "use": "sig",
        "status": str(info.status),
        "created_at": _format_time(info.created_at),
    }
    if info.retired_at is not None:
        entry["retired_at"] = _format_time(info.retired_at)
    if info.compromised_since is not None:
        entry["compromised_since"] = _format_time(info.compromised_since)
    if info.compromised_from_entry is not None:
        entry["compromised_from_entry"] = info.compromised_from_entry
    return entry


def _record(info: KeyInfo) -> dict[str, str | int | None]:
    return {
        "kid": info.kid,
        "x": info.public_jwk["x"],
        "status": str(info.status),
        "created_at": _format_time(info.created_at),
        "retired_at": _format_time(info.retired_at) if info.retired_at else None,
        "compromised_since": (
            _format_time(info.compromised_since) if info.compromised_since else None
        ),
        "compromised_from_entry": info.compromised_from_entry,
    }


def _parse_state(data: bytes) -> dict[str, KeyInfo]:
    """Raises KeyError, TypeError or ValueError for anything but a consistent key list."""
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError(f"not a key ring of format {_FORMAT}")
    state: dict[str, KeyInfo] = {}
    for record in document["keys"]:
        public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": record["x"]}
        jwk.public_key(public_jwk)
        kid = record["kid"]
        if jwk.thumbprint(public_jwk) != kid or kid in state:
            raise ValueError(f"kid {kid!r} is repeated or does not match its key")
        created_at = _parse_time(record["created_at"])
        if created_at is None:
            raise ValueError(f"key {kid} has no creation time")
        info = KeyInfo(
            kid=kid,
            status=KeyStatus(record["status"]),
            created_at=created_at,
            retired_at=_parse_time(record["retired_at"]),
            compromised_since=_parse_time(record["compromised_since"]),
            public_jwk=public_jwk,
            compromised_from_entry=_parse_entry(record.get("compromised_from_entry")),
        )
        if (info.status is KeyStatus.COMPROMISED) != (info.compromised_since is not None):
            raise ValueError(f"key {kid} has a compromise time without the status, or back")
        state[kid] = info
    if sum(info.status is KeyStatus.ACTIVE for info in state.values()) > 1:
        raise ValueError("more than one active key")
    return state


def _parse_entry(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"a log position is a whole number, not {value!r}")
    return value


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: Any) -> datetime | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return when.astimezone(UTC)


def _signature(path: Path) -> object:
    try:
        return _signature_of(os.stat(path))
    except FileNotFoundError:
        return None


def _signature_of(stat: os.stat_result) -> object:
    # The inode changes on every os.replace; size and both times guard against its reuse.
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at `path` with `data` so that it survives a crash or a power cut
    whole: the old content or the new, never a mix, and the new once this returns.

    Written to a temporary file beside it (mode 0o600), synced, renamed over `path`, and
    the directory synced so that the rename itself holds. Safe to call from several
    processes or threads at once (each has its own temporary file; the last rename wins).
    Raises OSError.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # so that the rename itself survives a power cut
    finally:
        os.close(directory)
