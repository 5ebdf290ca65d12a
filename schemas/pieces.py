"""Pieces of jewellery as makers register them."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import MAX_ID, SLUG, Quantity, Timestamp, Untrimmed, identifier, text
from schemas.standards import FINENESSES, Kind, Metal, PieceStatus, is_legal_fineness
from schemas.standards import Stone as StoneType

UIN = validate.Regexp(r"^[0-9]{16}\Z", error="The state UIN is exactly 16 digits.")


class Stone(Schema):
    type = text(
        32,
        validate=[validate.OneOf(tuple(StoneType))],
        metadata={"description": "From the vocabulary; `other` with a `name`"},
    )
    name = text(
        64,
        required=False,
        metadata={"description": "The stone's name, for `other` only (free text)"},
    )
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10_000))
    carat = Quantity(
        required=True,
        places=3,
        maximum=Decimal("10000"),
        metadata={"description": "Total carat weight of these stones"},
    )

    @validates_schema
    def _named_only_if_other(self, data, **kwargs):
        """Free text only where the vocabulary has no word: a diamond is always called
        so, in both languages."""
        named = bool(data.get("name"))
        if data.get("type") == StoneType.OTHER and not named:
            raise ValidationError("Name the stone: its type is other.", "name")
        if data.get("type") not in (None, StoneType.OTHER) and named:
            raise ValidationError("A name is given only to a stone of type other.", "name")


#: Every fineness legal for some metal: the values the OpenAPI document lists.
ANY_LEGAL_FINENESS = sorted({fineness for legal in FINENESSES.values() for fineness in legal})


def legal_fineness(data: dict) -> None:
    """Refuse a fineness that is not a legal standard for the metal, naming both."""
    metal, fineness = data.get("metal"), data.get("fineness")
    if metal in FINENESSES and fineness is not None and not is_legal_fineness(metal, fineness):
        allowed = ", ".join(str(f) for f in FINENESSES[metal])
        raise ValidationError(
            f"{fineness} is not a legal fineness for {metal}; allowed: {allowed}.", "fineness"
        )


def fineness_field(description: str) -> fields.Integer:
    """A fineness; the document lists every legal one, `legal_fineness` pairs it with the metal."""
    return fields.Integer(
        required=True,
        strict=True,
        metadata={"description": description, "enum": ANY_LEGAL_FINENESS},
    )


class PieceIn(Schema):
    reference = identifier(
        64, metadata={"description": "The maker's own reference, unique per maker"}
    )
    kind = fields.String(required=True, validate=validate.OneOf(tuple(Kind)))
    title = text(200)
    description = text(4000, required=False, multiline=True)
    metal = fields.String(required=True, validate=validate.OneOf(tuple(Metal)))
    fineness = fineness_field("Declared fineness; legal values depend on the metal")
    weight_g = Quantity(
        required=True, places=2, maximum=Decimal("100000"), metadata={"description": "Grams"}
    )
    stones = fields.List(fields.Nested(Stone), load_default=list, validate=validate.Length(max=50))
    uin = Untrimmed(
        allow_none=True,
        validate=UIN,
        metadata={"description": "16-digit state UIN (GIIS DMDK), where the piece has one"},
    )

    @validates_schema
    def _fineness(self, data, **kwargs):
        legal_fineness(data)


#: Where the API serves photos, by the SHA-256 of their JPEG.
PHOTOS_PATH = "/api/v1/photos"


class PhotoPath(fields.String):
    """The path of a photo (or its thumbnail) under PHOTOS_PATH, from its SHA-256."""

    def __init__(self, suffix: str, **kwargs):
        super().__init__(attribute="sha256", dump_only=True, **kwargs)
        self.suffix = suffix

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{PHOTOS_PATH}/{value}{self.suffix}"


class PhotoOut(Schema):
    """A piece's photo as stored: a JPEG without metadata, named by its SHA-256."""

    sha256 = fields.String(
        required=True,
        metadata={"description": "SHA-256 (hex) of the JPEG served at `url`; certificates sign it"},
    )
    media_type = fields.String(required=True, metadata={"description": "Always image/jpeg"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    url = PhotoPath(".jpg", required=True, metadata={"description": "The photo (a path)"})
    thumb_url = PhotoPath(
        "/thumb.jpg", required=True, metadata={"description": "Its thumbnail (a path)"}
    )


class PieceOut(Schema):
    id = fields.Integer(required=True)
    maker = fields.String(required=True, attribute="maker.slug")
    reference = fields.String(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    metal = fields.String(required=True)
    fineness = fields.Integer(required=True)
    weight_g = Quantity(required=True, places=2, maximum=Decimal("100000"))
    stones = fields.List(fields.Nested(Stone), required=True)
    uin = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(tuple(PieceStatus)))
    registered_at = Timestamp(required=True)
    certificate = fields.String(
        allow_none=True,
        required=True,
        attribute="current_certificate_code",
        metadata={"description": "Code of the piece's current certificate"},
    )
    photo = fields.Nested(PhotoOut, allow_none=True, required=True)


class PieceListArgs(Schema):
    status = fields.String(validate=validate.OneOf(tuple(PieceStatus)))
    maker = fields.String(validate=[validate.Length(min=1, max=64), validate.Regexp(SLUG)])
    after = fields.Integer(
        strict=False,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "Cursor: the last id of the previous page"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PieceList(Schema):
    items = fields.List(fields.Nested(PieceOut), required=True)
    next_after = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Cursor of the next page"}
    )


class ImportRow(Schema):
    row = fields.Integer(required=True, metadata={"description": "Line of the CSV, or index + 1"})
    reference = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(("created", "rejected")))
    piece_id = fields.Integer(allow_none=True, required=True)
    errors = fields.Dict(keys=fields.String(), required=True)


class ImportReport(Schema):
    created = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    rows = fields.List(fields.Nested(ImportRow), required=True)
