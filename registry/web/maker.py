"""The maker's portal: their pieces, registration, bulk import, labels and cards."""

import csv
import io
import logging

import openpyxl
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
from flask_babel import gettext
from openpyxl.utils import get_column_letter

from registry import assays, cards, imports, photos, pieces, qr
from registry.edge import bodies, database, printing
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Account, Piece
from registry.web import forms, session
from schemas.pieces import ANY_LEGAL_FINENESS, PieceIn
from schemas.qr import MIN_BORDER
from schemas.standards import CertificateStatus, Kind, Metal, PieceStatus, Role

log = logging.getLogger(__name__)

bp = session.pages(Blueprint("maker", __name__, url_prefix="/maker"))

_PAGE = 50
#: The label PNG's pixels per module: 10 makes a 330 px image for a typical code,
#: sharp on a 300 dpi tag printer at about 28 mm.
_LABEL_SCALE = 10
_CHARSETS = ("auto", "utf-8", "windows-1251")
#: Where the import page's progress and report go, streamed as the rows are registered.
_PROGRESS_HERE = "<!-- progress -->"
_TEMPLATE_ROWS = (
    ("R-101", Kind.RING, "Кольцо «Енисей»", "Gold ring with three diamonds", Metal.GOLD, "585",
     "3.42", "diamond:3:0.15", "", ""),
    ("E-205", Kind.EARRINGS, "Серьги «Саяны»", "", Metal.SILVER, "925", "5.10", "", "", ""),
)  # fmt: skip
#: The template's columns: a piece's, and the name of its photo in the .zip beside.
_TEMPLATE_COLUMNS = (*imports.COLUMNS, imports.PHOTO)


@bp.get("/")
@session.portal(Role.MAKER)
def dashboard():
    """The maker's pieces, newest first, by status and by search."""
    status = request.args.get("status") or None
    if status not in (None, *PieceStatus):
        status = None
    text = request.args.get("q", "").strip()[:200]
    after = _listed(request.args.get("after"))
    items, next_after = pieces.listing(
        database.session(),
        actor=g.actor,
        status=status,
        text=text or None,
        newest_first=True,
        after=after,
        limit=_PAGE,
    )
    counts = pieces.counts(database.session(), g.actor.maker)
    return render_template(
        "maker/dashboard.html",
        items=items,
        next_after=next_after,
        status=status,
        q=text,
        counts=counts,
        label_stocks=cards.STOCKS,
    )


@bp.route("/pieces/new", methods=["GET", "POST"])
@session.portal(Role.MAKER)
@bodies.uploads
def register():
    """Register a piece, with its photo, in one step."""
    if request.method == "GET":
        return _register_page({}, {})
    values = {key: request.form.get(key, "") for key in imports.COLUMNS}
    upload = request.files.get("photo")
    try:
        with forms.refusals(database.session()):
            data = forms.load(PieceIn(), imports.from_text(values))
            piece = pieces.register(database.session(), g.actor.maker, data, actor=g.actor)
            if upload and upload.filename:
                database.session().flush()
                _attach(piece.id, upload)
    except forms.Invalid as invalid:
        if upload and upload.filename:  # a browser never fills a file field in again
            invalid.errors.setdefault("_schema", []).append(_choose_photo_again())
        return _register_page(values, invalid.errors), invalid.status
    database.session().commit()
    flash(_registered_message(piece))
    return redirect(url_for("maker.piece", piece_id=piece.id), code=303)


def _register_page(values: dict, errors: dict, *, editing: Piece | None = None) -> str:
    # Every legal fineness in one list: the pairing with the metal is checked on sending,
    # as a page without script cannot narrow one list by the other (the hint lists them).
    options = [(fineness, str(fineness)) for fineness in ANY_LEGAL_FINENESS]
    return render_template(
        "maker/register.html",
        values=values,
        errors=errors,
        fineness_options=options,
        editing=editing,
    )


@bp.route("/pieces/<id:piece_id>/edit", methods=["GET", "POST"])
@session.portal(Role.MAKER)
def correct(piece_id: int):
    """Correct a piece's declaration before it is certified: the registration form,
    filled in with what was registered."""
    found = pieces.get(database.session(), piece_id, actor=g.actor)
    if request.method == "GET":
        return _register_page(imports.as_text(found), {}, editing=found)
    values = {key: request.form.get(key, "") for key in imports.COLUMNS}
    try:
        with forms.refusals(database.session()):
            data = forms.load(PieceIn(), imports.from_text(values))
            pieces.correct(database.session(), piece_id, data, actor=g.actor)
    except forms.Invalid as invalid:
        found = pieces.get(database.session(), piece_id, actor=g.actor)
        return _register_page(values, invalid.errors, editing=found), invalid.status
    database.session().commit()
    flash(gettext("The declaration is corrected. The piece waits for assay."))
    return redirect(url_for("maker.piece", piece_id=piece_id), code=303)


@bp.post("/pieces/<id:piece_id>/withdraw")
@session.portal(Role.MAKER)
def withdraw(piece_id: int):
    """Withdraw a piece before it is certified, once the maker has confirmed it."""
    found = pieces.get(database.session(), piece_id, actor=g.actor)
    if request.form.get("confirm") != "yes":
        message = gettext("Tick the box to confirm that the piece is withdrawn for good.")
        page = render_template(
            "maker/piece.html",
            piece=found,
            errors={},
            withdraw_errors={"confirm": [message]},
            **_assay_of(found),
        )
        return page, 422
    try:
        with forms.refusals(database.session()):
            pieces.withdraw(database.session(), piece_id, actor=g.actor)
    except forms.Invalid as invalid:
        found = pieces.get(database.session(), piece_id, actor=g.actor)
        page = render_template(
            "maker/piece.html",
            piece=found,
            errors={},
            withdraw_errors=invalid.errors,
            **_assay_of(found),
        )
        return page, invalid.status
    database.session().commit()
    flash(gettext("The piece is withdrawn. It stays in your list and in the log."))
    return redirect(url_for("maker.piece", piece_id=piece_id), code=303)


def _choose_photo_again() -> str:
    return gettext("Nothing was registered. Choose the photo again before you resend.")


def _registered_message(piece: Piece) -> str:
    return gettext("Registered %(reference)s. It now waits for assay.", reference=piece.reference)


@bp.get("/pieces/<id:piece_id>")
@session.portal(Role.MAKER)
def piece(piece_id: int):
    """One of the maker's pieces: its details, status, certificate and downloads."""
    found = pieces.get(database.session(), piece_id, actor=g.actor)
    return render_template("maker/piece.html", piece=found, errors={}, **_assay_of(found))


@bp.post("/pieces/<id:piece_id>/photo")
@session.portal(Role.MAKER)
@bodies.uploads
def photo(piece_id: int):
    """Set or replace the photo of a piece not yet certified."""
    upload = request.files.get("photo")
    found = pieces.get(database.session(), piece_id, actor=g.actor)
    try:
        with forms.refusals(database.session(), InvalidInput, Conflict):
            if not upload or not upload.filename:
                raise InvalidInput("Choose a photo.", errors={"photo": ["Choose a photo."]})
            _attach(piece_id, upload)
    except forms.Invalid as invalid:
        found = pieces.get(database.session(), piece_id, actor=g.actor)
        page = render_template(
            "maker/piece.html", piece=found, errors=invalid.errors, **_assay_of(found)
        )
        return page, invalid.status
    database.session().commit()
    return redirect(url_for("maker.piece", piece_id=found.id), code=303)


def _assay_of(piece: Piece) -> dict:
    """The latest assay of a piece that failed it: what the inspector found and noted,
    for the maker to see what to correct."""
    failed = piece.status == PieceStatus.ASSAY_FAILED
    return {"failed_assay": assays.latest(database.session(), piece.id) if failed else None}


def _attach(piece_id: int, upload) -> None:
    limits = photos.Limits.from_config(current_app.config)
    data = upload.read(limits.max_bytes + 1)
    photos.attach(database.session(), piece_id, data, actor=g.actor, limits=limits)


@bp.get("/pieces/<id:piece_id>/label.<any(png, svg):format>")
@session.portal(Role.MAKER)
def label(piece_id: int, format: qr.Format):
    """The QR label of a certified piece, to print on its tag."""
    certificate = _certificate_of(piece_id)
    data = qr.image(
        database.session(),
        certificate,
        base_url=current_app.config["PUBLIC_BASE_URL"],
        format=format,
        scale=_LABEL_SCALE,
        border=MIN_BORDER,
    )
    database.session().commit()
    name = f"{certificate.printed_code}.{format}"
    return _download(data, qr.MEDIA_TYPES[format], name)


@bp.get("/pieces/<id:piece_id>/card.pdf")
@session.portal(Role.MAKER)
def card(piece_id: int):
    """The printable certificate card (A6, Russian and English) for the buyer."""
    certificate = _certificate_of(piece_id)
    data = printing.card(certificate.payload_json, certificate.code)
    return _download(data, "application/pdf", f"{certificate.printed_code}.pdf")


@bp.get("/labels.pdf")
@session.portal(Role.MAKER)
def label_sheet():
    """A sheet of QR labels for the certified pieces ticked on the dashboard."""
    listed = [_listed(value) for value in request.args.getlist("piece")]
    ids = [piece_id for piece_id in listed if piece_id is not None]
    # Refused back on the dashboard, in the maker's language, nothing lost but a tick.
    if not listed:
        return _refused_to_dashboard(
            gettext("Tick at least one certified piece to print its label.")
        )
    if len(ids) < len(listed):
        raise InvalidInput("Tick the certified pieces whose labels you want to print.")
    if len(ids) > 500:
        return _refused_to_dashboard(
            gettext("Print at most 500 labels at a time: tick fewer pieces.")
        )
    labels = []
    for piece_id in dict.fromkeys(ids):
        certificate = _certificate_of(piece_id)
        labels.append(
            cards.Label(
                printed_code=certificate.printed_code,
                url=qr.url(current_app.config["PUBLIC_BASE_URL"], certificate.code),
                reference=certificate.piece.reference,
                title=certificate.piece.title,
            )
        )
    stock = request.args.get("stock") or cards.DEFAULT_STOCK
    if stock not in cards.STOCKS:
        return _refused_to_dashboard(gettext("Choose one of the label stocks listed."))
    brand = current_app.config["BRAND"]
    try:
        data = cards.label_sheet(labels, fonts=printing.fonts(), stock=stock, brand=brand)
    except ValueError as exc:  # an address too long for a tag-sized QR code
        raise InvalidInput(str(exc)) from exc
    return _download(data, "application/pdf", "labels.pdf")


def _refused_to_dashboard(reason: str):
    flash(reason, "refused")
    return redirect(url_for("maker.dashboard"), code=303)


def _certificate_of(piece_id: int):
    """The valid certificate of one of the maker's pieces; NotFound otherwise (another
    maker's piece included)."""
    found = pieces.get(database.session(), piece_id, actor=g.actor)
    certificate = found.current_certificate
    if certificate is None or certificate.status != CertificateStatus.VALID:
        raise NotFound(
            f"Piece {found.reference} has no valid certificate: labels and cards are made "
            "for certified pieces only."
        )
    return certificate


def _download(data: bytes, media_type: str, filename: str) -> Response:
    response = Response(data, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/import")
@session.portal(Role.MAKER)
def bulk_import():
    """How to import: the columns, a template to fill in, the upload form."""
    return render_template("maker/import.html", errors={}, columns=_TEMPLATE_COLUMNS)


@bp.get("/import/template.xlsx")
@session.portal(Role.MAKER)
def import_template_xlsx():
    """The template as an Excel workbook: Excel opens it as it is, and it is uploaded
    back as it is saved."""
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    sheet = book.create_sheet("pieces")
    rows = [list(_TEMPLATE_COLUMNS), *([_template_cell(v) for v in row] for row in _TEMPLATE_ROWS)]
    for row in rows:
        sheet.append(row)
    for number, column in enumerate(zip(*rows, strict=True), start=1):
        # Wide enough to read the header and the example.
        width = max(len(str(value)) for value in column)
        sheet.column_dimensions[get_column_letter(number)].width = min(max(width + 2, 10), 40)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return _download(out.getvalue(), imports.XLSX, "pieces-template.xlsx")


def _template_cell(value: str) -> str | int | float:
    """Numbers as numbers, so that Excel shows them in the reader's own notation."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


@bp.get("/import/template.csv")
@session.portal(Role.MAKER)
def import_template():
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_TEMPLATE_COLUMNS)
    writer.writerows(_TEMPLATE_ROWS)
    return _download(out.getvalue().encode("utf-8-sig"), "text/csv", "pieces-template.csv")


@bp.post("/import")
@session.portal(Role.MAKER)
@bodies.uploads
def run_import():
    """Import a CSV file: every good row is registered, every bad one reported with its
    line number; the page shows progress as the rows are registered, chunk by chunk,
    each committed. A file over the row limit is refused before any row is looked at."""
    upload = request.files.get("file")
    charset = request.form.get("charset") or "auto"
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    try:
        if charset not in _CHARSETS:
            raise InvalidInput("Unknown encoding.", errors={"charset": ["Unknown encoding."]})
        if not upload or not upload.filename:
            raise InvalidInput(
                "Choose a CSV or Excel file.", errors={"file": ["Choose a CSV or Excel file."]}
            )
        rows = imports.read_file(upload.read(), charset=charset, max_rows=max_rows)
        archive = request.files.get("photos")
        pictures = (
            imports.Photos(archive.read(), photos.Limits.from_config(current_app.config))
            if archive and archive.filename
            else None
        )
    except InvalidInput as error:
        errors = forms.refused(error).errors
        errors.setdefault("_schema", [error.detail])
        html = render_template("maker/import.html", errors=errors, columns=_TEMPLATE_COLUMNS)
        return html, 422
    actor_id = g.actor.id
    # The page around the progress is rendered now, with the signed-in account's menu.
    page = render_template("maker/import_run.html", total=len(rows))
    head, tail = page.split(_PROGRESS_HERE)

    def body():
        # Runs after the view's context was torn down and pushed again: its own session.
        writing = database.session()
        actor = writing.get(Account, actor_id)
        yield head
        report = None
        try:
            # Signed in a moment ago; an account removed since stops the import here.
            if actor is None or actor.maker is None:
                raise LookupError(f"account {actor_id} is no longer a maker's")
            # Each chunk is committed as it is done; a failure after the first is reported
            # row by row, so one that escapes here has stored nothing.
            steps = imports.run_in_chunks(
                writing, actor.maker, rows, actor=actor, max_rows=max_rows, pictures=pictures
            )
            for report in steps:
                yield _progress(len(report["rows"]), len(rows))
        except Exception:  # the page has begun: say so on it, never a half-sent page
            writing.rollback()
            log.exception("import by account %s failed; nothing stored", actor_id)
            report = None
        yield render_template("maker/_import_report.html", report=report, total=len(rows))
        yield tail

    response = Response(stream_with_context(body()), mimetype="text/html")
    # Proxies must pass each progress line on as it comes (nginx buffers otherwise).
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _progress(done: int, total: int) -> str:
    text = gettext("%(done)d of %(total)d rows checked", done=done, total=total)
    return (
        f'<p class="progress-step" role="status"><progress value="{done}" max="{total}">'
        f"</progress> {text}</p>\n"
    )


def _listed(value: str | None) -> int | None:
    """A cursor or a piece's id from the dashboard's own links; None for anything else."""
    try:
        return forms.cursor(value, largest=999_999_999)
    except ValueError:
        return None
