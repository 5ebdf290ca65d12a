"""The verdict on a code, as the verify API returns it."""

from marshmallow import Schema, fields, validate

from schemas.certificates import Revocation
from schemas.common import Timestamp
from schemas.standards import AlertKind

VERDICT_STATUSES = ("valid", "revoked", "superseded", "invalid")
KEY_STATUSES = ("active", "retired", "compromised")


class SignatureOut(Schema):
    valid = fields.Boolean(
        required=True,
        metadata={
            "description": "The JWS verifies with the registry's key and signs exactly "
            "the payload, and the key was not compromised when the certificate was issued"
        },
    )
    alg = fields.String(required=True, metadata={"description": "Always EdDSA (Ed25519)"})
    kid = fields.String(required=True, metadata={"description": "RFC 7638 thumbprint"})
    key_status = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(KEY_STATUSES),
        metadata={"description": "null when the key is not one of the registry's"},
    )
    problem = fields.String(allow_none=True, required=True)


class VerdictLinks(Schema):
    page = fields.String(required=True, metadata={"description": "The verification page"})
    certificate = fields.String(required=True)
    jwks = fields.String(required=True)
    qr_png = fields.String(required=True)
    qr_svg = fields.String(required=True)


class VerdictInclusion(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "The checkpoint's"})
    root_hash = fields.String(required=True, metadata={"description": "base64"})
    proof = fields.List(
        fields.String(), required=True, metadata={"description": "RFC 9162 audit path, base64"}
    )
    checkpoint = fields.String(
        required=True, metadata={"description": "The newest signed checkpoint (C2SP note)"}
    )


class VerdictLog(Schema):
    index = fields.Integer(required=True, metadata={"description": "Index of the issue's entry"})
    entry = fields.Dict(
        required=True,
        metadata={"description": "The entry as logged: SHA-256(0x00 || entry) is its leaf"},
    )
    inclusion = fields.Nested(
        VerdictInclusion,
        allow_none=True,
        required=True,
        metadata={"description": "null until a checkpoint covers the entry"},
    )


class SaleShop(Schema):
    name = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "ru, en"},
    )
    city = fields.String(required=True)
    region = fields.String(required=True, metadata={"description": "ISO 3166-2"})


class VerdictSale(Schema):
    sold_at = Timestamp(required=True)
    shop = fields.Nested(
        SaleShop, required=True, metadata={"description": "The shop, or the maker who sold it"}
    )


class VerdictOwnership(Schema):
    registered = fields.Boolean(required=True)
    since = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The month ownership was registered (YYYY-MM); nothing else"},
    )


class VerdictAlert(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([str(k) for k in AlertKind]))
    since = fields.Date(allow_none=True, required=True)


class VerdictOut(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(VERDICT_STATUSES),
        metadata={
            "description": "valid: authentic and current; revoked; superseded by a "
            "newer certificate; invalid: the signature or its key cannot be trusted"
        },
    )
    code = fields.String(required=True, metadata={"description": "Canonical code, no dashes"})
    printed_code = fields.String(required=True)
    issued_at = Timestamp(required=True)
    certificate = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "The signed payload, byte for byte as stored (RFC 8785); for an "
            "invalid certificate, what is stored, or null when that is not JSON"
        },
    )
    jws = fields.String(required=True, metadata={"description": "JWS compact serialisation"})
    signature = fields.Nested(SignatureOut, required=True)
    revocation = fields.Nested(Revocation, allow_none=True, required=True)
    superseded_by = fields.String(allow_none=True, required=True)
    current = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "For a superseded certificate: the one now in force"},
    )
    log = fields.Nested(
        VerdictLog,
        allow_none=True,
        required=True,
        metadata={"description": "Where the transparency log records the certificate's issue"},
    )
    links = fields.Nested(VerdictLinks, required=True)
    sale = fields.Nested(
        VerdictSale,
        allow_none=True,
        required=True,
        metadata={"description": "The piece's standing sale; null when unsold"},
    )
    ownership = fields.Nested(VerdictOwnership, required=True)
    alerts = fields.List(
        fields.Nested(VerdictAlert),
        required=True,
        metadata={
            "description": "reported_stolen (red: never authentic), reported_lost, and "
            "possible_copy (the code was checked from many networks); covered by the seal "
            "every scan checks, but for possible_copy, which the scan counts make"
        },
    )
