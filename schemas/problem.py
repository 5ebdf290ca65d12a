"""RFC 9457 problem details: the one shape of every error response."""

from marshmallow import Schema, fields


class ProblemSchema(Schema):
    type = fields.String(
        required=True, metadata={"description": "URI reference naming the problem"}
    )
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Per-field messages on validation failures"},
    )
