"""Ownership claim codes and owner keys: the secrets a buyer is handed after a sale.

A claim code is printed on the sale slip (and made again for a hand-over or a reset):
17 random Crockford base32 symbols (85 bits) and a check symbol, as certificate codes
have (registry/codes.py), so that a mistyped code is told apart from an unknown one;
printed `XXXX-XXXX-XXXX-XXX-XXX`, read back as leniently. It works once. An owner key is
192 random bits, URL-safe, shown once to the owner and never again.

Neither is stored: only the SHA-256 of each (enough, for secrets this long, against a
search) in the database, and only a keyed commitment of each in the public log
(ledger.commitment), so that neither a copy of the database nor the log gives them away.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import codes
from registry.errors import InvalidInput
from registry.models import OwnershipClaim, Piece, Sale, utcnow
from schemas.standards import ClaimOrigin

DATA_LENGTH = 17
LENGTH = DATA_LENGTH + 1
_GROUPS = (4, 4, 4, 3, 3)
_DECODE = {symbol: value for value, symbol in enumerate(codes.CHECK_ALPHABET)}
_DECODE.update({"O": 0, "I": 1, "L": 1})
_IGNORED = str.maketrans("", "", " -\t\u2010\u2011\u2012\u2013\u2014\u2212")
_KEY = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True)
class Issued:
    """A claim code made for a piece: the row, and the code itself, to print once."""

    claim: OwnershipClaim
    code: str

    @property
    def printed(self) -> str:
        return printed(self.code)


def new_code() -> str:
    """A fresh claim code in canonical form (18 symbols, no dashes)."""
    while True:
        data = "".join(secrets.choice(codes.ALPHABET) for _ in range(DATA_LENGTH))
        check = codes.check_value(data)
        if check < 32:
            return data + codes.ALPHABET[check]


def printed(code: str) -> str:
    """`XXXX-XXXX-XXXX-XXX-XXX`."""
    parts, start = [], 0
    for size in _GROUPS:
        parts.append(code[start : start + size])
        start += size
    return "-".join(parts)


def parse(text: str) -> str:
    """The canonical claim code of what a person typed or a QR code carried.

    Raises InvalidInput (on the field `claim_code`) for text that cannot be one, and for
    one whose check symbol does not match: "check it and type it again".
    """
    raw = text.translate(_IGNORED).upper() if isinstance(text, str) else ""
    values = [value for value in map(_DECODE.get, raw) if value is not None]
    if len(raw) != LENGTH or len(values) != LENGTH or any(v >= 32 for v in values[:-1]):
        raise InvalidInput(
            "This is not a claim code: it is printed on the sale slip as XXXX-XXXX-XXXX-XXX-XXX.",
            errors={"claim_code": ["Not a claim code."]},
        )
    data = "".join(codes.ALPHABET[v] for v in values[:-1])
    if values[-1] != codes.check_value(data):
        raise InvalidInput(
            "This claim code is mistyped: its check character does not match. "
            "Check it and type it again.",
            errors={"claim_code": ["Check character does not match."]},
        )
    return data + codes.ALPHABET[values[-1]]


def digest(secret: str) -> str:
    """What is stored of a claim code or an owner key: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(session: Session, piece: Piece, sale: Sale, origin: ClaimOrigin) -> Issued:
    """Make a claim code for `piece`, withdrawing any unused one of it; the caller logs
    the event (with ledger.commitment of the code) and commits."""
    withdraw_unused(session, piece.id, utcnow())
    code = new_code()
    claim = OwnershipClaim(
        piece_id=piece.id, sale_id=sale.id, code_hash=digest(code), origin=str(origin)
    )
    session.add(claim)
    return Issued(claim=claim, code=code)


def withdraw_unused(session: Session, piece_id: int, now: datetime) -> None:
    """Withdraw every claim code of the piece not used yet: a newer code replaces it, or
    the sale it was printed for was cancelled."""
    for unused in session.scalars(
        select(OwnershipClaim).where(
            OwnershipClaim.piece_id == piece_id,
            OwnershipClaim.used_at.is_(None),
            OwnershipClaim.withdrawn_at.is_(None),
        )
    ):
        unused.withdrawn_at = now


def new_owner_key() -> str:
    """A fresh owner key: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def owner_key(text: object) -> str:
    """An owner key as sent, or InvalidInput (on the field `owner_key`)."""
    if not isinstance(text, str) or not _KEY.fullmatch(text.strip()):
        raise InvalidInput("This is not an owner key.", errors={"owner_key": ["Not an owner key."]})
    return text.strip()
