"""The inspector's portal: the assay queue, attestation, history, revocation, search,
audit export and the log's status."""

from flask import Blueprint

from registry.web import session

bp = session.pages(Blueprint("inspector", __name__, url_prefix="/inspector"))


@bp.get("/")
@session.portal("inspector")
def queue():
    return "queue"


@bp.get("/search")
@session.portal("inspector")
def search():
    return "search"


@bp.get("/audit")
@session.portal("inspector")
def audit():
    return "audit"


@bp.get("/log")
@session.portal("inspector")
def log_status():
    return "log"
