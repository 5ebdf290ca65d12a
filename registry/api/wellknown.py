"""The published public keys, for anyone to verify certificates without trusting us."""

from flask_smorest import Blueprint

from registry.edge import signing
from schemas.jwks import JWKS

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Public keys")


@bp.get("/jwks.json")
@bp.response(200, JWKS)
def jwks():
    """The registry's signing keys as a JWK Set, each with its status."""
    return signing.keyring().jwks()
