"""Assay attestations by inspectors."""

from marshmallow import Schema, fields, validate, validates_schema

from schemas.certificates import CertificateOut
from schemas.common import MAX_ID, Timestamp, identifier, text
from schemas.pieces import fineness_field, legal_fineness
from schemas.standards import AssayResult, Metal


class AssayIn(Schema):
    result = fields.String(required=True, validate=validate.OneOf(tuple(AssayResult)))
    metal = fields.String(
        required=True,
        validate=validate.OneOf(tuple(Metal)),
        metadata={"description": "Metal found"},
    )
    fineness = fineness_field("Found; legal values depend on the metal")
    assay_mark = identifier(64, metadata={"description": "The state hallmark struck on the piece"})
    inspectorate = text(
        200,
        required=False,
        metadata={
            "description": "The assay office that tested the piece, by its Russian or English "
            "name as configured (REGISTRY_INSPECTORATES); the first configured when left out"
        },
    )
    notes = text(2000, required=False, multiline=True)

    @validates_schema
    def _fineness(self, data, **kwargs):
        legal_fineness(data)


class AssayOut(Schema):
    id = fields.Integer(required=True)
    piece_id = fields.Integer(required=True)
    result = fields.String(required=True)
    metal = fields.String(required=True)
    fineness = fields.Integer(required=True)
    assay_mark = fields.String(required=True)
    inspectorate = fields.String(required=True)
    notes = fields.String(allow_none=True, required=True)
    attested_at = Timestamp(required=True)
    certificate = fields.Nested(
        CertificateOut, allow_none=True, required=True, metadata={"description": "Issued on pass"}
    )


class AssayBatchItem(AssayIn):
    """One piece of a batch, with what was found in it: the batch's `defaults` fill in
    what it leaves out."""

    piece_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )


class AssayBatchIn(Schema):
    defaults = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "Findings shared by the pieces of the batch (a group tested "
            "together): any field of an attestation, which a piece's own values override"
        },
    )
    pieces = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "description": "The pieces, each `{piece_id, …}` with the findings that differ "
            "from `defaults`; each is attested, or refused, on its own"
        },
    )


class AssayBatchPiece(Schema):
    item = fields.Integer(required=True, metadata={"description": "Place in `pieces`, from 1"})
    piece_id = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(("passed", "failed", "rejected")))
    certificate = fields.String(
        allow_none=True, required=True, metadata={"description": "The code issued on a pass"}
    )
    errors = fields.Dict(keys=fields.String(), required=True)


class AssayBatchReport(Schema):
    passed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    pieces = fields.List(fields.Nested(AssayBatchPiece), required=True)
