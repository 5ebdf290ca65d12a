"""Makers admitted to the brand."""

from marshmallow import Schema, fields, validate

from schemas.common import SLUG, Timestamp, Untrimmed, identifier, text
from schemas.standards import REGIONS

# Stamped in metal: letters and digits, perhaps spaced. Upper-casing never lengthens these.
MARK = r"^[0-9A-Za-zА-ЯЁа-яё][0-9A-Za-zА-ЯЁа-яё .\-]*\Z"


class LocalisedName(Schema):
    ru = fields.String(required=True)
    en = fields.String(required=True)


class RegionOut(Schema):
    code = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)


class MakerIn(Schema):
    """What the brand office states when it admits a maker."""

    slug = Untrimmed(
        validate=[validate.Length(min=2, max=64), validate.Regexp(SLUG)],
        metadata={"description": "URL name; made from name_en when absent"},
    )
    name_ru = text(200)
    name_en = text(200)
    region = fields.String(
        required=True,
        validate=validate.OneOf(list(REGIONS)),
        metadata={"description": "ISO 3166-2 code of one of the brand's regions"},
    )
    city = text(100)
    mark = identifier(
        32,
        validate=[
            validate.Regexp(
                MARK, error="Letters (Cyrillic or Latin), digits, spaces, dots and dashes."
            )
        ],
        metadata={"description": "The maker's mark (imennik) registered with assay supervision"},
    )


class MakerOut(Schema):
    slug = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)
    region = fields.Nested(RegionOut, required=True, attribute="region_out")
    city = fields.String(required=True)
    mark = fields.String(required=True)
    admitted_at = Timestamp(required=True)


class MakerList(Schema):
    items = fields.List(fields.Nested(MakerOut), required=True)


class MakerListArgs(Schema):
    region = fields.String(validate=validate.OneOf(list(REGIONS)))
