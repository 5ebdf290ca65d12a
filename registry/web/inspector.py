"""The inspector's portal: the assay queue, attestation, history, revocation, search,
audit export, the log's status and the codes that may be copied."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, get_translations, gettext
from werkzeug.datastructures import MultiDict

from registry import (
    assays,
    certificates,
    codes,
    imports,
    inspection,
    makers,
    numbers,
    pieces,
    words,
)
from registry.edge import database, log_signer, signing
from registry.edge import scans as scan_counts
from registry.errors import Conflict, InvalidInput, RegistryError
from registry.log import audit, checkpoints, jobs
from registry.models import Piece
from registry.web import forms, session
from registry.web import reports as report_pages
from schemas.assays import AssayIn
from schemas.audit import AuditArgs
from schemas.certificates import ReissueIn, RevokeIn
from schemas.common import MAX_ID
from schemas.standards import PieceStatus, Role

bp = session.pages(Blueprint("inspector", __name__, url_prefix="/inspector"))
# Buyers' reports: the queue, shared with the brand office's portal.
report_pages.queue_pages(bp, Role.INSPECTOR)

_PAGE = 50
_SEARCH_MAX = 200
#: Pieces of a maker a batch page lists to tick, the longest waiting first.
_BATCH_PAGE = 500
# What the audit form and its export take from the address: the API's filters.
_AUDIT_FILTERS = ("maker", "type", "since", "until", "piece", "certificate", "actor", "actor_role")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
# The refusals a form shows beside its fields; any other error is a page of its own.
_FORM_REFUSALS = (InvalidInput, Conflict)


@bp.context_processor
def _helpers():
    return {"printed": codes.printed}


@bp.get("/")
@session.portal(Role.INSPECTOR)
def queue():
    """Pieces awaiting assay, the longest waiting first."""
    items, next_after = pieces.listing(
        database.session(),
        actor=g.actor,
        status=PieceStatus.AWAITING_ASSAY,
        after=_after(MAX_ID),
        limit=_PAGE,
    )
    return render_template("inspector/queue.html", items=items, next_after=next_after)


@bp.get("/pieces/<id:piece_id>")
@session.portal(Role.INSPECTOR)
def piece(piece_id: int):
    """Everything about one piece: its details, certificate, history, and what an
    inspector can do with it now."""
    return _piece_page(piece_id)


@bp.post("/pieces/<id:piece_id>/assay")
@session.portal(Role.INSPECTOR)
def attest(piece_id: int):
    """Attest the piece's assay; a pass issues its certificate (assays.attest)."""
    try:
        with forms.refusals(database.session(), *_FORM_REFUSALS):
            assay = assays.attest(
                database.session(),
                signing.keyring(),
                piece_id,
                forms.load(AssayIn(), _assay_fields()),
                issuer=signing.issuer(),
                actor=g.actor,
            )
    except forms.Invalid as invalid:
        return _piece_page(
            piece_id, assay_errors=invalid.errors, assay_form=request.form, status=invalid.status
        )
    database.session().commit()
    if assay.certificate is not None:
        code = codes.printed(assay.certificate.code)
        flash(gettext("Assay recorded as passed; certificate %(code)s is issued.", code=code))
    else:
        flash(gettext("Assay recorded as failed; no certificate is issued."))
    return redirect(url_for("inspector.piece", piece_id=piece_id), code=303)


@bp.get("/batch")
@session.portal(Role.INSPECTOR)
def batch():
    """A batch of one maker's pieces awaiting assay, ticked and attested together with
    what was found in them (a group tested and marked together); without a maker, the
    makers whose pieces wait."""
    return _batch_page(request.args.get("maker") or None)


@bp.post("/batch")
@session.portal(Role.INSPECTOR)
def attest_batch():
    """Attest the ticked pieces with the findings given (assays.attest_batch): each
    passes, fails or is refused on its own, and the report says which."""
    maker = request.form.get("maker") or None
    ticked = request.form.getlist("piece")
    ids = [
        int(value) for value in ticked if value.isascii() and value.isdigit() and len(value) < 10
    ]
    errors: dict[str, list[str]] = {}
    try:
        with forms.refusals(database.session(), *_FORM_REFUSALS):
            found = forms.load(AssayIn(), _assay_fields())
    except forms.Invalid as invalid:
        errors = dict(invalid.errors)
    if not ids or len(ids) != len(ticked):
        errors["piece"] = [gettext("Tick the pieces that were tested together.")]
    if errors:
        return _batch_page(maker, errors=errors, form=request.form, ticked=set(ids), status=422)
    *_, report = assays.attest_batch(
        database.session(),
        signing.keyring(),
        [{"piece_id": piece_id} for piece_id in ids],
        defaults=found,
        issuer=signing.issuer(),
        actor=g.actor,
        max_pieces=current_app.config["ASSAY_BATCH_MAX_PIECES"],
    )
    return render_template(
        "inspector/batch_report.html",
        report=report,
        pieces=pieces.by_ids(database.session(), ids),
        maker=maker,
    )


def _batch_page(
    maker_slug: str | None,
    *,
    errors: dict | None = None,
    form=None,
    ticked: set[int] | None = None,
    status: int = 200,
):
    dbs = database.session()
    if maker_slug is None:
        return render_template("inspector/batch.html", waiting=pieces.awaiting_by_maker(dbs))
    maker = makers.get(dbs, maker_slug)
    items, more = pieces.listing(
        dbs,
        actor=g.actor,
        status=PieceStatus.AWAITING_ASSAY,
        maker_slug=maker.slug,
        limit=_BATCH_PAGE,
    )
    html = render_template(
        "inspector/batch.html",
        maker=maker,
        items=items,
        more=more is not None,
        assay_errors=errors or {},
        assay_form=form or {"inspectorate": inspection.usual_inspectorate(dbs, g.actor)},
        ticked=ticked or set(),
        inspectorates=signing.issuer().inspectorates,
    )
    return html, status


@bp.post("/certificates/<code>/revoke")
@session.portal(Role.INSPECTOR)
def revoke(code: str):
    """Revoke a certificate with a reason (certificates.revoke)."""
    certificate = certificates.find(database.session(), code)
    piece_id = certificate.piece_id
    try:
        with forms.refusals(database.session(), *_FORM_REFUSALS):
            data = forms.load(RevokeIn(), request.form)
            certificates.revoke(
                database.session(), code, reason=data["reason"], note=data["note"], actor=g.actor
            )
    except forms.Invalid as invalid:
        return _piece_page(
            piece_id, revoke_errors=invalid.errors, revoke_form=request.form, status=invalid.status
        )
    database.session().commit()
    flash(gettext("Certificate %(code)s is revoked.", code=codes.printed(certificate.code)))
    return redirect(url_for("inspector.piece", piece_id=piece_id), code=303)


#: What an inspector may correct by reissuing, in the order the form asks.
_REISSUE_FIELDS = ("title", "description", "weight_g", "uin", "stones")


@bp.post("/certificates/<code>/reissue")
@session.portal(Role.INSPECTOR)
def reissue(code: str):
    """Correct a certified piece: first the changes, old beside new, to confirm; then a
    new certificate that supersedes this one (certificates.reissue), so that a buyer who
    scans the old code is led to the new instead of a red dead end."""
    dbs = database.session()
    certificate = certificates.find(dbs, code)
    piece = certificate.piece
    typed = {name: request.form.get(name, "").strip() for name in (*_REISSUE_FIELDS, "note")}
    try:
        with forms.refusals(dbs, *_FORM_REFUSALS):
            given = {**imports.from_text(typed), "note": typed["note"]}
            data = forms.load(ReissueIn(), given)
            changes = _changes(piece, data)
            if not changes:
                message = gettext("Type the new value of at least one field.")
                raise forms.Invalid({"_schema": [message]})
            if request.form.get("confirm") != "yes":
                return render_template(
                    "inspector/reissue.html",
                    piece=piece,
                    certificate=certificate,
                    changes=changes,
                    typed=typed,
                )
            new = certificates.reissue(
                dbs, signing.keyring(), code, data, issuer=signing.issuer(), actor=g.actor
            )
    except forms.Invalid as invalid:
        return _piece_page(
            piece.id, reissue_errors=invalid.errors, reissue_form=typed, status=invalid.status
        )
    dbs.commit()
    flash(
        gettext(
            "Certificate %(new)s is issued; it supersedes %(old)s.",
            new=codes.printed(new.code),
            old=codes.printed(code),
        )
    )
    return redirect(url_for("inspector.piece", piece_id=piece.id), code=303)


def _changes(piece: Piece, data: dict) -> list[tuple[str, str, str]]:
    """(field, now, new) of each field the corrections change, as the page shows them."""
    shown = {
        "title": lambda value: value or "",
        "description": lambda value: value or "—",
        "weight_g": lambda value: gettext("%(grams)s g", grams=numbers.number(value, 2, _locale())),
        "uin": lambda value: value or "—",
        "stones": _stones_shown,
    }
    now = {
        "title": piece.title,
        "description": piece.description,
        "weight_g": piece.weight_g,
        "uin": piece.uin,
        "stones": piece.stones,
    }
    new = {**data}
    if "stones" in new:
        new["stones"] = [pieces.stone_json(stone) for stone in new["stones"]]
    return [
        (name, shown[name](now[name]), shown[name](new[name]))
        for name in _REISSUE_FIELDS
        if name in new and new[name] != now[name]
    ]


def _stones_shown(stones: list[dict] | None) -> str:
    if not stones:
        return "—"
    translate = get_translations().gettext
    # In the words the piece's page uses ("… кар." in Russian).
    return "; ".join(
        gettext(
            "%(type)s × %(count)s, %(carat)s ct",
            type=words.stone_name(stone, translate),
            count=stone["count"],
            carat=numbers.number(stone["carat"], 3, _locale(), keep=2),
        )
        for stone in stones
    )


def _locale() -> str:
    return str(get_locale())


def _piece_page(
    piece_id: int,
    *,
    assay_errors: dict | None = None,
    assay_form=None,
    revoke_errors: dict | None = None,
    revoke_form=None,
    reissue_errors: dict | None = None,
    reissue_form=None,
    status: int = 422,
):
    """The piece page; with a form's errors, that form as it was sent, and `status`."""
    dbs = database.session()
    found = pieces.get(dbs, piece_id, actor=g.actor)
    if assay_form is None:
        # Nothing found is filled in: the inspector chooses the result and confirms the
        # metal and fineness found, with the declared ones shown beside the fields.
        assay_form = {"inspectorate": inspection.usual_inspectorate(dbs, g.actor)}
    checkpoint = checkpoints.latest(dbs)
    html = render_template(
        "inspector/piece.html",
        piece=found,
        certificate=found.current_certificate,
        history=(history := inspection.history(dbs, found.id)),
        names=inspection.names(dbs, history),
        covered=checkpoint.tree_size if checkpoint else 0,
        assay_errors=assay_errors or {},
        assay_form=assay_form,
        revoke_errors=revoke_errors or {},
        revoke_form=revoke_form or {},
        reissue_errors=reissue_errors or {},
        reissue_form=reissue_form or {},
        inspectorates=signing.issuer().inspectorates,
    )
    failed = assay_errors or revoke_errors or reissue_errors
    return html, status if failed else 200


@bp.get("/search")
@session.portal(Role.INSPECTOR)
def search():
    """Every maker's pieces, found by certificate code, UIN, reference or title."""
    dbs = database.session()
    directory = makers.directory(dbs)
    asked = {key: request.args.get(key, "").strip() for key in ("q", "status", "maker")}
    errors: dict[str, list[str]] = {}
    if len(asked["q"]) > _SEARCH_MAX:
        errors["q"] = [gettext("At most %(count)d characters.", count=_SEARCH_MAX)]
    if asked["status"] and asked["status"] not in tuple(PieceStatus):
        errors["status"] = [gettext("Choose a status from the list.")]
    if asked["maker"] and asked["maker"] not in {maker.slug for maker in directory}:
        errors["maker"] = [gettext("No maker of the brand has this name.")]
    items: list[Piece] = []
    next_after = None
    if not errors:
        items, next_after = pieces.listing(
            dbs,
            actor=g.actor,
            text=asked["q"] or None,
            status=asked["status"] or None,
            maker_slug=asked["maker"] or None,
            newest_first=True,
            after=_after(MAX_ID),
            limit=_PAGE,
        )
    html = render_template(
        "inspector/search.html",
        asked=asked,
        errors=errors,
        makers=directory,
        items=items,
        next_after=next_after,
    )
    return html, 400 if errors else 200


@bp.get("/audit", endpoint="audit")
@session.portal(Role.INSPECTOR)
def audit_page():
    """The log's events by maker, type and time; the same as CSV to download."""
    try:
        filters = _audit_filters()
        steps, next_after = inspection.events(
            database.session(), filters, after=_after(2**53), limit=_PAGE
        )
    except forms.Invalid as invalid:
        return _audit_page(errors=_by_field(invalid.errors)), 400
    except RegistryError as refusal:  # a maker or a certificate code that is not one
        return _audit_page(errors=forms.refused(refusal).errors), 400
    return _audit_page(steps=steps, next_after=next_after, shown=True)


@bp.get("/audit/export.csv")
@session.portal(Role.INSPECTOR)
def audit_export():
    """The audit's events as CSV, exactly as /api/v1/audit/export.csv streams them."""
    try:
        lines = audit.export_csv(database.session(), _audit_filters())
    except forms.Invalid as invalid:
        return _audit_page(errors=_by_field(invalid.errors)), 400
    except RegistryError as refusal:
        return _audit_page(errors=forms.refused(refusal).errors), 400

    def body():
        # A byte-order mark first: Excel, which inspectors open the file in, reads UTF-8
        # without one as the Windows code page and garbles every Cyrillic name.
        yield "\ufeff"
        # Runs after the view's context was torn down and pushed again: its own session.
        yield from lines(database.session())

    response = Response(stream_with_context(body()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


def _audit_page(*, steps=(), next_after=None, errors=None, shown=False) -> str:
    chosen = {key: request.args.getlist(key) for key in _AUDIT_FILTERS if key in request.args}
    return render_template(
        "inspector/audit.html",
        makers=makers.directory(database.session()),
        asked={key: values[0] for key, values in chosen.items() if values},
        chosen=chosen,
        errors=errors or {},
        steps=steps,
        names=inspection.names(database.session(), steps),
        next_after=next_after,
        shown=shown,
        covered=_covered(),
    )


@bp.get("/log")
@session.portal(Role.INSPECTOR)
def log_status():
    """The log's size, its latest signed checkpoint, the last full verification, and the
    one asked for here, with its progress."""
    status = inspection.log_status(database.session(), log_signer.signer(), log_signer.witnesses())
    job = jobs.latest(database.session())
    return render_template("inspector/log.html", status=status, job=job)


@bp.post("/log/verify")
@session.portal(Role.INSPECTOR)
def verify_log():
    """Ask for a full verification of the log, run outside the request by the verifier
    (`registry log verify-jobs`); the log page follows its progress."""
    job = jobs.request(database.session(), g.actor)
    database.session().commit()
    if job.requested_by_id == g.actor.id:
        flash(gettext("The verification is asked for. This page shows how far it has got."))
    else:
        flash(gettext("A verification is already under way: this page follows it."))
    return redirect(url_for("inspector.log_status"), code=303)


@bp.get("/copies")
@session.portal(Role.INSPECTOR)
def copies():
    """Certificates whose copy caution holds: seen from more networks in 7 days than a
    genuine piece would be, with the daily counts (registry/scans.py)."""
    return render_template("inspector/copies.html", items=scan_counts.flagged(database.session()))


def _audit_filters() -> dict:
    """The audit filters from the address, loaded by the API's schema. A bare date (what
    a date field sends) means that whole day in the regions' time zone: `since` from its
    start, `until` to its end. Raises forms.Invalid."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    sent: MultiDict = MultiDict()
    for key in _AUDIT_FILTERS:
        for value in request.args.getlist(key):
            if key in ("since", "until") and _DAY.match(value):
                value = _day_start(value, zone, next_day=key == "until") or value
            sent.add(key, value)
    return forms.load(AuditArgs(), sent, lists=("type",))


def _day_start(value: str, zone: ZoneInfo, *, next_day: bool) -> str | None:
    try:
        day = datetime.fromisoformat(value).date() + timedelta(days=1 if next_day else 0)
    except (ValueError, OverflowError):
        return None  # left as typed: the schema says what is wrong with it
    return datetime.combine(day, time(0), tzinfo=zone).isoformat()


def _assay_fields() -> dict:
    """The attestation form as AssayIn loads it: the fineness chosen as a number."""
    values: dict[str, str | int] = {key: request.form.get(key, "") for key in AssayIn().fields}
    fineness = request.form.get("fineness", "")
    if fineness.isascii() and fineness.isdigit() and len(fineness) <= 9:
        values["fineness"] = int(fineness)
    return values


def _by_field(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors of a list's items (type.0) shown beside the list's own field (type)."""
    merged: dict[str, list[str]] = {}
    for name, messages in errors.items():
        merged.setdefault(name.split(".", 1)[0], []).extend(messages)
    return merged


def _after(largest: int) -> int | None:
    """The `after` cursor of a paged list; a page link never holds anything else."""
    try:
        return forms.cursor(request.args.get("after") or None, largest=largest)
    except ValueError:
        raise InvalidInput(gettext("This page link is damaged: open the list again.")) from None


def _covered() -> int:
    checkpoint = checkpoints.latest(database.session())
    return checkpoint.tree_size if checkpoint else 0
