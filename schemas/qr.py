"""The size of a certificate's QR image, as the query string asks for it."""

from marshmallow import Schema, fields, validate

#: The quiet zone that ISO/IEC 18004 asks for is 4 modules; a scanner may fail with less.
MIN_BORDER = 4


class QrArgs(Schema):
    scale = fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=40),
        metadata={"description": "Pixels per module (PNG); CSS pixels per module (SVG)"},
    )
    border = fields.Integer(
        load_default=MIN_BORDER,
        validate=validate.Range(min=MIN_BORDER, max=16),
        metadata={"description": "Quiet zone around the code, in modules"},
    )
