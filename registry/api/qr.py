"""QR codes of certificates, made once per certificate and size, then served from storage."""

from flask_smorest import Blueprint

bp = Blueprint("qr", __name__, url_prefix="/api/v1", description="QR codes")
