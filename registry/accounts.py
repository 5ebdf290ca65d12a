"""Accounts (maker, inspector, admin), their passwords, portal sessions and API tokens,
and the limits on failed sign-ins.

Passwords are kept as argon2id hashes (RFC 9106's second recommended parameters, as
argon2-cffi sets them). Setting one is a log event carrying a commitment to the hash, so
`registry log verify` notices a hash planted in the database by hand.

A token is `ysr_<8 symbols>_<secret>`: the first part is shown in listings so people can
tell their tokens apart; only the SHA-256 of the whole token is stored. Tokens carry
256 random bits, so a fast hash is enough (nothing to brute-force). A portal session is
kept the same way: the browser holds a random id, the database its SHA-256.

Failed sign-ins are rows in the database, so every worker and machine counts the same
ones. They are limited so that a stranger cannot lock the owner out: per account and
client together; by a delay that grows with the account's failures, which a client
waits after its own failure (a client that has not failed does not wait); and by a cap
per account far above what a person types, which clients the account signed in from
lately are spared.
"""

import functools
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import argon2
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from registry import makers, shops
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidToken,
    NotFound,
    Unauthorized,
)
from registry.log import events, ledger
from registry.models import Account, ApiToken, PortalSession, SignInFailure, utcnow
from schemas.standards import EventType, Role

_TOKEN = re.compile(r"^(ysr_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$")
# Touching last_used_at on every request would turn each read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def create(session: Session, data: dict[str, Any], *, actor: Account | None) -> Account:
    """Create an account; a maker account belongs to an admitted maker, a shop account
    to an admitted shop.

    Raises Conflict for an e-mail already in use, NotFound for an unknown maker or shop.
    """
    email = data["email"].strip().lower()
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict(f"An account for {email} already exists.", errors={"email": ["Taken."]})
    try:
        maker = makers.get(session, data["maker"]) if data.get("maker") else None
    except NotFound as exc:
        raise NotFound(exc.detail, errors={"maker": ["No admitted maker has this slug."]}) from exc
    try:
        shop = shops.get(session, data["shop"]) if data.get("shop") else None
    except NotFound as exc:
        raise NotFound(exc.detail, errors={"shop": ["No admitted shop has this slug."]}) from exc
    account = Account(
        email=email,
        role=data["role"],
        maker=maker,
        shop=shop,
        display_name=data.get("display_name"),
    )
    session.add(account)
    ledger.append(
        session,
        EventType.ACCOUNT_CREATED,
        actor=actor,
        maker=maker,
        data={
            "account": ledger.commitment(session, email),
            "role": account.role,
            # A shop's account names its shop (a maker's names its maker as the subject).
            **({"shop": shop.slug} if shop else {}),
        },
    )
    return account


def set_password(
    session: Session,
    account: Account,
    password: str,
    *,
    actor: Account | None,
    must_change: bool | None = None,
    keep_session: PortalSession | None = None,
) -> int:
    """Give `account` a new password. Set by anyone but its owner (the brand office's
    first or reset password), it must be changed at the next sign-in unless `must_change`
    says otherwise. The caller commits.

    Whoever knew the old password may have signed in with it, and minted tokens there:
    every portal session but `keep_session` ends, and every token minted from a portal
    session is revoked. Returns how many tokens were revoked.
    """
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
    end_sessions(session, account, keep=keep_session)
    return _revoke_live_tokens(session, account, actor=actor, minted_in_portal=True)


def deactivate(session: Session, account: Account, *, actor: Account | None) -> int:
    """Deactivate `account`: it can no longer sign in or use a token, every portal session
    of it ends and every token of it is revoked (reactivation revives none of them).
    Returns how many tokens were revoked. The caller commits.

    Raises Conflict for the actor's own account (the office would lock itself out) or an
    account already deactivated."""
    if actor is not None and account.id == actor.id:
        raise Conflict("You cannot deactivate your own account; another admin can.")
    if account.deactivated_at is not None:
        raise Conflict(f"The account {account.email} is already deactivated.")
    account.deactivated_at = utcnow()
    _log_activation(session, account, EventType.ACCOUNT_DEACTIVATED, actor)
    end_sessions(session, account, keep=None)
    return _revoke_live_tokens(session, account, actor=actor, minted_in_portal=False)


def reactivate(session: Session, account: Account, *, actor: Account | None) -> Account:
    """Let a deactivated account sign in again, with the password it had; its old sessions
    and tokens stay ended. Raises Conflict when it is not deactivated. The caller commits."""
    if account.deactivated_at is None:
        raise Conflict(f"The account {account.email} is active.")
    account.deactivated_at = None
    _log_activation(session, account, EventType.ACCOUNT_REACTIVATED, actor)
    return account


def _log_activation(
    session: Session, account: Account, action: EventType, actor: Account | None
) -> None:
    data = {"account": ledger.commitment(session, account.email)}
    ledger.append(session, action, actor=actor, maker=account.maker, data=data)


def temporary_password() -> str:
    """A first or reset password for the brand office to hand over (72 random bits)."""
    return "-".join(secrets.token_hex(3) for _ in range(3))


def sign_in(session: Session, email: str, password: str) -> Account:
    """The account these credentials open. Reads only.

    Raises Unauthorized, with the same message whether the e-mail or the password is
    wrong, and after the same work: an unknown e-mail costs a hash check too. Raises
    Forbidden for the right password of a deactivated account.
    """
    account = session.scalar(select(Account).where(Account.email == email.strip().lower()))
    stored = account.password_hash if account is not None else None
    try:
        _hasher().verify(stored or _decoy(), password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        stored = None
    if account is None or stored is None:
        raise Unauthorized("Wrong e-mail address or password.")
    if account.deactivated_at is not None:
        # Told only to whoever knows the password: no one else learns of the account.
        raise Forbidden("This account is deactivated. Ask the brand office.")
    return account


def change_password(
    session: Session,
    account: Account,
    current: str,
    new: str,
    *,
    keep_session: PortalSession | None = None,
) -> int:
    """The owner's own change, from the portal session `keep_session` (which goes on).
    Raises InvalidInput naming `current` when it is wrong, or `new` when it is the same
    as the current one. Returns how many tokens were revoked (`set_password`). The
    caller commits."""
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
    return set_password(session, account, new, actor=account, keep_session=keep_session)


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
    session: Session,
    account: Account,
    *,
    name: str | None,
    actor: Account | None,
    portal_session: PortalSession | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `account`; returns the row and the secret, shown only this once.
    A token minted in the portal records its `portal_session`: a password change
    revokes it. Raises Conflict for a deactivated account."""
    if account.deactivated_at is not None:
        raise Conflict(f"The account {account.email} is deactivated: reactivate it first.")
    prefix = "ysr_" + "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        for _ in range(8)
    )
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        account=account,
        prefix=prefix,
        secret_hash=_hash(secret),
        name=name,
        session_id=portal_session.id if portal_session is not None else None,
    )
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
    _revoke(session, token, actor=actor)
    return token


def _revoke(session: Session, token: ApiToken, *, actor: Account | None) -> None:
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


def _revoke_live_tokens(
    session: Session, account: Account, *, actor: Account | None, minted_in_portal: bool
) -> int:
    """Revoke the account's live tokens (only those minted from a portal session where
    `minted_in_portal`); how many."""
    query = select(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    if minted_in_portal:
        query = query.where(ApiToken.session_id.is_not(None))
    tokens = session.scalars(query).all()
    for token in tokens:
        _revoke(session, token, actor=actor)
    return len(tokens)


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
    if token.account.deactivated_at is not None:
        # Deactivation revoked the token; this holds even if a row was revived by hand.
        raise InvalidToken("This token's account is deactivated.")
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


# Portal sessions.

#: How long the client an account signed in from is spared the cap per account.
_KNOWN_CLIENT_DAYS = 30


def start_session(
    session: Session,
    account: Account,
    *,
    hours: float,
    client: str | None,
    user_agent: str | None,
) -> tuple[PortalSession, str]:
    """A new portal session for `account`, lasting `hours`; returns the row and the
    random id the browser keeps (its SHA-256 is all the database holds). The caller
    commits."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = PortalSession(
        account_id=account.id,
        secret_hash=_hash(secret),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=hours),
        client=(client or None) and client[:64],
        user_agent=(user_agent or None) and user_agent[:300],
    )
    session.add(row)
    return row, secret


def open_session(session: Session, secret: str) -> PortalSession | None:
    """The live session whose random id is `secret`: None once it is ended or expired,
    or when there is no such session. Reads only."""
    row = session.scalar(select(PortalSession).where(PortalSession.secret_hash == _hash(secret)))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    if row.account.deactivated_at is not None:
        return None
    return row


def sessions_of(session: Session, account: Account) -> list[PortalSession]:
    """The account's live sessions, the most recently seen first."""
    return list(
        session.scalars(
            select(PortalSession)
            .where(
                PortalSession.account_id == account.id,
                PortalSession.ended_at.is_(None),
                PortalSession.expires_at > utcnow(),
            )
            .order_by(PortalSession.last_seen_at.desc(), PortalSession.id.desc())
        )
    )


def end_session(session: Session, row: PortalSession) -> None:
    """End a session (sign-out): its id is never accepted again. The caller commits."""
    if row.ended_at is None:
        row.ended_at = utcnow()


def end_own_session(session: Session, account: Account, session_id: int) -> PortalSession:
    """End one of `account`'s sessions, from its account page. Raises NotFound for a
    session that is not its own (no probing of others' sessions)."""
    row = session.get(PortalSession, session_id)
    if row is None or row.account_id != account.id:
        raise NotFound(f"No session {session_id} of yours.")
    end_session(session, row)
    return row


def end_sessions(session: Session, account: Account, *, keep: PortalSession | None) -> None:
    """End every session of `account` but `keep`."""
    statement = update(PortalSession).where(
        PortalSession.account_id == account.id, PortalSession.ended_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(PortalSession.id != keep.id)
    session.execute(
        statement.values(ended_at=utcnow()), execution_options={"synchronize_session": False}
    )


# Limits on failed sign-ins.


@dataclass(frozen=True)
class SignInLimits:
    """How many failures are allowed, each as (failures, within seconds)."""

    #: Per account and client together: what a stranger's guesses use up.
    account_client: tuple[int, int]
    #: Per client, whatever accounts it tries.
    client: tuple[int, int]
    #: Per account, from clients it did not sign in from lately: the cap.
    account: tuple[int, int]
    #: After this many failures of the account (within the cap's window), a client that
    #: failed waits 2, 4, 8 … seconds after its own last failure,
    delay_after: int
    #: … at most this long.
    delay_max: int

    @property
    def kept_for(self) -> timedelta:
        """How long a failure is kept: the longest window."""
        return timedelta(seconds=max(self.account_client[1], self.client[1], self.account[1]))


def account_key(email: str) -> str:
    """Who sign-in failures are counted against: the e-mail address tried, known or not,
    as a fingerprint."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def sign_in_wait(
    session: Session,
    email: str,
    client: str,
    limits: SignInLimits,
    *,
    now: datetime | None = None,
) -> float | None:
    """Seconds before `client` may try to sign in as `email` again, or None. Reads only.
    Only failures count (`sign_in_failed`)."""
    now = now or utcnow()
    key = account_key(email)
    rows = session.execute(
        select(SignInFailure.account_key, SignInFailure.client, SignInFailure.failed_at).where(
            or_(SignInFailure.account_key == key, SignInFailure.client == client),
            SignInFailure.failed_at > now - limits.kept_for,
        )
    ).all()
    of_account = [at for k, _c, at in rows if k == key]
    of_pair = [at for k, c, at in rows if k == key and c == client]
    of_client = [at for _k, c, at in rows if c == client]
    waits = [
        _window_wait(of_pair, limits.account_client, now),
        _window_wait(of_client, limits.client, now),
    ]
    cap = _window_wait(of_account, limits.account, now)
    if cap is not None and not _signed_in_from(session, email, client, now):
        waits.append(cap)
    recent = sum(at > now - timedelta(seconds=limits.account[1]) for at in of_account)
    if of_pair and recent >= limits.delay_after:
        delay = min(2 ** (recent - limits.delay_after + 1), limits.delay_max)
        waited = (now - max(of_pair)).total_seconds()
        if waited < delay:
            waits.append(delay - waited)
    found = [wait for wait in waits if wait is not None]
    return max(1, math.ceil(max(found))) if found else None


def sign_in_failed(
    session: Session, email: str, client: str, limits: SignInLimits, *, now: datetime | None = None
) -> None:
    """Count a failed sign-in (or a wrong current password) of `client` as `email`, and
    forget failures older than any window. The caller commits, in a short write."""
    now = now or utcnow()
    session.execute(delete(SignInFailure).where(SignInFailure.failed_at <= now - limits.kept_for))
    session.add(SignInFailure(account_key=account_key(email), client=client[:64], failed_at=now))


def _window_wait(times: list[datetime], limit: tuple[int, int], now: datetime) -> float | None:
    """Seconds until fewer than `limit`'s failures lie within its window, or None."""
    allowed, seconds = limit
    window = sorted(at for at in times if at > now - timedelta(seconds=seconds))
    if len(window) < allowed:
        return None
    freed = window[-allowed] + timedelta(seconds=seconds)
    return (freed - now).total_seconds()


def _signed_in_from(session: Session, email: str, client: str, now: datetime) -> bool:
    """Whether the account of `email` signed in from `client` lately."""
    since = now - timedelta(days=_KNOWN_CLIENT_DAYS)
    found = session.scalar(
        select(PortalSession.id)
        .join(Account, Account.id == PortalSession.account_id)
        .where(
            Account.email == email.strip().lower(),
            PortalSession.client == client,
            PortalSession.created_at > since,
        )
        .limit(1)
    )
    return found is not None
