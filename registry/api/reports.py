"""Buyers' reports: anyone sends one (rate-limited); the brand office and inspectors list
and handle them. Reports are private: no log entry is written."""

from flask import current_app, g, request
from flask_smorest import Blueprint

from registry import photos, reports
from registry.api.common import guarded, json_body
from registry.edge import database, limits
from registry.errors import PayloadTooLarge, UnsupportedMediaType
from schemas.reports import (
    HandleIn,
    ReportIn,
    ReportList,
    ReportListArgs,
    ReportOut,
    ReportReceived,
)
from schemas.standards import Role

bp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Buyers' reports")

_BINARY = {"type": "string", "format": "binary"}
_FIELDS = {
    "kind": {"type": "string", "enum": ["suspected_fake", "copied_tag", "wrong_details", "other"]},
    **{
        name: {"type": "string"}
        for name in ("code", "where_bought", "seller", "city", "details", "contact")
    },
}
_REPORT_BODY = {
    "required": True,
    "description": "The report, as JSON, or as a multipart form whose optional file field "
    "`photo` holds a JPEG, PNG or WebP photo (checked and kept as a piece's photo is, "
    "without metadata). Only `kind` is required.",
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["kind"], "properties": _FIELDS}
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["kind"],
                "properties": {**_FIELDS, "photo": _BINARY},
            }
        },
    },
}


@bp.post("/reports")
@limits.public
@bp.doc(requestBody=_REPORT_BODY)
@bp.response(202, ReportReceived)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def submit():
    """Report a suspected fake, a copied tag or wrong details: 202 with the reference to
    quote. At most REPORT_RATE_LIMIT reports per client."""
    limits.spend("REPORT_RATE_LIMIT", scope="report")
    photo = None
    if request.mimetype == "multipart/form-data":
        data = ReportIn().load({k: v for k, v in request.form.items() if v != ""})
        upload = request.files.get("photo")
        if upload is not None and upload.filename:
            photo = upload.stream.read(_limits().max_bytes + 1)  # one more: too large is told apart
    elif request.is_json:
        data = ReportIn().load(request.get_json())
    else:
        raise UnsupportedMediaType("Send the report as application/json or multipart/form-data.")
    if photo is not None and len(photo) > _limits().max_bytes:
        raise PayloadTooLarge(
            f"The photo is larger than the {_limits().max_bytes} bytes the registry accepts.",
            errors={"photo": [f"Larger than {_limits().max_bytes} bytes."]},
        )
    report = reports.submit(
        database.session(),
        kind=data["kind"],
        code_text=data.get("code"),
        where_bought=data.get("where_bought"),
        seller=data.get("seller"),
        city=data.get("city"),
        details=data.get("details"),
        contact=data.get("contact"),
        photo=photo,
        limits=_limits(),
    )
    database.session().commit()
    return {"reference": report.reference}


@bp.get("/reports")
@guarded(bp, Role.ADMIN, Role.INSPECTOR)
@bp.arguments(ReportListArgs, location="query", error_status_code=400)
@bp.response(200, ReportList)
def listing(args):
    """Buyers' reports, open ones first, newest first; of one status or one code."""
    found = reports.listing(
        database.session(), actor=g.actor, status=args.get("status"), code=args.get("code")
    )
    return {"items": [out(listed) for listed in found]}


@bp.post("/reports/<id:report_id>/handle")
@guarded(bp, Role.ADMIN, Role.INSPECTOR)
@json_body(bp, HandleIn)
@bp.response(200, ReportOut)
@bp.alt_response(404, response="NOT_FOUND")
def handle(data, report_id: int):
    """Mark a report handled, with a note of what was done."""
    reports.handle(database.session(), report_id, data["note"], actor=g.actor)
    database.session().commit()
    return out(reports.get(database.session(), report_id, actor=g.actor))


def out(listed: reports.Listed) -> dict:
    """A listed report as ReportOut dumps it."""
    report = listed.report
    return {
        "id": report.id,
        "reference": report.reference,
        "kind": report.kind,
        "status": report.status,
        "code": listed.printed_code,
        "typed_code": report.typed_code,
        "where_bought": report.where_bought,
        "seller": report.seller,
        "city": report.city,
        "details": report.details,
        "contact": report.contact,
        "has_photo": report.photo_media_type is not None,
        "note": report.note,
        "handled_at": report.handled_at,
        "created_at": report.created_at,
        "others": listed.others,
    }


def _limits() -> photos.Limits:
    return photos.Limits.from_config(current_app.config)
