"""Buyers' reports: what a buyer sends from a verdict page, and the queue that works
through them."""

from marshmallow import Schema, fields, validate

from schemas.common import text
from schemas.standards import ReportKind, ReportStatus

#: Sizes of what a buyer types, as the report row stores them.
WHERE_BOUGHT_MAX = 300
SELLER_MAX = 200
CITY_MAX = 100
DETAILS_MAX = 4000
CONTACT_MAX = 300
CODE_MAX = 64
NOTE_MAX = 4000


class ReportIn(Schema):
    """A buyer's report. Only what is wrong is required; the code may be anything typed
    (an unknown or mistyped code is what many reports are about)."""

    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in ReportKind]))
    code = text(CODE_MAX, required=False)
    where_bought = text(WHERE_BOUGHT_MAX, required=False)
    seller = text(SELLER_MAX, required=False)
    city = text(CITY_MAX, required=False)
    details = text(DETAILS_MAX, required=False, multiline=True)
    contact = text(CONTACT_MAX, required=False)


class ReportReceived(Schema):
    """The answer to a report: the reference to quote to the brand office."""

    reference = fields.String(required=True)


class ReportOut(Schema):
    """A report as the brand office and inspectors see it (the photo by its own link)."""

    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    code = fields.String(allow_none=True, metadata={"description": "The certificate's code"})
    typed_code = fields.String(
        allow_none=True, metadata={"description": "The code as typed, when it is no certificate's"}
    )
    where_bought = fields.String(allow_none=True)
    seller = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    details = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    has_photo = fields.Boolean(required=True)
    note = fields.String(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    others = fields.Integer(
        required=True, metadata={"description": "Other reports of the same code"}
    )


class ReportList(Schema):
    items = fields.List(fields.Nested(ReportOut), required=True)


class ReportListArgs(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in ReportStatus]))
    code = fields.String(validate=validate.Length(min=1, max=CODE_MAX))


class HandleIn(Schema):
    note = text(NOTE_MAX, multiline=True)
