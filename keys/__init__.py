"""The registry's signing keys: key ring, JWK/JWKS, JWS sign and verify.

The only code in the project that holds a private key; it imports nothing but the
standard library and cryptography, so that it can be reviewed on its own.

    ring = keys.KeyRing(directory, passphrase=...)
    signed = ring.sign(payload_bytes)             # Signed(jws, kid)
    checked = ring.verify(signed.jws)             # Verified(payload, kid, key)
    keys.jws.verify_with_jwks(jws, jwks)          # for anyone holding only the JWKS
    keys.write_atomically(path, data)             # a file replaced whole and synced, as keys are
"""

from keys import jws
from keys.errors import KeyRingError, KeysError, NoActiveKey, UnknownKey, VerificationError
from keys.jwk import thumbprint
from keys.ring import KeyInfo, KeyRing, KeyStatus, Rotation, Signed, Verified, write_atomically

__all__ = [
    "KeyInfo",
    "KeyRing",
    "KeyRingError",
    "KeyStatus",
    "KeysError",
    "NoActiveKey",
    "Rotation",
    "Signed",
    "UnknownKey",
    "VerificationError",
    "Verified",
    "jws",
    "thumbprint",
    "write_atomically",
]
