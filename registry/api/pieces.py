"""Pieces: registration, bulk import, correction and withdrawal by makers, reading, assay
by inspectors."""

from flask import current_app, g, request
from flask_smorest import Blueprint

from registry import assays, imports, photos, pieces
from registry.api.common import guarded, json_body
from registry.edge import bodies, database, signing
from registry.errors import InvalidInput, UnsupportedMediaType
from schemas.assays import AssayBatchIn, AssayBatchReport, AssayIn, AssayOut
from schemas.pieces import ImportReport, PieceIn, PieceList, PieceListArgs, PieceOut
from schemas.standards import Role

bp = Blueprint("pieces", __name__, url_prefix="/api/v1", description="Pieces of jewellery")


@bp.post("/pieces")
@guarded(bp, Role.MAKER)
@json_body(bp, PieceIn)
@bp.response(201, PieceOut)
@bp.alt_response(409, response="CONFLICT")
def register(data):
    """Register one of your pieces; it then waits for assay."""
    piece = pieces.register(database.session(), g.actor.maker, data, actor=g.actor)
    database.session().commit()
    return piece


@bp.put("/pieces/<id:piece_id>")
@guarded(bp, Role.MAKER)
@json_body(bp, PieceIn)
@bp.response(200, PieceOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def correct(data, piece_id):
    """Correct the declaration of one of your pieces before it is certified: the whole
    declaration, as registered. A piece that failed its assay waits for one again."""
    piece = pieces.correct(database.session(), piece_id, data, actor=g.actor)
    database.session().commit()
    return piece


@bp.post("/pieces/<id:piece_id>/withdraw")
@guarded(bp, Role.MAKER)
@bp.response(200, PieceOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def withdraw(piece_id):
    """Withdraw one of your pieces before it is certified: it is never assayed."""
    piece = pieces.withdraw(database.session(), piece_id, actor=g.actor)
    database.session().commit()
    return piece


_IMPORT_BODY = {
    "required": True,
    "description": "CSV with a header line, as a spreadsheet saves it: the charset named in "
    "Content-Type, else UTF-8 if it decodes, else Windows-1251; `,`, `;` or tab as the "
    "header line uses; columns and kinds, metals and stones in English or Russian; stones "
    "as `stone:count:carat;…`. Or an Excel workbook (.xlsx) whose first sheet is laid out "
    "so. Or a JSON array of pieces. Or a multipart/form-data form: the sheet as `file`, "
    "and the photos that its column `photo` names as a .zip in `photos`.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "photos": {"type": "string", "format": "binary"},
                    "charset": {"type": "string"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
        imports.XLSX: {"schema": {"type": "string", "format": "binary"}},
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/PieceIn"}}
        },
    },
}


@bp.post("/pieces/import")
@guarded(bp, Role.MAKER)
@bp.doc(requestBody=_IMPORT_BODY)
@bp.response(200, ImportReport)
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bodies.uploads
def bulk_import():
    """Register many of your pieces at once; every row is created whole or reported.

    A file over the row limit is refused (422) before any row is looked at. The rows are
    stored in chunks, each committed: should the database fail after the first, the
    report says which rows were stored and gives the reason for those that were not."""
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    if request.mimetype == "multipart/form-data":
        rows, pictures = _import_form(max_rows)
        *_, report = imports.run_in_chunks(
            database.session(),
            g.actor.maker,
            rows,
            actor=g.actor,
            max_rows=max_rows,
            pictures=pictures,
        )
        return report
    body = request.get_data(cache=False)
    if request.mimetype == "text/csv":
        read = imports.rows_from_csv(body, charset=request.mimetype_params.get("charset"))
    elif request.mimetype == "application/json":
        read = imports.rows_from_json(body)
    elif request.mimetype == imports.XLSX:
        read = imports.rows_from_xlsx(body)
    else:
        raise UnsupportedMediaType(
            f"Send the import as text/csv, application/json or {imports.XLSX} (.xlsx), or "
            "as the fields `file` and `photos` (a .zip) of a multipart/form-data form."
        )
    rows = imports.limited(read, max_rows=max_rows)
    *_, report = imports.run_in_chunks(
        database.session(), g.actor.maker, rows, actor=g.actor, max_rows=max_rows
    )
    return report


def _import_form(max_rows: int) -> tuple[list, imports.Photos | None]:
    """The rows of the form's `file` (a sheet), and the .zip of its `photos`, if sent."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(
            "Send the sheet as the file field `file` of the form.",
            errors={"file": ["Choose a CSV or Excel file."]},
        )
    charset = request.form.get("charset") or None
    rows = imports.read_file(upload.read(), charset=charset, max_rows=max_rows)
    archive = request.files.get("photos")
    if archive is None or not archive.filename:
        return rows, None
    limits = photos.Limits.from_config(current_app.config)
    return rows, imports.Photos(archive.read(), limits)


@bp.get("/pieces")
@guarded(bp, Role.MAKER, Role.INSPECTOR)
@bp.arguments(PieceListArgs, location="query", error_status_code=400)
@bp.response(200, PieceList)
def listing(args):
    """Pieces: a maker sees their own, an inspector every maker's. Paged by `after`."""
    items, next_after = pieces.listing(
        database.session(),
        actor=g.actor,
        status=args.get("status"),
        maker_slug=args.get("maker"),
        after=args.get("after"),
        limit=args["limit"],
    )
    return {"items": items, "next_after": next_after}


@bp.get("/pieces/<id:piece_id>")
@guarded(bp, Role.MAKER, Role.INSPECTOR)
@bp.response(200, PieceOut)
@bp.alt_response(404, response="NOT_FOUND")
def show(piece_id):
    """One piece: a maker's own, or any for an inspector."""
    return pieces.get(database.session(), piece_id, actor=g.actor)


@bp.post("/pieces/<id:piece_id>/assay")
@guarded(bp, Role.INSPECTOR)
@json_body(bp, AssayIn)
@bp.response(201, AssayOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def attest(data, piece_id):
    """Attest a piece's assay; a pass issues its signed certificate in the same transaction."""
    assay = assays.attest(
        database.session(),
        signing.keyring(),
        piece_id,
        data,
        issuer=signing.issuer(),
        actor=g.actor,
    )
    database.session().commit()
    return assay


@bp.post("/assays/batch")
@guarded(bp, Role.INSPECTOR)
@json_body(bp, AssayBatchIn)
@bp.response(200, AssayBatchReport)
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def attest_batch(data):
    """Attest many pieces at once (a batch a workshop brought, tested and marked
    together): each passes, fails or is refused on its own, and the report says which.

    The pieces are stored in chunks, each committed: should the database fail after the
    first, the report says which pieces were stored and which to send again."""
    *_, report = assays.attest_batch(
        database.session(),
        signing.keyring(),
        data["pieces"],
        defaults=data["defaults"],
        issuer=signing.issuer(),
        actor=g.actor,
        max_pieces=current_app.config["ASSAY_BATCH_MAX_PIECES"],
    )
    return report
