"""Base64url without padding (RFC 7515 §2 and Appendix C), decoded strictly.

Strict because a lenient decoder lets several strings stand for the same bytes (padding,
stray characters, non-zero spare bits), and a JWS could then be altered without its
signature changing.
"""

import base64
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: object) -> bytes:
    """Takes any value, since callers pass what JSON held; raises ValueError for a non-string,
    padding, a character outside the alphabet or non-zero spare bits."""
    if not isinstance(text, str) or not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if encode(data) != text:
        raise ValueError("base64url with non-zero spare bits")
    return data
