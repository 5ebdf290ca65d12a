"""Accounts (maker, inspector, admin), their passwords and their API tokens.

Passwords are kept as argon2id hashes (RFC 9106's second recommended parameters, as
argon2-cffi sets them). Setting one is a log event carrying a commitment to the hash, so
`registry log verify` notices a hash planted in the database by hand.

A token is `ysr_<8 symbols>_<secret>`: the first part is shown in listings so people can
tell their tokens apart; only the SHA-256 of the whole token is stored. Tokens carry
256 random bits, so a fast hash is enough (nothing to brute-force).
"""

import functools
import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

import argon2
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import makers
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidToken,
    NotFound,
    Unauthorized,
)
from registry.log import events, ledger
from registry.models import Account, ApiToken, utcnow
from schemas.standards import EventType, Role

_TOKEN = re.compile(r"^(ysr_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$")
# Touching last_used_at on every request would turn each read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def create(session: Session, data: dict[str, Any], *, actor: Account | None) -> Account:
    """Create an account; a maker account belongs to an admitted maker.

    Raises Conflict for an e-mail already in use, NotFound for an unknown maker.
    """
    email = data["email"].strip().lower()
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict(f"An account for {email} already exists.", errors={"email": ["Taken."]})
    try:
        maker = makers.get(session, data["maker"]) if data.get("maker") else None
    except NotFound as exc:
        raise NotFound(exc.detail, errors={"maker": ["No admitted maker has this slug."]}) from exc
    account = Account(
        email=email, role=data["role"], maker=maker, display_name=data.get("display_name")
    )
    session.add(account)
    ledger.append(
        session,
        EventType.ACCOUNT_CREATED,
        actor=actor,
        maker=maker,
        data={"account": ledger.commitment(session, email), "role": account.role},
    )
    return account


def set_password(
    session: Session,
    account: Account,
    password: str,
    *,
    actor: Account | None,
    must_change: bool | None = None,
) -> None:
    """Give `account` a new password. Set by anyone but its owner (the brand office's
    first or reset password), it must be changed at the next sign-in unless `must_change`
    says otherwise. The caller commits."""
    account.password_hash = _hasher().hash(password)
    if must_change is None:
        must_change = actor is not None and actor.id != account.id
    account.password_must_change = must_change
    ledger.append(
        session,
        EventType.ACCOUNT_PASSWORD_SET,
        actor=actor,
        maker=account.maker,
        data={
            "account": ledger.commitment(session, account.email),
            "password": events.password_digest(session, account),
        },
    )


def temporary_password() -> str:
    """A first or reset password for the brand office to hand over (72 random bits)."""
    return "-".join(secrets.token_hex(3) for _ in range(3))


def sign_in(session: Session, email: str, password: str) -> Account:
    """The account these credentials open. Reads only.

    Raises Unauthorized, with the same message whether the e-mail or the password is
    wrong, and after the same work: an unknown e-mail costs a hash check too.
    """
    account = session.scalar(select(Account).where(Account.email == email.strip().lower()))
    stored = account.password_hash if account is not None else None
    try:
        _hasher().verify(stored or _decoy(), password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        stored = None
    if account is None or stored is None:
        raise Unauthorized("Wrong e-mail address or password.")
    return account


def change_password(session: Session, account: Account, current: str, new: str) -> None:
    """The owner's own change. Raises InvalidInput naming `current` when it is wrong,
    or `new` when it is the same as the current one. The caller commits."""
    try:
        _hasher().verify(account.password_hash or _decoy(), current)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError) as exc:
        raise InvalidInput(
            "The current password is wrong.", errors={"current": ["Wrong password."]}
        ) from exc
    if new == current:
        raise InvalidInput(
            "Choose a password other than the current one.",
            errors={"new": ["Same as the current password."]},
        )
    set_password(session, account, new, actor=account)


def session_stamp(account: Account) -> str:
    """A short fingerprint of the password hash, kept in the signed session cookie: a
    new password ends every session signed in with the old one."""
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:16]


#: The password hasher: argon2id with argon2-cffi's defaults (RFC 9106's second
#: recommended profile). The test suite swaps in argon2's cheapest profile.
HASHER = argon2.PasswordHasher()


def _hasher() -> argon2.PasswordHasher:
    return HASHER


@functools.cache
def _decoy() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def get(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"No account {account_id}.")
    return account


def by_email(session: Session, email: str) -> Account:
    account = session.scalar(select(Account).where(Account.email == email.strip().lower()))
    if account is None:
        raise NotFound(f"No account for {email}.")
    return account


def listing(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def issue_token(
    session: Session, account: Account, *, name: str | None, actor: Account | None
) -> tuple[ApiToken, str]:
    """A new token for `account`; returns the row and the secret, shown only this once."""
    prefix = "ysr_" + "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        for _ in range(8)
    )
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(account=account, prefix=prefix, secret_hash=_hash(secret), name=name)
    session.add(token)
    ledger.append(
        session,
        EventType.TOKEN_CREATED,
        actor=actor,
        data={"account": ledger.commitment(session, account.email), "prefix": prefix},
    )
    return token, secret


def tokens_of(session: Session, account: Account) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, token_id: int, *, actor: Account) -> ApiToken:
    """Revoke a token: admins any, others only their own. Revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is None or (actor.role != Role.ADMIN and token.account_id != actor.id):
        # Someone else's token is reported as absent, not as forbidden: no probing.
        raise NotFound(f"No token {token_id} of yours.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        ledger.append(
            session,
            EventType.TOKEN_REVOKED,
            actor=actor,
            data={
                "account": ledger.commitment(session, token.account.email),
                "prefix": token.prefix,
            },
        )
    return token


def authenticate(session: Session, authorization: str | None) -> ApiToken:
    """The token of an `Authorization: Bearer …` header; its `account` is the caller.

    Reads only. Raises Unauthorized, with the reason, for a missing, malformed, unknown
    or revoked token.
    """
    if not authorization:
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.")
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not _TOKEN.match(secret.strip()):
        raise InvalidToken("The Authorization header is not a registry bearer token.")
    token = session.scalar(select(ApiToken).where(ApiToken.secret_hash == _hash(secret.strip())))
    if token is None:
        raise InvalidToken("This token is not known to the registry.")
    if token.revoked_at is not None:
        raise InvalidToken("This token was revoked.")
    return token


def touch_due(token: ApiToken) -> bool:
    """Whether the token's last-used time is stale enough to write again."""
    return token.last_used_at is None or utcnow() - token.last_used_at > _TOUCH_EVERY


def require(account: Account, *roles: str) -> None:
    """Raises Forbidden unless the account has one of `roles`."""
    if account.role not in roles:
        raise Forbidden(
            f"This needs the role {' or '.join(roles)}; your token is a {account.role}'s."
        )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
