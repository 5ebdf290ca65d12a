"""A buyer's report from a verdict page (`/report`), and the queue of reports in the
brand office's and the inspectors' portals (`queue_pages`).

The form needs no script and carries a CSRF token. Whatever refuses it (an expired
token, too many reports, a field, a photo too large, even a body beyond the request
limit that the rest of the site keeps) shows the form again with what was typed: a
report is often written once, on a phone, in a shop. So the body is read here, up to
UPLOAD_MAX_BODY, with the photo held to PHOTO_MAX_BYTES as it arrives (`_Photo`): a 20 MB
photo is refused, its fields kept, and never more than the limit is held in memory.
"""

import io
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import ValidationError as CsrfRefused
from flask_wtf.csrf import validate_csrf
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests
from werkzeug.formparser import FormDataParser

from registry import photos, reports
from registry.edge import bodies, database, http_cache, limits
from registry.errors import InvalidInput, PayloadTooLarge
from registry.web import forms, session
from schemas.reports import HandleIn, ReportIn
from schemas.standards import ReportStatus

bp = session.pages(Blueprint("report", __name__), forms=False)

#: The fields of the form, as ReportIn names them.
FIELDS = ("kind", "code", "where_bought", "seller", "city", "details", "contact")
#: What the form's text fields may hold in all: they are small; the photo is apart.
_FIELDS_MAX = 64 * 1024


@bp.get("/report")
@limits.public
def form():
    """The report form, with the code of the page it was opened from."""
    values = {"code": request.args.get("code", "")[:64], "kind": request.args.get("kind", "")}
    return _form_page(values, {}, 200)


@bp.post("/report")
@limits.public
@bodies.uploads
def submit():
    """Keep the report; answer with its reference, or the form again with what was typed."""
    photo_limits = photos.Limits.from_config(current_app.config)
    try:
        posted = _posted(photo_limits.max_bytes)
    except RequestEntityTooLarge:
        # Beyond even UPLOAD_MAX_BODY: nothing of it was read; the code is in the address.
        values = {"code": request.args.get("code", "")[:64]}
        return _form_page(values, _photo_error(_too_large(photo_limits)), 413)
    values = {key: posted.form.get(key, "") for key in FIELDS}
    try:
        validate_csrf(posted.form.get("csrf_token"))
    except CsrfRefused:
        message = gettext("This form was open too long, or cookies are off. Send it again.")
        return _form_page(values, {"_schema": [message]}, 400, posted)
    try:
        limits.spend("REPORT_RATE_LIMIT", scope="report")
    except TooManyRequests:
        message = gettext(
            "This connection has sent many reports in a short time. Wait an hour and send "
            "it again, or write to the brand office."
        )
        response = current_app.make_response(
            _form_page(values, {"_schema": [message]}, 429, posted)
        )
        if "registry_retry_after" in g:
            response.headers["Retry-After"] = str(g.registry_retry_after)
        return response
    if posted.photo is not None and posted.photo.over:
        return _form_page(values, _photo_error(_too_large(photo_limits)), 413, posted)
    try:
        data = forms.load(ReportIn(), MultiDict({k: v for k, v in values.items() if v}))
        report = reports.submit(
            database.session(),
            kind=data["kind"],
            code_text=data.get("code"),
            where_bought=data.get("where_bought"),
            seller=data.get("seller"),
            city=data.get("city"),
            details=data.get("details"),
            contact=data.get("contact"),
            photo=posted.photo.getvalue() if posted.photo is not None else None,
            limits=photo_limits,
        )
    except forms.Invalid as invalid:
        return _form_page(values, invalid.errors, invalid.status, posted)
    except (InvalidInput, PayloadTooLarge) as error:
        # The photo refused (not an image, too many pixels): nothing was kept.
        database.session().rollback()
        status = 413 if isinstance(error, PayloadTooLarge) else 422
        return _form_page(values, forms.refused(error).errors, status, posted)
    database.session().commit()
    html = render_template("reports/sent.html", reference=report.reference, code=values["code"])
    return http_cache.private((html, 201))


@dataclass(frozen=True)
class _Posted:
    form: MultiDict
    photo: "_Photo | None"


class _Photo(io.BytesIO):
    """A file field's bytes, kept up to `limit` + 1 (enough to tell it too large); the rest
    is read from the connection and dropped."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.over = False

    def write(self, data) -> int:
        if self.over or self.tell() + len(data) > self.limit:
            self.over = True
            return len(data)
        return super().write(data)


def _posted(photo_max: int) -> _Posted:
    """The form as sent, read here with UPLOAD_MAX_BODY as the body's limit. Raises
    RequestEntityTooLarge only for a body beyond that."""
    request.max_content_length = current_app.config["UPLOAD_MAX_BODY"]
    request.max_form_memory_size = _FIELDS_MAX
    sinks: list[_Photo] = []

    def sink(*args, **kwargs) -> _Photo:
        found = _Photo(photo_max)
        sinks.append(found)
        return found

    parser = FormDataParser(
        stream_factory=sink,
        max_form_memory_size=_FIELDS_MAX,
        max_content_length=request.max_content_length,
        cls=MultiDict,
        max_form_parts=64,
    )
    _, form, files = parser.parse(
        request.stream, request.mimetype, request.content_length, request.mimetype_params
    )
    upload = files.get("photo")
    photo = None
    if upload is not None and upload.filename:
        stream = upload.stream
        photo = stream if isinstance(stream, _Photo) else None
        if photo is not None and not photo.over and not photo.getbuffer().nbytes:
            photo = None  # an empty file field: no photo chosen
    return _Posted(form, photo)


def _too_large(photo_limits: photos.Limits) -> str:
    megabytes = photo_limits.max_bytes // (1024 * 1024)
    return gettext(
        "The photo is larger than %(megabytes)s MB. Choose a smaller one, or a screenshot of it.",
        megabytes=megabytes,
    )


def _photo_error(message: str) -> dict[str, list[str]]:
    return {"photo": [message]}


def _form_page(values: dict, errors: dict, status: int, posted: _Posted | None = None):
    if posted is not None and posted.photo is not None and status != 201:
        # A browser never fills a file field in again: say so beside it.
        errors = dict(errors)
        errors.setdefault("photo", []).append(
            gettext("Nothing was sent. Choose the photo again before you send the report.")
        )
    html = render_template("reports/form.html", values=values, errors=errors)
    return http_cache.private((html, status))


# The queue, in the brand office's and the inspectors' portals.


def queue_pages(portal: Blueprint, role: str) -> None:
    """Add the reports' queue to a portal blueprint, for accounts of `role`: the list
    (`<portal>.reports`), the note that handles one, and its photo."""
    guarded = session.portal(role)
    portal.add_url_rule("/reports", "reports", guarded(_queue), methods=["GET"])
    portal.add_url_rule(
        "/reports/<id:report_id>/handle", "handle_report", guarded(_handle), methods=["POST"]
    )
    portal.add_url_rule(
        "/reports/<id:report_id>/photo.jpg", "report_photo", guarded(_photo), methods=["GET"]
    )


def _queue():
    """Buyers' reports, open first, newest first; of one status or one code."""
    return _queue_page({}, None)


def _queue_page(errors: dict, failed: int | None, status: int = 200):
    shown = request.args.get("status") or None
    if shown not in (None, *ReportStatus):
        shown = None
    code = request.args.get("code", "").strip()[:64] or None
    listed = reports.listing(database.session(), actor=g.actor, status=shown, code=code)
    html = render_template(
        "reports/queue.html",
        listed=listed,
        shown=shown,
        code=code,
        errors=errors,
        failed=failed,
        portal=request.blueprint,
    )
    return html, status


def _handle(report_id: int):
    """Mark a report handled, with a note of what was done."""
    try:
        with forms.refusals(database.session(), InvalidInput):
            data = forms.load(HandleIn(), request.form)
            reports.handle(database.session(), report_id, data["note"], actor=g.actor)
    except forms.Invalid as invalid:
        reports.get(database.session(), report_id, actor=g.actor)  # an unknown one: 404
        return _queue_page(invalid.errors, report_id, invalid.status)
    database.session().commit()
    back = url_for(f"{request.blueprint}.reports", **_kept_filters())
    return redirect(f"{back}#report-{report_id}", code=303)


def _kept_filters() -> dict:
    return {k: v for k in ("status", "code") if (v := request.args.get(k))}


def _photo(report_id: int):
    """The photo sent with a report: for the brand office and inspectors only."""
    data, media_type = reports.photo(database.session(), report_id, actor=g.actor)
    return Response(data, mimetype=media_type)
