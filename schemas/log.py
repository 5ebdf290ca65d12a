"""The transparency log's public API: query arguments and answers.

Hashes are standard base64 (RFC 4648 section 4), as in checkpoints and in the public
RFC 9162 test vectors, so that the three can be compared as they are.
"""

from marshmallow import Schema, fields, validate

from schemas.common import Timestamp

#: Largest index or size a query may name: beyond any log, and within a BIGINT.
MAX_SIZE = 2**53


def _count(description: str, *, required: bool = True, minimum: int = 0, **kwargs):
    return fields.Integer(
        required=required,
        strict=False,
        validate=validate.Range(min=minimum, max=MAX_SIZE),
        metadata={"description": description},
        **kwargs,
    )


class CheckpointArgs(Schema):
    tree_size = _count(
        "The newest checkpoint of a tree no larger than this (default: the newest of all)",
        required=False,
    )


class EntriesArgs(Schema):
    start = _count("Index of the first entry", load_default=0, required=False)
    limit = _count("Entries at most (up to the server's page size)", required=False, minimum=1)


class InclusionArgs(Schema):
    index = _count("Index of the entry")
    tree_size = _count(
        "Size of the tree the proof leads to (default: the newest checkpoint's)",
        required=False,
        minimum=1,
    )


class ConsistencyArgs(Schema):
    first = _count("Size of the older tree", minimum=1)
    second = _count("Size of the newer tree", minimum=1)


class CheckpointOut(Schema):
    origin = fields.String(required=True, metadata={"description": "The log's name"})
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata={"description": "base64"})
    timestamp = Timestamp(required=True, metadata={"description": "When it was signed"})
    kid = fields.String(
        required=True, metadata={"description": "The signing key in /.well-known/jwks.json"}
    )
    verifier_key = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The signing key as a signed-note verifier key (vkey)"},
    )
    note = fields.String(
        required=True,
        metadata={
            "description": "The checkpoint as a C2SP signed note (tlog-checkpoint), with a "
            "plain Ed25519 signature and a timestamped one (tlog-cosignature), then the "
            "witnesses' cosignatures (tlog-cosignature)"
        },
    )
    cosignatures = fields.List(
        fields.Nested(lambda: CosignatureOut()),
        required=True,
        metadata={"description": "The witnesses that cosigned it, as their lines in `note` say"},
    )
    witnessed = fields.Boolean(
        required=True,
        metadata={
            "description": "Whether witnesses are configured and a quorum of them cosigned "
            "it; the newest checkpoint is served either way"
        },
    )


class CosignatureOut(Schema):
    witness = fields.String(required=True, metadata={"description": "The witness's name"})
    signed_at = Timestamp(required=True, metadata={"description": "The time it put in it"})


class EntryOut(Schema):
    index = fields.Integer(required=True)
    entry = fields.Dict(
        required=True,
        metadata={
            "description": "The event, as stored: its RFC 8785 form is the leaf, whose "
            "hash is SHA-256(0x00 || entry)"
        },
    )


class EntriesOut(Schema):
    tree_size = fields.Integer(
        required=True, metadata={"description": "The log's size when the page was read"}
    )
    entries = fields.List(fields.Nested(EntryOut), required=True)


class InclusionOut(Schema):
    index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    leaf_hash = fields.String(required=True, metadata={"description": "base64"})
    root_hash = fields.String(required=True, metadata={"description": "base64"})
    proof = fields.List(
        fields.String(), required=True, metadata={"description": "RFC 9162 audit path"}
    )


class ConsistencyOut(Schema):
    first = fields.Integer(required=True)
    second = fields.Integer(required=True)
    first_root = fields.String(required=True, metadata={"description": "base64"})
    second_root = fields.String(required=True, metadata={"description": "base64"})
    proof = fields.List(
        fields.String(), required=True, metadata={"description": "RFC 9162 consistency proof"}
    )
