"""Bulk import of pieces from CSV or JSON, with a report for every row.

The rows are all read and counted first: a file over the limit is refused before any
is validated. Each row is then validated and registered in a savepoint of its own: it is
stored whole or reported with its reasons, never half. Rows that fail do not stop the
others. A long import commits chunk by chunk, so that other writers get in between.
"""

import csv
import functools
import io
import itertools
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import openpyxl
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import chunks, makers, photos, pieces, words
from registry.errors import InvalidInput, RegistryError
from registry.log import tree
from registry.models import Account, Maker, Piece
from registry.words import folded
from schemas.pieces import PieceIn
from schemas.standards import Stone

log = logging.getLogger(__name__)

COLUMNS = (
    "reference",
    "kind",
    "title",
    "description",
    "metal",
    "fineness",
    "weight_g",
    "stones",
    "uin",
)
#: The column that names a row's photo: a file in the .zip uploaded with the sheet.
PHOTO = "photo"
_DECIMAL_COMMA = re.compile(r"\d+,\d+\Z")
_REQUIRED_COLUMNS = {"reference", "kind", "title", "metal", "fineness", "weight_g"}


def rows_from_csv(body: bytes, *, charset: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, row) pairs of a CSV file with a header line, read as Excel saves it.

    The encoding is the one named (a request's charset, the form's choice), else UTF-8
    when the bytes are UTF-8 (with or without a byte-order mark), else Windows-1251, which
    Russian Excel writes. The delimiter is the one of `,`, `;` (Russian Excel's) or a tab
    that the header line uses. Columns may be named in English or Russian ("артикул",
    "металл", "масса"), kinds, metals and stones too ("кольцо", "золото", "сапфир");
    `stones` is written `stone:count:carat` separated by `;`, e.g. `diamond:3:0.15`.
    Raises InvalidInput for text that is not in the encoding named, a header that lacks
    required columns, or a line that the CSV reader cannot parse.
    """
    text = _decoded(body, charset)
    header_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from _csv_records(reader)
    except csv.Error as exc:
        # Raised mid-file (e.g. a field over the parser's size limit): the import stops and
        # the caller stores none of it, as for any InvalidInput.
        raise InvalidInput(
            f"The CSV cannot be read at line {reader.line_num}: {exc}.",
            errors={"file": [f"Unreadable CSV at line {reader.line_num}."]},
        ) from exc


#: An Excel workbook's media type, which imports read beside CSV and JSON.
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What every .xlsx starts with: it is a zip archive.
_ZIP_MAGIC = b"PK\x03\x04"


def is_workbook(body: bytes) -> bool:
    return body.startswith(_ZIP_MAGIC)


def rows_from_xlsx(body: bytes) -> Iterator[tuple[int, dict]]:
    """(row number, row) pairs of the first sheet of an Excel workbook with a header row,
    read as a CSV file is (`rows_from_csv`): the same column names and words. Numbers
    come as Excel keeps them (3.42, not "3,42"). Raises InvalidInput for a file that is
    not a workbook, or whose header lacks required columns."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(
            f"The file is not an Excel workbook (.xlsx) that can be read: {exc}.",
            errors={"file": ["Not a readable .xlsx workbook."]},
        ) from exc
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = next(lines, ())
        names = [_column(str(cell)) if cell is not None else "" for cell in header]
        _require_columns(names)
        for number, cells in enumerate(lines, start=2):
            if all(cell is None or str(cell).strip() == "" for cell in cells):
                continue  # Excel keeps blank formatted rows at the end of a sheet
            row = {name: _cell_text(cell) for name, cell in zip(names, cells, strict=False) if name}
            yield number, from_text(row)
    finally:
        book.close()


def _cell_text(cell: Any) -> str:
    """A cell as a CSV would hold it: a whole number without ".0", text trimmed."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


#: The delimiters a spreadsheet saves CSV with: `,`, Russian Excel's `;`, and tabs.
_DELIMITERS = (",", ";", "\t")


def _decoded(body: bytes, charset: str | None) -> str:
    if charset and charset.lower() != "auto":
        encoding = charset
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            encoding = "utf-8-sig"  # spreadsheets write a byte-order mark even when asked
    else:
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding = "windows-1251"  # what Russian Excel saves "CSV" in
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidInput(
            f"The file is not valid {encoding.removesuffix('-sig').upper()} text "
            f"({getattr(exc, 'reason', exc)}). "
            "Save it as UTF-8, or name its encoding: Content-Type: text/csv; charset=windows-1251.",
            errors={"file": ["Wrong text encoding."]},
        ) from exc


def _csv_records(reader: csv.DictReader) -> Iterator[tuple[int, dict]]:
    header = [_column(h) for h in (reader.fieldnames or [])]
    _require_columns(header)
    reader.fieldnames = header
    for record in reader:
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in record.items() if k}
        yield reader.line_num, from_text(row)


def _require_columns(header: list[str]) -> None:
    missing = _REQUIRED_COLUMNS - set(header)
    if missing:
        raise InvalidInput(
            f"The header lacks the columns: {', '.join(sorted(missing))}. "
            f"Columns: {', '.join(COLUMNS)}.",
            errors={"file": [f"Missing columns: {', '.join(sorted(missing))}."]},
        )


#: Russian names of the columns, as a workshop heads its sheet (folded, see `words.folded`).
_RUSSIAN_COLUMNS = {
    "артикул": "reference",
    "вид": "kind",
    "вид изделия": "kind",
    "тип": "kind",
    "тип изделия": "kind",
    "название": "title",
    "наименование": "title",
    "описание": "description",
    "металл": "metal",
    "проба": "fineness",
    "масса": "weight_g",
    "масса г": "weight_g",
    "масса в граммах": "weight_g",
    "вес": "weight_g",
    "вес г": "weight_g",
    "вставки": "stones",
    "камни": "stones",
    "уин": "uin",
    "фото": PHOTO,
    "фотография": PHOTO,
    "файл фото": PHOTO,
}


def _column(name: str) -> str:
    name = folded(name.replace(",", " ").replace("(", " ").replace(")", " "))
    return _RUSSIAN_COLUMNS.get(name, name.replace(" ", "_"))


def from_text(row: dict[str, Any]) -> dict[str, Any]:
    """A piece's fields typed as text (a CSV line, a web form) as PieceIn loads them:
    blank fields left out, the fineness as a number, stones from `type:count:carat;…`."""
    result = {k: v for k, v in row.items() if k in (*COLUMNS, PHOTO) and v not in (None, "")}
    for column in ("kind", "metal"):
        if column in result:
            result[column] = _vocabulary_words(column).get(folded(result[column]), result[column])
    if "fineness" in result:
        result["fineness"] = _integer(result["fineness"])
    if "weight_g" in result:
        result["weight_g"] = _decimal(result["weight_g"])
    if "stones" in result:
        result["stones"] = _stones(result["stones"])
    return result


def as_text(piece: Piece) -> dict[str, str]:
    """A stored piece's fields as a form shows them to be corrected: what `from_text`
    reads back into the same piece."""
    stones = "; ".join(
        f"{'other (' + stone['name'] + ')' if stone.get('name') else stone['type']}"
        f":{stone['count']}:{stone['carat']}"
        for stone in piece.stones
    )
    return {
        "reference": piece.reference,
        "kind": piece.kind,
        "title": piece.title,
        "description": piece.description or "",
        "metal": piece.metal,
        "fineness": str(piece.fineness),
        "weight_g": str(piece.weight_g),
        "uin": piece.uin or "",
        "stones": stones,
    }


def _integer(text: str) -> int | str:
    """A CSV cell of plain digits as an integer; anything else as it is, for the schema
    to report (int() alone would take "5_85", "²" or 5,000 digits)."""
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return text


def _decimal(text: str) -> str:
    """A number as typed with a decimal comma (Russian: 3,42) as the schema reads it."""
    return text.replace(",", ".") if _DECIMAL_COMMA.match(text) else text


def _stones(text: str) -> Any:
    stones = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        fields = [f.strip() for f in part.split(":")]
        if len(fields) != 3:
            return text  # not a list: the schema reports it
        typed, count, carat = fields
        stones.append({**stone_type(typed), "count": _integer(count), "carat": _decimal(carat)})
    return stones


#: "other (shungite)", "другое (шунгит)": a stone the vocabulary has no word for.
_OTHER = re.compile(r"(?:other|другое|другой|другой камень|other stone)\s*\((.+)\)\Z")


def stone_type(typed: str) -> dict[str, str]:
    """A stone's type as a person writes it, in Russian or English ("сапфир",
    "Sapphire", "lapis lazuli"), as the vocabulary's code; "other (its name)" for any
    other stone. A word the vocabulary lacks is passed on as it is, for the schema to
    refuse with the list of types."""
    word = folded(typed)
    named = _OTHER.match(word)
    if named:
        return {"type": Stone.OTHER, "name": typed.strip()[typed.index("(") + 1 : -1].strip()}
    return {"type": _vocabulary_words("stones").get(word, typed)}


#: The vocabularies a sheet's words are read in, by column; a stone other than the
#: vocabulary's is written "other (its name)" (`_OTHER`), never by its label.
_VOCABULARIES = {
    "kind": words.KINDS,
    "metal": words.METALS,
    "stones": {k: v for k, v in words.STONES.items() if k != Stone.OTHER},
}
#: Words people write that are no label of the vocabulary's.
_SYNONYMS = {"stones": {"алмаз": Stone.DIAMOND}}  # the rough stone's name, often written


@functools.cache
def _vocabulary_words(column: str) -> dict[str, str]:
    """Every way a kind, a metal or a stone is written (code, English, Russian), folded:
    one typed "Кольцо", "золото" or "Сапфир" is ring, gold or sapphire."""
    russian = words.russian().gettext
    table = {
        folded(word): value
        for value, label in _VOCABULARIES[column].items()
        for word in (value, label, russian(label))
    }
    return table | {folded(word): value for word, value in _SYNONYMS.get(column, {}).items()}


def rows_from_json(body: bytes) -> Iterator[tuple[int, dict]]:
    """(index + 1, row) pairs of a JSON array of pieces (or {"pieces": [...]})."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers longer than Python converts;
        # RecursionError: arrays or objects nested deeper than the parser goes.
        raise InvalidInput(
            f"The body is not valid JSON: {exc}.", errors={"file": ["Malformed JSON."]}
        ) from exc
    if isinstance(document, dict) and isinstance(document.get("pieces"), list):
        document = document["pieces"]
    if not isinstance(document, list):
        raise InvalidInput(
            'Send a JSON array of pieces, or an object with a "pieces" array.',
            errors={"file": ["Expected an array of pieces."]},
        )
    yield from enumerate(document, start=1)


def limited(rows: Iterable[tuple[int, Any]], *, max_rows: int) -> list[tuple[int, Any]]:
    """Every row, read before any is validated or registered; reading stops at the first
    row over `max_rows`. Raises InvalidInput naming the limit then."""
    read = list(itertools.islice(rows, max_rows + 1))
    if len(read) > max_rows:
        raise _too_many(max_rows)
    return read


def _too_many(max_rows: int) -> InvalidInput:
    return InvalidInput(
        f"An import takes at most {max_rows} rows; split the file.",
        errors={"file": [f"More than {max_rows} rows."]},
    )


def read_file(body: bytes, *, charset: str | None, max_rows: int) -> list[tuple[int, dict]]:
    """Every row of an uploaded sheet, an Excel workbook or a CSV file (`charset` is the
    CSV's), read whole before any is registered, so that a file with no rows or too many
    is refused at once, before an import has begun to report progress. Raises
    InvalidInput for these as `rows_from_csv` and `rows_from_xlsx` do."""
    read = rows_from_xlsx(body) if is_workbook(body) else rows_from_csv(body, charset=charset)
    rows = limited(read, max_rows=max_rows)
    if not rows:
        raise InvalidInput("The file has no rows under its header.", errors={"file": []})
    return rows


class Photos:
    """The photos of an import: the files of a .zip uploaded with the sheet, each found by
    its name (any folder, any case), read no larger than the photo limit."""

    def __init__(self, body: bytes, limits: photos.Limits):
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(body))
        except (zipfile.BadZipFile, ValueError) as exc:
            raise InvalidInput(
                "The photos must come as a .zip file.", errors={"photos": ["Not a .zip file."]}
            ) from exc
        self.limits = limits
        self._members = {
            folded(info.filename.rsplit("/", 1)[-1]): info
            for info in self._zip.infolist()
            if not info.is_dir() and not info.filename.startswith("__MACOSX/")
        }

    def read(self, name: str) -> bytes:
        """The file named `name`. Raises InvalidInput naming `photo` for one not in the
        archive or larger than the photo limit (its stated size is not trusted)."""
        info = self._members.get(folded(name.rsplit("/", 1)[-1]))
        if info is None:
            raise InvalidInput(
                f"The .zip has no file {name}.", errors={PHOTO: [f"No file {name} in the .zip."]}
            )
        limit = self.limits.max_bytes
        too_large = InvalidInput(
            f"The photo {name} is larger than the {limit} bytes the registry accepts.",
            errors={PHOTO: [f"Larger than {limit} bytes."]},
        )
        if info.file_size > limit:
            raise too_large
        try:
            with self._zip.open(info) as member:
                data = member.read(limit + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:  # damaged or encrypted
            raise InvalidInput(
                f"The file {name} cannot be read from the .zip.",
                errors={PHOTO: [f"Cannot read {name} from the .zip."]},
            ) from exc
        if len(data) > limit:
            raise too_large
        return data


def run_in_chunks(
    session: Session,
    maker: Maker,
    rows: Sequence[tuple[int, Any]],
    *,
    actor: Account | None,
    max_rows: int,
    chunk: int | None = None,
    pictures: Photos | None = None,
) -> Iterator[dict[str, Any]]:
    """Register the rows as `run` does, committed in chunks (registry/chunks.py): yields
    the report so far after each commit, the last one yielded covering every row.
    Commits, unlike other services: what an import stores is decided chunk by chunk, and
    its report must say exactly which rows were stored.

    Raises InvalidInput, before any row is validated, when there are more than
    `max_rows`. A failure in the first chunk is raised, nothing stored (the caller rolls
    back). One in a later chunk rolls that chunk back and ends the import: the chunks
    before it stay stored, and its rows and every one after are reported rejected, not
    stored, with the reason.
    """
    if len(rows) > max_rows:
        raise _too_many(max_rows)

    def write(part: Sequence[tuple[int, Any]]) -> list[dict[str, Any]]:
        return run(session, maker, iter(part), actor=actor, max_rows=len(part), pictures=pictures)[
            "rows"
        ]

    for entries in chunks.committed(
        session, rows, write, unstored=_not_stored, most=chunk, what=f"import for {maker.slug}"
    ):
        created = sum(1 for entry in entries if entry["status"] == "created")
        yield {"created": created, "rejected": len(entries) - created, "rows": entries}


def _attach(
    session: Session, piece: Piece, *, name: str, pictures: Photos | None, actor: Account | None
) -> None:
    """The photo a row names, set on its piece: raises RegistryError to refuse the row."""
    if pictures is None or actor is None:
        raise InvalidInput(
            f"The row names the photo {name}: upload the photos as a .zip with the sheet.",
            errors={PHOTO: ["Upload the photos' .zip with the sheet."]},
        )
    photos.attach(session, piece.id, pictures.read(name), actor=actor, limits=pictures.limits)


def _not_stored(
    rows: Sequence[tuple[int, Any]], failed: Sequence[tuple[int, Any]]
) -> list[dict[str, Any]]:
    first, last = failed[0][0], failed[-1][0]
    reason = (
        f"Not stored: the database failed on rows {first}-{last}, so the import stopped "
        "there; send this row again."
        if first != last
        else f"Not stored: the database failed on row {first}, so the import stopped there; "
        "send this row again."
    )
    return [
        {**_entry(number, row), "status": "rejected", "errors": {"_schema": [reason]}}
        for number, row in rows
    ]


def _entry(number: int, row: Any) -> dict[str, Any]:
    reference = row.get("reference") if isinstance(row, dict) else None
    return {
        "row": number,
        "reference": reference if isinstance(reference, str) else None,
        "piece_id": None,
        "errors": {},
    }


def run(
    session: Session,
    maker: Maker,
    rows: Iterator[tuple[int, Any]],
    *,
    actor: Account | None,
    max_rows: int,
    pictures: Photos | None = None,
) -> dict[str, Any]:
    """Register every valid row; report every row. Rows are validated one by one, then
    registered together (pieces.register_many), in the file's order; a row that names a
    photo (column `photo`) is registered alone, with that file of `pictures`, in its own
    savepoint: a photo missing or refused refuses its row. The log's head is locked
    first, before any piece is inserted (`tree.lock`).

    Raises InvalidInput, storing nothing, when there are more than `max_rows` rows, and
    Conflict for a suspended maker (`makers.active`). The caller commits.
    """
    makers.active(maker)
    tree.lock(session)
    report: list[dict[str, Any]] = []
    waiting: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (report entry, loaded row)
    schema = PieceIn()
    for number, row in rows:
        if len(report) >= max_rows:
            raise _too_many(max_rows)
        entry = _entry(number, row)
        report.append(entry)
        try:
            named = row.pop(PHOTO, None) if isinstance(row, dict) else None
            data = schema.load(row)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            entry.update(status="rejected", errors=messages)
            continue
        if not named:
            waiting.append((entry, data))
            continue
        _register_together(session, maker, waiting, actor)  # the rows before it first
        waiting = []
        _register_alone(
            session,
            maker,
            entry,
            data,
            actor,
            functools.partial(_attach, session, name=str(named), pictures=pictures, actor=actor),
        )
    _register_together(session, maker, waiting, actor)
    created = sum(1 for e in report if e["status"] == "created")
    return {"created": created, "rejected": len(report) - created, "rows": report}


def _register_together(
    session: Session,
    maker: Maker,
    waiting: list[tuple[dict[str, Any], dict[str, Any]]],
    actor: Account | None,
) -> None:
    """Register the loaded rows together and note each one's outcome in its entry. When a
    concurrent write took a reference or UIN between the check and the insert, the rows
    are registered again one by one, so that only the row it took is refused."""
    if not waiting:
        return
    try:
        with session.begin_nested():
            results = pieces.register_many(
                session, maker, [data for _, data in waiting], actor=actor
            )
    except IntegrityError:
        for entry, data in waiting:
            _register_alone(session, maker, entry, data, actor)
        return
    for (entry, _), result in zip(waiting, results, strict=True):
        if isinstance(result, RegistryError):
            entry.update(status="rejected", errors=result.errors or {"_schema": [result.detail]})
        else:
            entry.update(status="created", piece_id=result)


def _register_alone(
    session: Session,
    maker: Maker,
    entry: dict[str, Any],
    data: dict[str, Any],
    actor: Account | None,
    then: Callable[[Piece], None] | None = None,
) -> None:
    """Register one loaded row in its own savepoint, with `then` done to its piece there
    (its photo attached), and note the outcome in its entry."""
    try:
        with session.begin_nested():
            piece = pieces.register(session, maker, data, actor=actor)
            if then is not None:
                then(piece)
        entry.update(status="created", piece_id=piece.id)
    except RegistryError as exc:
        entry.update(status="rejected", errors=exc.errors or {"_schema": [exc.detail]})
    except IntegrityError:
        # A concurrent write took the reference or UIN between the check and the insert.
        entry.update(status="rejected", errors={"_schema": ["Conflicts with another piece."]})
