"""Certificates: the signed payload, and what the API says about a certificate."""

from decimal import Decimal

from marshmallow import Schema, fields, validate

from schemas.common import Quantity, Timestamp, Untrimmed, text
from schemas.makers import LocalisedName, RegionOut
from schemas.pieces import UIN, Stone
from schemas.standards import CertificateStatus, RevocationReason

#: 2: the piece's photo (its SHA-256) is signed with the rest.
#: 3: the inspectorate is named in Russian and English ({"ru", "en"}, was one string);
#: a stone's type is from the vocabulary (schemas.standards.Stone), with a `name` for
#: `other` only (was free text).
SCHEMA_VERSION = 3


class Issuer(Schema):
    name = fields.String(required=True)
    url = fields.String(required=True)


class PayloadPhoto(Schema):
    sha256 = fields.String(
        required=True, metadata={"description": "SHA-256 (hex) of the photo as served"}
    )
    media_type = fields.String(required=True)


class PayloadPiece(Schema):
    reference = fields.String(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    metal = fields.String(required=True)
    fineness = fields.Integer(required=True)
    weight_g = Quantity(required=True, places=2, maximum=Decimal("100000"))
    stones = fields.List(fields.Nested(Stone), required=True)
    uin = fields.String(allow_none=True, required=True)
    photo = fields.Nested(PayloadPhoto, allow_none=True, required=True)


class PayloadMaker(Schema):
    slug = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)
    mark = fields.String(required=True)
    city = fields.String(required=True)


class PayloadAssay(Schema):
    result = fields.String(required=True)
    metal = fields.String(required=True)
    fineness = fields.Integer(required=True)
    mark = fields.String(required=True, attribute="assay_mark")
    inspectorate = fields.Nested(LocalisedName, required=True)
    attested_at = Timestamp(required=True)


class CertificatePayload(Schema):
    """The statement the registry signs. Its RFC 8785 bytes are stored and never rebuilt."""

    schema_version = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "Printed form, e.g. YS-…"})
    issued_at = Timestamp(required=True)
    issuer = fields.Nested(Issuer, required=True)
    brand = fields.String(required=True)
    piece = fields.Nested(PayloadPiece, required=True)
    maker = fields.Nested(PayloadMaker, required=True)
    region = fields.Nested(RegionOut, required=True)
    assay = fields.Nested(PayloadAssay, required=True)
    supersedes = fields.String(
        allow_none=True, required=True, metadata={"description": "Code this one replaces"}
    )


class Revocation(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(tuple(RevocationReason)))
    note = fields.String(allow_none=True, required=True)
    revoked_at = Timestamp(required=True)


class CertificateOut(Schema):
    code = fields.String(required=True, metadata={"description": "Canonical code, no dashes"})
    printed_code = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(tuple(CertificateStatus)))
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint of the key"})
    issued_at = Timestamp(required=True)
    payload = fields.Dict(
        required=True,
        attribute="payload_json",
        metadata={"description": "The signed payload, parsed from the stored bytes"},
    )
    jws = fields.String(required=True, metadata={"description": "JWS compact serialisation"})
    revocation = fields.Nested(Revocation, allow_none=True, required=True)
    supersedes = fields.String(allow_none=True, required=True, attribute="supersedes_code")
    superseded_by = fields.String(allow_none=True, required=True, attribute="superseded_by_code")


class RevokeIn(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(tuple(RevocationReason)))
    note = text(
        1000,
        multiline=True,
        metadata={"description": "What happened, for the public page and the audit"},
    )


class ReissueIn(Schema):
    """Corrections to a certified piece; a new certificate supersedes the old one."""

    title = text(200, required=False)
    description = text(4000, required=False, multiline=True)
    weight_g = Quantity(places=2, maximum=Decimal("100000"))
    stones = fields.List(fields.Nested(Stone), validate=validate.Length(max=50))
    uin = Untrimmed(allow_none=True, validate=UIN)
    note = text(1000, multiline=True, metadata={"description": "Why the certificate is reissued"})
