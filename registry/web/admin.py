"""The brand office's portal: admitting makers, creating accounts."""

from flask import Blueprint

from registry.web import session

bp = session.pages(Blueprint("admin", __name__, url_prefix="/admin"))


@bp.get("/makers")
@session.portal("admin")
def makers():
    return "makers"


@bp.get("/accounts")
@session.portal("admin")
def accounts():
    return "accounts"
