"""The published signing keys (RFC 7517 JWK Set, RFC 8037 OKP keys) with their status."""

from marshmallow import Schema, fields, validate


class JWK(Schema):
    kty = fields.String(required=True)
    crv = fields.String(required=True)
    x = fields.String(required=True)
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint"})
    alg = fields.String(required=True)
    use = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(("active", "retired", "compromised"))
    )
    created_at = fields.String(required=True)
    retired_at = fields.String()
    compromised_since = fields.String(
        metadata={"description": "Signatures made from this time on are not to be trusted"}
    )
    compromised_from_entry = fields.Integer(
        metadata={
            "description": "Nor those the transparency log recorded at this entry or later, "
            "whatever time they carry"
        }
    )


class JWKS(Schema):
    keys = fields.List(fields.Nested(JWK), required=True)
