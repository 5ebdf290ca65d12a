"""Accounts (maker, inspector, admin) and their API tokens.

A token is `ysr_<8 symbols>_<secret>`: the first part is shown in listings so people can
tell their tokens apart; only the SHA-256 of the whole token is stored. Tokens carry
256 random bits, so a fast hash is enough (nothing to brute-force).
"""

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import ledger, makers
from registry.errors import Conflict, Forbidden, InvalidToken, NotFound, Unauthorized
from registry.models import Account, ApiToken, utcnow

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
        ledger.Action.ACCOUNT_CREATED,
        actor=actor,
        maker=maker,
        data={"account": ledger.digest(email), "role": account.role},
    )
    return account


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
        ledger.Action.TOKEN_CREATED,
        actor=actor,
        data={"account": ledger.digest(account.email), "prefix": prefix},
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
    if token is None or (actor.role != "admin" and token.account_id != actor.id):
        # Someone else's token is reported as absent, not as forbidden: no probing.
        raise NotFound(f"No token {token_id} of yours.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        ledger.append(
            session,
            ledger.Action.TOKEN_REVOKED,
            actor=actor,
            data={"account": ledger.digest(token.account.email), "prefix": token.prefix},
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
