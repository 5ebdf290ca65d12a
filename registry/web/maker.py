"""The maker's portal: their pieces, registration, bulk import, labels and cards."""

from flask import Blueprint

from registry.web import session

bp = session.pages(Blueprint("maker", __name__, url_prefix="/maker"))


@bp.get("/")
@session.portal("maker")
def dashboard():
    return "maker"


@bp.get("/pieces/new")
@session.portal("maker")
def register():
    return "register"


@bp.get("/import")
@session.portal("maker")
def bulk_import():
    return "import"
