"""Owners of sold pieces: claiming with the slip's code, the owner key's actions, and the
brand office's reset. Owner keys and claim codes are secrets: they travel in bodies only."""

from marshmallow import Schema, fields, validate

from schemas.common import Timestamp, text
from schemas.standards import OwnerReport

# Generous bounds: the services read the codes and keys leniently and say what is wrong.
_CLAIM_CODE = validate.Length(min=1, max=64)
_OWNER_KEY = validate.Length(min=1, max=100)


class ClaimIn(Schema):
    claim_code = fields.String(
        required=True,
        validate=_CLAIM_CODE,
        metadata={"description": "The code on the sale slip: XXXX-XXXX-XXXX-XXX-XXX"},
    )


class OwnerKeyIn(Schema):
    owner_key = fields.String(
        required=True,
        validate=_OWNER_KEY,
        metadata={"description": "The private owner key given when the piece was claimed"},
    )


class ReportIn(OwnerKeyIn):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(tuple(OwnerReport)),
        metadata={"description": "stolen or lost reports the piece; found withdraws it"},
    )


class ResetIn(Schema):
    code = text(
        64, metadata={"description": "The code of any certificate of the piece, old or new"}
    )
    note = text(
        1000,
        multiline=True,
        metadata={"description": "The evidence the reset rests on (the log keeps a hash)"},
    )


class OwnershipOut(Schema):
    """The owner's view of the piece: nothing here is personal, and none of it public but
    what a scan already shows."""

    certificate = fields.String(
        required=True, metadata={"description": "The printed code of the piece's certificate"}
    )
    since = Timestamp(required=True, metadata={"description": "When this ownership began"})
    report = fields.String(
        required=True, allow_none=True, metadata={"description": "stolen, lost, or null"}
    )
    reported_at = Timestamp(required=True, allow_none=True)


class ClaimedOut(OwnershipOut):
    owner_key = fields.String(
        required=True,
        metadata={"description": "The private owner key: shown this once and never again"},
    )


class ClaimCodeOut(Schema):
    claim_code = fields.String(
        required=True,
        metadata={"description": "A one-time claim code, printed XXXX-XXXX-XXXX-XXX-XXX"},
    )
    claim_url = fields.String(
        required=True, metadata={"description": "The address where it is claimed"}
    )
