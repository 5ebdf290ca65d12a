"""Accounts and API tokens: the brand office creates them; anyone manages their own tokens."""

from typing import Any

from flask import g
from flask_smorest import Blueprint

from registry import accounts
from registry.api.common import guarded, json_body
from registry.edge import database
from registry.models import Account
from schemas.accounts import (
    AccountIn,
    AccountList,
    AccountOut,
    NewTokenOut,
    TokenIn,
    TokenList,
    TokenOut,
)
from schemas.standards import Role

bp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")

ANYONE = tuple(Role)


def _new_token(account: Account, name: str | None) -> dict[str, Any]:
    """The new token as NewTokenOut shows it: its row, and its secret, which is never
    stored (only its hash is)."""
    token, secret = accounts.issue_token(database.session(), account, name=name, actor=g.actor)
    database.session().commit()
    return {field: getattr(token, field) for field in TokenOut().fields} | {"token": secret}


@bp.post("/accounts")
@guarded(bp, Role.ADMIN)
@json_body(bp, AccountIn)
@bp.response(201, AccountOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def create(data):
    """Create an account for a maker's staff, an inspector or the brand office."""
    account = accounts.create(database.session(), data, actor=g.actor)
    database.session().commit()
    return account


@bp.get("/accounts")
@guarded(bp, Role.ADMIN)
@bp.response(200, AccountList)
def listing():
    """Every account."""
    return {"items": accounts.listing(database.session())}


@bp.post("/accounts/<id:account_id>/deactivate")
@guarded(bp, Role.ADMIN)
@bp.response(200, AccountOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def deactivate(account_id):
    """Deactivate an account: its sessions end, its tokens are revoked, and it cannot sign
    in until reactivated."""
    account = accounts.get(database.session(), account_id)
    accounts.deactivate(database.session(), account, actor=g.actor)
    database.session().commit()
    return account


@bp.post("/accounts/<id:account_id>/reactivate")
@guarded(bp, Role.ADMIN)
@bp.response(200, AccountOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def reactivate(account_id):
    """Let a deactivated account sign in again; its old sessions and tokens stay ended."""
    account = accounts.get(database.session(), account_id)
    accounts.reactivate(database.session(), account, actor=g.actor)
    database.session().commit()
    return account


@bp.post("/accounts/<id:account_id>/tokens")
@guarded(bp, Role.ADMIN)
@json_body(bp, TokenIn)
@bp.response(201, NewTokenOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def issue_for(data, account_id):
    """Create an API token for an account; the secret is in this response only."""
    return _new_token(accounts.get(database.session(), account_id), data.get("name"))


@bp.get("/accounts/<id:account_id>/tokens")
@guarded(bp, Role.ADMIN)
@bp.response(200, TokenList)
@bp.alt_response(404, response="NOT_FOUND")
def tokens_for(account_id):
    """An account's tokens (never their secrets)."""
    return {
        "items": accounts.tokens_of(
            database.session(), accounts.get(database.session(), account_id)
        )
    }


@bp.get("/tokens")
@guarded(bp, *ANYONE)
@bp.response(200, TokenList)
def own_tokens():
    """Your own tokens (never their secrets)."""
    return {"items": accounts.tokens_of(database.session(), g.actor)}


@bp.post("/tokens")
@guarded(bp, *ANYONE)
@json_body(bp, TokenIn)
@bp.response(201, NewTokenOut)
def issue_own(data):
    """Create another token for yourself; the secret is in this response only."""
    return _new_token(g.actor, data.get("name"))


@bp.post("/tokens/<id:token_id>/revoke")
@guarded(bp, *ANYONE)
@bp.response(200, TokenOut)
@bp.alt_response(404, response="NOT_FOUND")
def revoke(token_id):
    """Revoke a token: your own, or any as the brand office. It stops working at once."""
    token = accounts.revoke_token(database.session(), token_id, actor=g.actor)
    database.session().commit()
    return token
