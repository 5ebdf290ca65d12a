"""A witness's key (c2sp.org/tlog-witness): one Ed25519 key under the witness's name, in
a folder of its own, which signs the witness's cosignatures (c2sp.org/tlog-cosignature).

    <folder>/
      witness.pem    the private key, PKCS#8, encrypted when a passphrase is set (0o600)
      witness.vkey   name+keyID+key (type 0x04), what logs and auditors are given

The witness is a party the registry does not control: its key is made on the
witness's own machine and never leaves the folder; only the vkey is handed out.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import note
from keys.errors import KeyRingError
from keys.ring import write_atomically

PRIVATE = "witness.pem"
VKEY = "witness.vkey"


@dataclass(frozen=True)
class WitnessKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def vkey(self) -> note.VerifierKey:
        return note.VerifierKey(self.name, note.TIMESTAMPED_ED25519, self.public)

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line of a note whose text (the lines before the blank line,
        each ending in a newline) is `text`, made at `timestamp` (POSIX seconds)."""
        signature = self.private.sign(note.cosigned_message(text, timestamp))
        return note.cosignature_line(self.name, self.public, timestamp, signature)


def generate(
    directory: str | os.PathLike[str], name: str, *, passphrase: bytes | None = None
) -> WitnessKey:
    """Make the witness's key in `directory` (created if missing, mode 0o700). Refuses
    to replace a key already there: a witness that changes its key loses its standing
    with every log and auditor that trusts it. Raises KeyRingError."""
    folder = Path(directory)
    try:
        note.parse_verifier_key(note.verifier_key(name, b"\0" * 32, note.TIMESTAMPED_ED25519))
    except note.NoteError as exc:
        raise KeyRingError(f"{name!r} cannot name a witness: {exc}") from None
    if (folder / PRIVATE).exists() or (folder / VKEY).exists():
        raise KeyRingError(f"{folder} already holds a witness key; it is never replaced")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = WitnessKey(name, Ed25519PrivateKey.generate())
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase)
    )
    pem = key.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    write_atomically(folder / PRIVATE, pem)
    write_atomically(folder / VKEY, f"{key.vkey}\n".encode())
    return key


def load(directory: str | os.PathLike[str], *, passphrase: bytes | None = None) -> WitnessKey:
    """The witness's key in `directory`, checked against its vkey. Raises KeyRingError
    saying what a person can do."""
    folder = Path(directory)
    try:
        pem = (folder / PRIVATE).read_bytes()
        vkey = note.parse_verifier_key((folder / VKEY).read_text())
    except FileNotFoundError:
        raise KeyRingError(
            f"no witness key in {folder}: make one with `registry witness keygen`"
        ) from None
    except note.NoteError as exc:
        raise KeyRingError(f"{folder / VKEY} is damaged: {exc}") from None
    try:
        private = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError:
        raise KeyRingError(
            "the witness key is encrypted: set REGISTRY_WITNESS_PASSPHRASE"
            if passphrase is None
            else "the witness key is not encrypted: unset REGISTRY_WITNESS_PASSPHRASE"
        ) from None
    except ValueError:
        raise KeyRingError(f"wrong passphrase, or {folder / PRIVATE} is damaged") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyRingError(f"{folder / PRIVATE} is not an Ed25519 key")
    key = WitnessKey(vkey.name, private)
    if key.public != vkey.public or vkey.kind != note.TIMESTAMPED_ED25519:
        raise KeyRingError(f"{folder / VKEY} is not the vkey of {folder / PRIVATE}")
    return key
