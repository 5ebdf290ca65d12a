"""Failures of key handling, as one tree so that a caller can catch `KeysError` once.

The base is not called `KeyError` so that the builtin stays visible to whoever imports it.
No message ever carries private key material or the passphrase.
"""


class KeysError(Exception):
    """Base of every error this package raises."""


class KeyRingError(KeysError):
    """The key directory cannot do what was asked; the message says what a human can do."""


class NoActiveKey(KeyRingError):
    """Nothing can be signed until a key is active: first start, or after a compromise."""


class UnknownKey(KeyRingError):
    """A kid that this ring has never held."""


class VerificationError(KeysError):
    """A JWS was not accepted; the message names the step that refused it."""
