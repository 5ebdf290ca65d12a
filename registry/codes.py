"""Certificate codes: what the QR code carries and what is printed under it.

A code is 13 random Crockford base32 symbols (65 bits) and one check symbol, Crockford's
mod-37 check over the value of the 13 symbols. Mod 37 is prime and larger than the
alphabet, so every single wrong symbol and every swap of two neighbours is caught: a
mistyped code is told apart from an unknown one. Codes whose check value falls outside
the 32 ordinary symbols (`*~$=U`) are drawn again, so every code is plain letters and
digits that a phone keyboard types; that costs 0.2 of the 65 bits.

Printed: `YS-XXXX-XXXX-XXX-XXX`. Parsing forgives case, spaces, dashes, the `YS` prefix,
O for 0 and I or L for 1.
"""

import enum
import re
import secrets
from dataclasses import dataclass

from registry.errors import MalformedCode, MistypedCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
PREFIX = "YS"
DATA_LENGTH = 13
LENGTH = DATA_LENGTH + 1
_GROUPS = (4, 4, 3, 3)

_DECODE = {symbol: value for value, symbol in enumerate(CHECK_ALPHABET)}
_DECODE.update({"O": 0, "I": 1, "L": 1})
_CANONICAL = re.compile(f"[{ALPHABET}]{{{DATA_LENGTH + 1}}}")
_IGNORED = str.maketrans("", "", " -\t\u2010\u2011\u2012\u2013\u2014\u2212")


class Problem(enum.StrEnum):
    MALFORMED = "malformed"
    MISTYPED = "mistyped"


@dataclass(frozen=True)
class Parsed:
    """A parse result: `code` in canonical form, or the `problem` that stopped it."""

    code: str | None
    problem: Problem | None = None


# Crockford's symbols as Python's base-32 digits, so that int() reads a code's value.
_AS_BASE32 = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")


def check_value(data: str) -> int:
    """The check value of data symbols (all from ALPHABET)."""
    return int(data.translate(_AS_BASE32), 32) % 37


def new() -> str:
    """A fresh random code in canonical form (14 symbols, no dashes)."""
    while True:
        bits = secrets.randbits(5 * DATA_LENGTH)  # one draw: thousands are made a second
        data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(DATA_LENGTH))
        check = check_value(data)
        if check < 32:
            return data + ALPHABET[check]


def _symbols(text: str) -> str:
    raw = text.translate(_IGNORED).upper() if isinstance(text, str) else ""
    if len(raw) == LENGTH + len(PREFIX) and raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    return raw


def as_typed(text: str) -> str:
    """What a person typed, grouped like the printed code when it has a code's length,
    so that it can be compared with the tag group by group."""
    raw = _symbols(text)
    return printed(raw) if len(raw) == LENGTH else text


def parse(text: str) -> Parsed:
    """Read a code as a person may type it; never raises."""
    if isinstance(text, str) and _CANONICAL.fullmatch(text):
        # As a QR code carries it: the common case, read without normalising.
        if _DECODE[text[-1]] == check_value(text[:-1]):
            return Parsed(text)
        return Parsed(None, Problem.MISTYPED)
    raw = _symbols(text)
    values = [value for value in map(_DECODE.get, raw) if value is not None]
    if len(raw) != LENGTH or len(values) != LENGTH or any(v >= 32 for v in values[:-1]):
        return Parsed(None, Problem.MALFORMED)
    data = "".join(ALPHABET[v] for v in values[:-1])
    if values[-1] != check_value(data):
        return Parsed(None, Problem.MISTYPED)
    return Parsed(data + CHECK_ALPHABET[values[-1]])


def printed(code: str) -> str:
    """The printed form of a canonical code: `YS-7K2M-9QXD-4TB-8R2`."""
    parts, start = [], 0
    for size in _GROUPS:
        parts.append(code[start : start + size])
        start += size
    return "-".join([PREFIX, *parts])


def readable(parsed: Parsed) -> str:
    """The canonical code of a parse, or the refusal a person reads: MistypedCode when
    the check symbol does not match, MalformedCode for text that cannot be a code."""
    if parsed.problem is Problem.MISTYPED:
        raise MistypedCode(
            "This code is mistyped: its check character does not match. "
            "Check the code and type it again.",
            errors={"code": ["Check character does not match."]},
        )
    if parsed.code is None:  # a parse has a code or else a problem: MALFORMED here
        raise MalformedCode(
            "This is not a certificate code: codes look like YS-XXXX-XXXX-XXX-XXX.",
            errors={"code": ["Not a certificate code."]},
        )
    return parsed.code
