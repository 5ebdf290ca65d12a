"""JWS compact serialisation (RFC 7515 §7.1) with EdDSA over Ed25519 (RFC 8037 §3.1).

Written here rather than taken from a JOSE library so that exactly one algorithm is ever
accepted: a header's `alg` is checked, never obeyed, and the key is chosen by kid from
keys we already hold, never from the header itself (`jwk`, `jku` and `x5u` are ignored).
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import base64url, jwk
from keys.errors import VerificationError

ALG = "EdDSA"
_SIGNATURE_BYTES = 64

KeyLookup = Callable[[str], Ed25519PublicKey | None]


@dataclass(frozen=True)
class _Parts:
    kid: str
    payload: bytes
    signing_input: bytes
    signature: bytes


def sign(payload: bytes, private_key: Ed25519PrivateKey, *, kid: str) -> str:
    """The compact JWS of exactly `payload`, protected header {"alg":"EdDSA","kid":kid}."""
    return _sign(payload, private_key, header={"alg": ALG, "kid": kid})


def _sign(payload: bytes, private_key: Ed25519PrivateKey, *, header: dict[str, str]) -> str:
    # Kept apart from sign() so that the RFC 8037 A.4 vector (a header without kid) can be
    # reproduced byte for byte.
    if not isinstance(payload, bytes):
        raise TypeError("payload must be bytes: sign the stored bytes, not an object")
    protected = base64url.encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{protected}.{base64url.encode(payload)}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{base64url.encode(signature)}"


def verify(jws: str, key_for: KeyLookup) -> tuple[bytes, str]:
    """Check `jws` with the key that `key_for(kid)` returns; give back (payload, kid).

    `key_for` returns None for a kid it does not know. Raises VerificationError naming the
    step that failed. Whether the key was compromised before the signature was made is
    the caller's judgement: only it knows when the signature was made.
    """
    parts = _parse(jws)
    # 8. The key comes from the caller's key set, looked up by kid.
    public_key = key_for(parts.kid)
    if public_key is None:
        raise VerificationError(f"unknown kid {_shown(parts.kid)}: no such key in the key set")
    # 9. The signature covers the ASCII of "header.payload" as received (RFC 7515 §5.2 step 8).
    try:
        public_key.verify(parts.signature, parts.signing_input)
    except InvalidSignature:
        raise VerificationError(
            f"JWS signature does not verify with key {_shown(parts.kid)}"
        ) from None
    return parts.payload, parts.kid


def verify_with_jwks(jws: str, jwks: Mapping[str, Any]) -> bytes:
    """Check `jws` against a published JWKS alone (no key ring); give back the payload bytes.

    Raises VerificationError as `verify` does, and also for a JWKS entry that is not an
    Ed25519 signing key or whose `x` does not hash to its kid (RFC 7638).
    """
    return verify(jws, lambda kid: _key_from_jwks(jwks, kid))[0]


def _parse(jws: str) -> _Parts:
    # 1. Three base64url parts separated by dots (RFC 7515 §7.1).
    if not isinstance(jws, str):
        raise VerificationError("JWS must be a str in compact serialisation")
    pieces = jws.split(".")
    if len(pieces) != 3:
        raise VerificationError(f"JWS must have 3 dot-separated parts, found {len(pieces)}")
    protected, encoded_payload, encoded_signature = pieces
    # 2. The protected header decodes to a UTF-8 JSON object without repeated members
    #    (RFC 7515 §5.2 steps 2-4).
    try:
        header_bytes = base64url.decode(protected)
    except ValueError:
        raise VerificationError("JWS protected header is not base64url") from None
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_unique_members)
    except (ValueError, RecursionError):
        raise VerificationError("JWS protected header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise VerificationError("JWS protected header is not a JSON object")
    # 3. One algorithm only, whatever the header asks for ("none" included).
    if header.get("alg") != ALG:
        raise VerificationError(f"JWS alg must be {ALG!r}, found {_shown(header.get('alg'))}")
    # 4. We understand no extension, so any crit must be refused (RFC 7515 §4.1.11); b64
    #    would change what the signature covers (RFC 7797).
    if "crit" in header or "b64" in header:
        raise VerificationError("JWS header uses crit or b64, extensions this verifier refuses")
    # 5. A kid names the key: a non-empty string.
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise VerificationError("JWS header has no kid naming the signing key")
    # 6. The payload is base64url (the bytes returned are exactly those signed).
    try:
        payload = base64url.decode(encoded_payload)
    except ValueError:
        raise VerificationError("JWS payload is not base64url") from None
    # 7. The signature is base64url of exactly 64 bytes (RFC 8032 §5.1.6).
    try:
        signature = base64url.decode(encoded_signature)
    except ValueError:
        raise VerificationError("JWS signature is not base64url") from None
    if len(signature) != _SIGNATURE_BYTES:
        raise VerificationError(
            f"JWS signature must be {_SIGNATURE_BYTES} bytes, found {len(signature)}"
        )
    signing_input = f"{protected}.{encoded_payload}".encode("ascii")
    return _Parts(kid=kid, payload=payload, signing_input=signing_input, signature=signature)


def _key_from_jwks(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey | None:
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise VerificationError("JWKS has no 'keys' list (RFC 7517 §5)")
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("kid") != kid:
            continue
        try:
            public_key = jwk.public_key(entry)
            matches = jwk.thumbprint(entry) == kid
        except ValueError as exc:
            raise VerificationError(f"JWKS entry {_shown(kid)} is unusable: {exc}") from None
        if not matches:
            raise VerificationError(f"JWKS entry {_shown(kid)}: x does not hash to its kid")
        if entry.get("alg", ALG) != ALG or entry.get("use", "sig") != "sig":
            raise VerificationError(f"JWKS entry {_shown(kid)} is not an EdDSA signing key")
        return public_key
    return None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise VerificationError("JWS protected header repeats a member name")
    return dict(pairs)


def _shown(value: object) -> str:
    # Values come from whoever sent the JWS: quote them, and keep a long one short.
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
