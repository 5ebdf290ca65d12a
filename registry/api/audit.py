"""The inspectors' audit of every record: the log's events, filtered, paged or exported."""

from flask import Response, current_app, stream_with_context
from flask_smorest import Blueprint

from registry.api.common import guarded
from registry.edge import database
from registry.log import audit
from schemas.audit import AuditArgs, AuditPage, AuditPageArgs
from schemas.standards import Role

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit")


@bp.get("/events")
@guarded(bp, Role.INSPECTOR)
@bp.arguments(AuditPageArgs, location="query", error_status_code=400)
@bp.response(200, AuditPage)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
def events(args):
    """Events of the log in order, filtered (a piece's whole history: `piece=<id>`).

    Each is the log entry as stored, with its index; page on with `after=next_after`.
    """
    after = args.pop("after", None)
    limit = min(args.pop("limit"), current_app.config["LOG_PAGE_MAX"])
    rows, next_after = audit.page(database.session(), args, after=after, limit=limit)
    found = b",".join(audit.flat(index, entry) for index, entry in rows)
    cursor = b"null" if next_after is None else str(next_after).encode()
    body = b'{"events":[%s],"next_after":%s}' % (found, cursor)
    return Response(body, mimetype="application/json")


@bp.get("/export.csv")
@guarded(bp, Role.INSPECTOR)
@bp.arguments(AuditArgs, location="query", error_status_code=400)
@bp.alt_response(
    200,
    success=True,
    content_type="text/csv",
    schema={"type": "string"},
    description="One line per event, in log order: " + ", ".join(audit.CSV_COLUMNS),
)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(404, response="NOT_FOUND")
def export(args):
    """The filtered events as CSV (UTF-8), streamed as they are read: any range fits."""
    lines = audit.export_csv(database.session(), args)

    def body():
        # Runs after the view's context was torn down and pushed again: its own session.
        yield from lines(database.session())

    response = Response(stream_with_context(body()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
