"""Ed25519 public keys as JWKs (RFC 8037 §2) and their RFC 7638 thumbprints.

The thumbprint is the kid, so a kid names exactly one public key: a JWKS entry whose `x`
does not hash to its kid is a substituted key, and a kid is always a safe file name.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys import base64url

_KEY_BYTES = 32


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The members that define the key (RFC 8037 §2), nothing else."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64url.encode(raw)}


def thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3 thumbprint (SHA-256) of an OKP key; raises ValueError for any other JWK."""
    if public_jwk.get("kty") != "OKP":
        raise ValueError("only OKP keys (RFC 8037) have a thumbprint here")
    # RFC 8037 §2: the required members of an OKP key are crv, kty and x.
    members = {name: public_jwk.get(name) for name in ("crv", "kty", "x")}
    if not all(isinstance(value, str) for value in members.values()):
        raise ValueError("an OKP key needs string members crv, kty and x")
    # RFC 7638 §3.2-3.3: required members only, lexicographic order, no whitespace, UTF-8.
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64url.encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The key a JWK describes; raises ValueError unless it is an Ed25519 public key."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 key (kty OKP, crv Ed25519)")
    raw = base64url.decode(jwk.get("x"))
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"x must be {_KEY_BYTES} bytes, found {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)
