"""The inspectors' audit of the log: which events, and how they are answered."""

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import MAX_ID, SLUG
from schemas.standards import SYSTEM_ROLE, EventType, Role

# Times the database can hold whatever their zone: year 1 or 9999 overflows once in UTC.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class AuditArgs(Schema):
    """Filters, all optional and combined with AND; events come in log order."""

    maker = fields.String(
        validate=[validate.Length(min=1, max=64), validate.Regexp(SLUG)],
        metadata={"description": "The maker's slug"},
    )
    piece = fields.Integer(
        strict=False,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "A piece's id: its whole history, in order"},
    )
    certificate = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A certificate's code, as printed or typed"},
    )
    type = fields.List(
        fields.String(validate=validate.OneOf(tuple(EventType))),
        metadata={"description": "Event types (repeat the parameter for several)"},
    )
    actor = fields.Integer(
        strict=False,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The id of the account that acted"},
    )
    actor_role = fields.String(
        validate=validate.OneOf((*Role, SYSTEM_ROLE)),
        metadata={"description": "The role that acted"},
    )
    since = fields.AwareDateTime(
        default_timezone=None,
        validate=validate.Range(min=_EARLIEST, max=_LATEST),
        metadata={"description": "From this time on (ISO 8601 with a time zone)"},
    )
    until = fields.AwareDateTime(
        default_timezone=None,
        validate=validate.Range(min=_EARLIEST, max=_LATEST),
        metadata={"description": "Before this time (ISO 8601 with a time zone)"},
    )

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("Must be later than since.", field_name="until")


class AuditPageArgs(AuditArgs):
    after = fields.Integer(
        strict=False,
        validate=validate.Range(min=0, max=2**53),
        metadata={"description": "Cursor: the last index of the previous page"},
    )
    limit = fields.Integer(strict=False, load_default=100, validate=validate.Range(min=1, max=1000))


class AuditActor(Schema):
    role = fields.String(required=True)
    id = fields.Integer(metadata={"description": "Absent for the system"})


class AuditEvent(Schema):
    index = fields.Integer(required=True, metadata={"description": "Index in the log"})
    action = fields.String(required=True, validate=validate.OneOf(tuple(EventType)))
    at = fields.String(required=True, metadata={"description": "When, UTC (ISO 8601)"})
    actor = fields.Nested(AuditActor, required=True)
    maker = fields.String(allow_none=True, required=True)
    piece = fields.Integer(allow_none=True, required=True)
    certificate = fields.String(allow_none=True, required=True)
    data = fields.Dict(required=True, metadata={"description": "What the event recorded"})


class AuditPage(Schema):
    events = fields.List(fields.Nested(AuditEvent), required=True)
    next_after = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Cursor of the next page"}
    )
