"""Makers admitted to the brand."""

from marshmallow import Schema, fields, validate

from schemas.common import SLUG, EmailAddress, Timestamp, Untrimmed, identifier, text
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


#: A telephone number as people write it: digits, perhaps a leading +, spaces, brackets
#: and dashes.
PHONE = r"^\+?[0-9][0-9 ()\-]{3,38}[0-9]\Z"


class MakerDetailsIn(Schema):
    """What the brand office may change of a maker after admission: each field given is
    set, and a contact given as null is removed. The region and the maker's mark are what
    admission vouched for and cannot change."""

    name_ru = text(200, required=False)
    name_en = text(200, required=False)
    city = text(100, required=False)
    phone = identifier(
        40,
        required=False,
        allow_none=True,
        validate=[validate.Regexp(PHONE, error="Digits, with an optional +, spaces and dashes.")],
        metadata={"description": "A public telephone number for the showcase"},
    )
    email = EmailAddress(
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "A public e-mail address for the showcase"},
    )
    website = fields.Url(
        allow_none=True,
        schemes={"http", "https"},
        require_tld=True,
        validate=validate.Length(max=300),
        metadata={"description": "The maker's own website, for the showcase"},
    )


class SuspendIn(Schema):
    reason = text(
        500,
        multiline=True,
        metadata={"description": "Why; kept private (the log holds a commitment to it)"},
    )


class Contacts(Schema):
    phone = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True)
    website = fields.String(allow_none=True, required=True)


class MakerOut(Schema):
    slug = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)
    region = fields.Nested(RegionOut, required=True, attribute="region_out")
    city = fields.String(required=True)
    mark = fields.String(required=True)
    admitted_at = Timestamp(required=True)
    contacts = fields.Nested(Contacts, required=True)
    suspended_at = Timestamp(
        allow_none=True,
        required=True,
        metadata={
            "description": "Set while the brand office suspends the maker; public "
            "answers never list a suspended maker"
        },
    )


class MakerList(Schema):
    items = fields.List(fields.Nested(MakerOut), required=True)


class MakerListArgs(Schema):
    region = fields.String(validate=validate.OneOf(list(REGIONS)))
