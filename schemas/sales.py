"""Sales of certified pieces, and their cancellation."""

from marshmallow import Schema, fields

from schemas.common import Timestamp
from schemas.makers import LocalisedName


class SellerOut(Schema):
    """Who sold: a shop, or the maker of the piece."""

    kind = fields.String(required=True, metadata={"description": "shop or maker"})
    slug = fields.String(required=True)
    name = fields.Nested(LocalisedName, required=True)
    city = fields.String(required=True)
    region = fields.String(required=True, metadata={"description": "ISO 3166-2 code"})


class SaleOut(Schema):
    """A sale just recorded: the claim code and the slip are in this answer only."""

    code = fields.String(required=True, metadata={"description": "The certificate's code"})
    sold_at = Timestamp(required=True)
    shop = fields.Nested(SellerOut, required=True)
    claim_code = fields.String(
        required=True,
        metadata={
            "description": "The one-time ownership claim code, printed in groups; shown "
            "this once and never stored"
        },
    )
    claim_url = fields.String(
        required=True, metadata={"description": "The claim address the slip's QR code carries"}
    )
    slip = fields.String(
        required=True,
        metadata={"description": "The sale slip, an A6 PDF, base64", "format": "byte"},
    )


class SaleCancelledOut(Schema):
    code = fields.String(required=True, metadata={"description": "The certificate's code"})
    sold_at = Timestamp(required=True)
    cancelled_at = Timestamp(required=True)
    shop = fields.Nested(SellerOut, required=True)
