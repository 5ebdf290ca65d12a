"""Shops (points of sale) admitted to the brand."""

from marshmallow import Schema, fields, validate

from schemas.common import SLUG, Timestamp, Untrimmed, text
from schemas.makers import LocalisedName, RegionOut
from schemas.standards import REGIONS, ShopKind


class ShopIn(Schema):
    """What the brand office states when it admits a shop."""

    slug = Untrimmed(
        required=True,
        validate=[validate.Length(min=2, max=64), validate.Regexp(SLUG)],
        metadata={"description": "URL name: lower-case Latin letters, digits and dashes"},
    )
    name_ru = text(200)
    name_en = text(200)
    kind = fields.String(required=True, validate=validate.OneOf(tuple(ShopKind)))
    region = fields.String(
        required=True,
        validate=validate.OneOf(list(REGIONS)),
        metadata={"description": "ISO 3166-2 code of one of the brand's regions"},
    )
    city = text(100)
    address = text(300, required=False)
    maker = Untrimmed(
        validate=[validate.Length(min=1, max=64), validate.Regexp(SLUG)],
        metadata={"description": "Slug of the maker whose own shop this is; makers_shop only"},
    )


class ShopOut(Schema):
    slug = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)
    kind = fields.String(required=True)
    region = fields.Nested(RegionOut, required=True)
    city = fields.String(required=True)
    address = fields.String(allow_none=True, required=True)
    maker = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The maker whose own shop this is, if it is one"},
    )
    admitted_at = Timestamp(required=True)


class ShopList(Schema):
    items = fields.List(fields.Nested(ShopOut), required=True)


class ShopListArgs(Schema):
    region = fields.String(validate=validate.OneOf(list(REGIONS)))
