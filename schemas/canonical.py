"""RFC 8785 (JSON Canonicalization Scheme): the one way a payload becomes signed bytes."""

import json
from typing import Any

import rfc8785

# Python's JSON encoder writes what RFC 8785 writes (members sorted, no white space,
# strings as they are but for the same escapes: the quote, the backslash, \b \f \n \r \t,
# other controls as lowercase \u00xx) for every value `_plain` accepts. It is about five
# times faster than the reference library, which matters where thousands of certificates
# and entries are written a second; anything else goes to the library.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_SAFE_INTEGER = 2**53 - 1


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises `ValueError` for what JSON cannot hold exactly (NaN, infinities, integers
    beyond IEEE 754 double precision), so nothing ambiguous is ever signed.
    """
    if _plain(value):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the library says why it cannot be written
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc


def _plain(value: Any) -> bool:
    """Whether Python's encoder writes `value` as RFC 8785 does: objects whose member
    names are ASCII (sorted by code point, as UTF-16 code units sort them then), integers
    a double holds exactly, and only such numbers with a fraction as both write in plain
    decimals (ECMAScript's shortest form, which Python's repr shares there; 3.0, 1e-05
    and 1e+16 are written otherwise). Exact types first: it runs on every entry."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if item is not None and type(item) is not str and not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    if kind is int:
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if kind is float:
        return 1e-4 <= abs(value) < 1e15 and not value.is_integer()
    return isinstance(value, str)  # an enumeration's value, written as its text
