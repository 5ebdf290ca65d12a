"""The public verdict on a code, as JSON: what a buyer's app or another registry reads."""

from flask_smorest import Blueprint

bp = Blueprint("verification", __name__, url_prefix="/api/v1", description="Verification")
