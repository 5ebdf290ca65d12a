"""Accounts and their API tokens."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import SLUG, EmailAddress, Timestamp, Untrimmed, identifier, text
from schemas.standards import Role


class AccountIn(Schema):
    email = EmailAddress(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(tuple(Role)))
    maker = Untrimmed(
        validate=[validate.Length(min=1, max=64), validate.Regexp(SLUG)],
        metadata={"description": "Slug of the maker the account works for; makers only"},
    )
    shop = Untrimmed(
        validate=[validate.Length(min=1, max=64), validate.Regexp(SLUG)],
        metadata={"description": "Slug of the shop the account works for; shops only"},
    )
    display_name = text(200, required=False)

    @validates_schema
    def _maker_for_makers_only(self, data, **kwargs):
        if data.get("role") == "maker" and not data.get("maker"):
            raise ValidationError("A maker account needs the maker's slug.", "maker")
        if data.get("role") in ("inspector", "admin", "shop") and data.get("maker"):
            raise ValidationError("Only maker accounts belong to a maker.", "maker")

    @validates_schema
    def _shop_for_shops_only(self, data, **kwargs):
        if data.get("role") == "shop" and not data.get("shop"):
            raise ValidationError("A shop account needs the shop's slug.", "shop")
        if data.get("role") != "shop" and data.get("shop"):
            raise ValidationError("Only shop accounts belong to a shop.", "shop")


class AccountOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    maker = fields.String(allow_none=True, required=True, attribute="maker_slug")
    shop = fields.Function(
        lambda account: account.shop.slug if account.shop else None,
        allow_none=True,
        required=True,
        metadata={"type": "string"},
    )
    display_name = fields.String(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    deactivated_at = Timestamp(
        allow_none=True,
        required=True,
        metadata={"description": "Set while the account is deactivated"},
    )


class AccountList(Schema):
    items = fields.List(fields.Nested(AccountOut), required=True)


class TokenIn(Schema):
    name = identifier(100, required=False, metadata={"description": "What the token is for"})


class TokenOut(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    prefix = fields.String(required=True, metadata={"description": "Visible start of the token"})
    name = fields.String(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    last_used_at = Timestamp(allow_none=True, required=True)
    revoked_at = Timestamp(allow_none=True, required=True)


class NewTokenOut(TokenOut):
    token = fields.String(
        required=True, metadata={"description": "The secret; shown this once and never again"}
    )


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut), required=True)


class SignInIn(Schema):
    """The portal's sign-in form."""

    email = identifier(254)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


#: NIST SP 800-63B §3.1.1.2: length is what makes a password strong; no composition rules.
PASSWORD_MIN = 10


class PasswordChangeIn(Schema):
    """The portal's change-password form: the current one, and the new one twice."""

    current = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new = fields.String(required=True, validate=validate.Length(min=PASSWORD_MIN, max=1024))
    repeat = fields.String(required=True, validate=validate.Length(max=1024))

    @validates_schema
    def _repeated(self, data, **kwargs):
        if "new" in data and data.get("repeat") != data["new"]:
            raise ValidationError("Does not match the new password.", "repeat")
