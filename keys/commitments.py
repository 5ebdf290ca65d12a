"""The secret behind the log's commitments to private values (e-mail addresses, UINs,
inspectors' notes): HMAC-SHA256 (RFC 2104) with a 256-bit key kept in the key directory.

A plain SHA-256 of an e-mail address lets anyone who reads the public log confirm a
guessed address; a keyed one can be checked only by whoever holds the key directory (the
registry, and inspectors running `registry log verify` beside it).

The directory holds `commitment-key`: 64 hex digits, mode 0o600, made on first use and
never replaced. Losing it leaves the old commitments uncheckable; it is backed up with
the signing keys.
"""

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import KeyRingError

FILE_NAME = "commitment-key"
_SIZE = 32


class CommitmentKey:
    """The key of the commitments; its repr never shows it."""

    def __init__(self, secret: bytes):
        if len(secret) != _SIZE:
            raise KeyRingError(f"a commitment key is {_SIZE} bytes, not {len(secret)}")
        self._secret = secret

    def __repr__(self) -> str:
        return "CommitmentKey(…)"

    @classmethod
    def in_directory(
        cls, directory: str | os.PathLike[str], *, create: bool = True
    ) -> "CommitmentKey":
        """The directory's key, made (durably, mode 0o600) if it has none yet and
        `create` allows: never for a registry that has signed already, whose rows carry
        MACs and seals under its lost key (a new one would quietly fail them all).

        Raises KeyRingError when the file is missing and may not be made, is not a key,
        or others may read it.
        """
        path = Path(directory) / FILE_NAME
        if not path.exists():
            if not create:
                raise KeyRingError(
                    f"{path} is missing, yet this registry has signing keys: restore it with "
                    "the rest of the keys directory from its backup (a new key would not "
                    "prove anything the registry wrote before)"
                )
            _create(path)
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise KeyRingError(f"{path} may be read by others: make it 0600")
        text = path.read_text(encoding="ascii").strip()
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            raise KeyRingError(f"{path} does not hold a commitment key") from None
        return cls(secret)

    def commit(self, value: bytes) -> str:
        """HMAC-SHA256 of `value`, in hex."""
        return hmac.new(self._secret, value, hashlib.sha256).hexdigest()

    def holds(self, value: bytes, mac: str | None) -> bool:
        """Whether `mac` is this key's HMAC of `value` (in constant time); False for None."""
        return mac is not None and hmac.compare_digest(self.commit(value), mac)

    def fingerprint(self) -> str:
        """A value that tells this key from another without disclosing it (a key check
        value): kept with backups, so that a restore can refuse a keys directory whose
        key is not the one the backed-up rows were proved with."""
        return self.derive("fingerprint").commit(b"yenisey-registry commitment key")[:32]

    def derive(self, purpose: str) -> "CommitmentKey":
        """An independent key for another purpose (HKDF, RFC 5869): one secret in the
        directory, and no MAC made for one purpose ever passes for another's."""
        secret = HKDF(
            algorithm=hashes.SHA256(),
            length=_SIZE,
            salt=None,
            info=f"yenisey-registry {purpose}".encode(),
        ).derive(self._secret)
        return CommitmentKey(secret)


def _create(path: Path) -> None:
    # Written aside, flushed to disk, then linked into place: a process starting at the
    # same moment reads either no file or the whole key, and the first link wins.
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_bytes(_SIZE).hex() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return
    finally:
        draft.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # so that the link itself survives a power cut
    finally:
        os.close(directory)
