"""RFC 8785 (JSON Canonicalization Scheme): the one way a payload becomes signed bytes."""

from typing import Any

import rfc8785


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises `ValueError` for what JSON cannot hold exactly (NaN, infinities, integers
    beyond IEEE 754 double precision), so nothing ambiguous is ever signed.
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc
