"""Piece photos: a maker uploads one for an own piece; anyone fetches it by its SHA-256."""

from flask_smorest import Blueprint

bp = Blueprint("photos", __name__, url_prefix="/api/v1", description="Piece photos")
