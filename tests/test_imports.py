"""The imports service on its own: rows read from CSV and JSON, each registered or
reported with its line and reasons, and the limits on a file. The API, the maker's
import page and `registry import` are tested through their callers
(tests/test_validation.py, tests/test_portal_maker.py, tests/test_cli.py)."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from registry import accounts, chunks, db, imports, makers, pieces
from registry.edge import database
from registry.errors import InvalidInput
from registry.log import tree
from registry.models import Event, Piece
from schemas.pieces import PieceIn
from tests.factories import EMAILS, piece_data

HEADER = "reference,kind,title,metal,fineness,weight_g,stones,uin\n"


@pytest.fixture
def maker(app, world):
    """world.maker's maker and account, in the app's session (a writer, as a command's)."""
    with app.app_context():
        session = database.session()
        yield (
            session,
            makers.get(session, world.maker_slug),
            accounts.by_email(session, EMAILS["maker"]),
        )


def _import(maker, body: str, *, max_rows: int = 100) -> dict:
    session, owner, actor = maker
    rows = imports.rows_from_csv(body.encode(), charset=None)
    return imports.run(session, owner, rows, actor=actor, max_rows=max_rows)


def _stored(session, owner) -> set[str]:
    return set(session.scalars(select(Piece.reference).where(Piece.maker_id == owner.id)))


def test_good_rows_are_registered_and_bad_ones_reported_by_line_with_reasons(maker):
    session, owner, _ = maker
    report = _import(
        maker,
        HEADER + 'G-1,ring,Кольцо,gold,585,"2,5",diamond:3:0.15,\n'
        "B-1,ring,Кольцо,gold,925,2.5,,\n"
        "G-2,pendant,Подвеска,silver,925,4,,\n"
        "B-2,ring,,gold,585,-1,,\n",
    )
    assert (report["created"], report["rejected"]) == (2, 2)
    rows = {row["reference"]: row for row in report["rows"]}
    assert [row["row"] for row in report["rows"]] == [2, 3, 4, 5]
    assert rows["G-1"]["status"] == rows["G-2"]["status"] == "created"
    assert rows["G-1"]["piece_id"] and rows["G-1"]["errors"] == {}
    assert rows["B-1"]["status"] == "rejected" and rows["B-1"]["piece_id"] is None
    assert set(rows["B-1"]["errors"]) == {"fineness"}
    assert set(rows["B-2"]["errors"]) == {"title", "weight_g"}
    assert _stored(session, owner) == {"G-1", "G-2"}
    stored = session.get(Piece, rows["G-1"]["piece_id"])
    assert stored.weight_cg == 250  # the decimal comma read as a point


def test_line_numbers_are_the_files_own_when_a_field_spans_lines(maker):
    report = _import(
        maker,
        "reference,kind,title,description,metal,fineness,weight_g\n"
        'L-1,ring,Кольцо,"two\nlines",gold,585,2.5\n'
        "L-2,ring,Кольцо,,gold,1000,2.5\n",
    )
    assert [(row["reference"], row["row"]) for row in report["rows"]] == [("L-1", 3), ("L-2", 4)]
    assert [row["status"] for row in report["rows"]] == ["created", "rejected"]


def test_a_reference_twice_in_one_file_is_registered_once(maker):
    session, owner, _ = maker
    report = _import(
        maker,
        HEADER + "D-1,ring,Кольцо,gold,585,2.5,,\nD-1,ring,Другое,gold,585,3,,\n",
    )
    first, second = report["rows"]
    assert first["status"] == "created"
    assert second["status"] == "rejected"
    assert second["errors"] == {"reference": ["Already used by another of your pieces."]}
    assert _stored(session, owner) == {"D-1"}


def test_a_reference_or_uin_already_in_the_database_is_rejected(maker):
    session, owner, actor = maker
    pieces.register(
        session,
        owner,
        PieceIn().load(piece_data(reference="OLD-1", uin="6431234567890123")),
        actor=actor,
    )
    report = _import(
        maker,
        HEADER + "OLD-1,ring,Кольцо,gold,585,2.5,,\n"
        "NEW-1,ring,Кольцо,gold,585,2.5,,6431234567890123\n"
        "NEW-2,ring,Кольцо,gold,585,2.5,,\n",
    )
    assert [row["status"] for row in report["rows"]] == ["rejected", "rejected", "created"]
    assert report["rows"][0]["errors"] == {"reference": ["Already used by another of your pieces."]}
    assert report["rows"][1]["errors"] == {"uin": ["Already registered."]}
    assert _stored(session, owner) == {"OLD-1", "NEW-2"}


def test_csv_is_utf8_with_or_without_a_byte_order_mark_unless_a_charset_is_named():
    line = HEADER + "C-1,ring,Кольцо «Енисей»,gold,585,2.5,,\n"
    for body, charset in [
        (line.encode("utf-8"), None),
        (line.encode("utf-8-sig"), "UTF-8"),
        (line.encode("utf-8-sig"), "utf_8"),
        (line.encode("windows-1251"), "windows-1251"),
    ]:
        [(number, row)] = imports.rows_from_csv(body, charset=charset)
        assert (number, row["title"]) == (2, "Кольцо «Енисей»")


@pytest.mark.parametrize(
    ("charset", "named"),
    # Without a charset the file is detected (tests/test_excel_import.py): only a charset
    # named wrongly is refused.
    [("utf-8", "UTF-8"), ("no-such-charset", "NO-SUCH-CHARSET")],
)
def test_text_not_in_the_encoding_is_refused_naming_it(charset, named):
    body = (HEADER + "C-1,ring,Кольцо,gold,585,2.5,,\n").encode("windows-1251")
    with pytest.raises(InvalidInput) as refused:
        list(imports.rows_from_csv(body, charset=charset))
    assert f"The file is not valid {named} text" in refused.value.detail
    assert refused.value.errors == {"file": ["Wrong text encoding."]}


def test_a_header_without_required_columns_is_refused_naming_them():
    with pytest.raises(InvalidInput) as refused:
        list(imports.rows_from_csv(b"reference,kind,title\nR,ring,T\n"))
    assert refused.value.errors == {"file": ["Missing columns: fineness, metal, weight_g."]}


def test_read_file_refuses_an_empty_file_and_one_over_the_limit():
    with pytest.raises(InvalidInput) as empty:
        imports.read_file(HEADER.encode(), charset="utf-8", max_rows=2)
    assert empty.value.detail == "The file has no rows under its header."
    three = HEADER + "".join(f"R-{n},ring,Кольцо,gold,585,2.5,,\n" for n in range(3))
    with pytest.raises(InvalidInput) as over:
        imports.read_file(three.encode(), charset="utf-8", max_rows=2)
    assert over.value.detail == "An import takes at most 2 rows; split the file."
    assert [n for n, _ in imports.read_file(three.encode(), charset="utf-8", max_rows=3)] == [
        2,
        3,
        4,
    ]


def test_run_refuses_more_rows_than_the_limit(maker):
    three = HEADER + "".join(f"M-{n},ring,Кольцо,gold,585,2.5,,\n" for n in range(3))
    with pytest.raises(InvalidInput) as over:
        _import(maker, three, max_rows=2)
    assert over.value.errors == {"file": ["More than 2 rows."]}


def test_json_rows_that_are_not_objects_are_rejected_not_fatal(maker):
    session, owner, actor = maker
    rows = imports.rows_from_json(b'[{"reference": 5}, "a ring", {"reference": "J-1"}]')
    report = imports.run(session, owner, rows, actor=actor, max_rows=10)
    assert [(row["row"], row["reference"], row["status"]) for row in report["rows"]] == [
        (1, None, "rejected"),
        (2, None, "rejected"),
        (3, "J-1", "rejected"),
    ]
    assert "_schema" in report["rows"][1]["errors"]
    assert report["created"] == 0


def fails_at_database_level(monkeypatch, reference: str) -> None:
    """Registering the piece of `reference` fails in the database itself, after the piece
    and its log entry were written: the statement that follows them is refused, as a
    full disk or a lost connection would refuse it."""
    register_many = pieces.register_many

    def failing(session, maker, rows, *, actor):
        registered = register_many(session, maker, rows, actor=actor)
        if any(data["reference"] == reference for data in rows):
            session.execute(text("SELECT no_such_column FROM log_head"))
        return registered

    monkeypatch.setattr(pieces, "register_many", failing)


def _elsewhere_writes(database_url: str) -> None:
    """A write on a connection of its own that will not wait for a lock another holds:
    it raises when one is held."""
    if database_url.startswith("sqlite"):
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
        other.isolation_level = None
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE log_head SET size = size")
            other.execute("COMMIT")
        finally:
            other.close()
        return
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '1ms'")
            connection.exec_driver_sql("UPDATE log_head SET size = size")
    finally:
        engine.dispose()


def _csv_rows(references, *, bad=()) -> list:
    lines = [f"{r},ring,Кольцо,gold,{1 if r in bad else 585},2.5,,\n" for r in references]
    return imports.read_file((HEADER + "".join(lines)).encode(), charset=None, max_rows=1000)


def test_run_in_chunks_commits_each_chunk_and_reports_as_it_goes(maker, database_url):
    session, owner, actor = maker
    rows = _csv_rows([f"S-{n}" for n in range(7)], bad={"S-0", "S-3", "S-6"})
    done = []
    steps = imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=10, chunk=3)
    for report in steps:
        done.append((len(report["rows"]), report["created"], report["rejected"]))
        # Between two chunks the import holds no lock: another writer gets in at once.
        _elsewhere_writes(database_url)
    assert done == [(3, 2, 1), (6, 4, 2), (7, 4, 3)]
    assert [row["row"] for row in report["rows"]] == list(range(2, 9))
    session.rollback()  # what a caller does on its way out stores nothing more
    assert _stored(session, owner) == {"S-1", "S-2", "S-4", "S-5"}


def test_slow_rows_make_short_chunks(maker, monkeypatch):
    """Rows that take long (photos, a loaded machine) are committed a few at a time, so
    that the lock an import holds is let go about every CHUNK_SECONDS, not after 500."""
    session, owner, actor = maker
    register = imports.run

    def slow(*args, **kwargs):
        time.sleep(0.002 * kwargs["max_rows"])  # 2 ms a row: 500 rows would hold 1 s
        return register(*args, **kwargs)

    monkeypatch.setattr(imports, "run", slow)
    monkeypatch.setattr(chunks, "CHUNK_SECONDS", 0.05)
    rows = _csv_rows([f"T-{n}" for n in range(200)])
    sizes, before = [], 0
    for report in imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=200):
        sizes.append(len(report["rows"]) - before)
        before = len(report["rows"])
    assert sum(sizes) == 200 and report["created"] == 200
    assert max(sizes[1:]) <= 25, sizes  # about 50 ms of rows each, after the first


def test_a_writer_queued_for_sqlites_lock_gets_it_between_two_chunks(
    maker, database_url, monkeypatch
):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    session, owner, actor = maker
    seen: list[int] = []
    queued = threading.Event()

    def writer():
        # Another of the registry's writers (a worker's sale, a sign-in): it waits,
        # retrying, while a chunk holds the lock, and says that it waits.
        engine = db.make_engine(database_url)
        queued.set()
        with engine.begin() as other:
            seen.append(other.execute(text("SELECT size FROM log_head")).scalar_one())
        engine.dispose()

    thread = threading.Thread(target=writer)
    register_many = pieces.register_many

    def first_chunk_starts_the_writer(session, maker, rows, *, actor):
        registered = register_many(session, maker, rows, actor=actor)
        if any(data["reference"] == "Q-0" for data in rows):
            thread.start()
            queued.wait()
            time.sleep(0.3)  # not measured: long enough for the writer to be queued
        return registered

    monkeypatch.setattr(pieces, "register_many", first_chunk_starts_the_writer)
    before = tree.size(session)
    rows = _csv_rows(["Q-0", "Q-1", "Q-2", "Q-3"])
    *_, report = imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=10, chunk=2)
    thread.join()
    assert report["created"] == 4
    assert seen == [before + 2]  # in after the first chunk, not after the whole import


def test_a_database_failure_keeps_the_chunks_before_it_and_reports_the_rest(maker, monkeypatch):
    session, owner, actor = maker
    fails_at_database_level(monkeypatch, "F-3")
    before = tree.size(session)
    rows = _csv_rows(["F-0", "F-1", "F-2", "F-3", "F-4"], bad={"F-1"})
    steps = imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=10, chunk=2)
    *_, report = steps
    assert (report["created"], report["rejected"]) == (1, 4)
    statuses = [(row["row"], row["reference"], row["status"]) for row in report["rows"]]
    assert statuses == [
        (2, "F-0", "created"),
        (3, "F-1", "rejected"),
        (4, "F-2", "rejected"),
        (5, "F-3", "rejected"),
        (6, "F-4", "rejected"),
    ]
    assert set(report["rows"][1]["errors"]) == {"fineness"}
    for row in report["rows"][2:]:
        assert row["piece_id"] is None
        assert row["errors"] == {
            "_schema": [
                "Not stored: the database failed on rows 4-5, so the import stopped there; "
                "send this row again."
            ]
        }
    session.rollback()
    assert _stored(session, owner) == {"F-0"}
    # The log holds the stored piece's entry and nothing of the chunk that failed.
    indices = session.scalars(select(Event.log_index).order_by(Event.log_index)).all()
    assert indices == list(range(tree.size(session)))
    assert session.scalars(select(Event.action).order_by(Event.log_index.desc())).first() == (
        "piece:registered"
    )
    assert len(indices) == before + 1
    assert report["rows"][0]["piece_id"] == session.scalar(
        select(Piece.id).where(Piece.reference == "F-0")
    )


def test_a_database_failure_in_the_first_chunk_is_raised_and_stores_nothing(maker, monkeypatch):
    session, owner, actor = maker
    fails_at_database_level(monkeypatch, "E-1")
    rows = _csv_rows(["E-0", "E-1", "E-2"])
    with pytest.raises(DBAPIError):
        list(imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=10, chunk=2))
    session.rollback()
    assert _stored(session, owner) == set()


def test_run_in_chunks_refuses_too_many_rows_before_validating_any(maker, monkeypatch):
    session, owner, actor = maker
    validated = []
    monkeypatch.setattr(PieceIn, "load", lambda _self, row: validated.append(row))
    rows = _csv_rows([f"M-{n}" for n in range(3)])
    with pytest.raises(InvalidInput) as over:
        next(imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=2, chunk=1))
    assert over.value.detail == "An import takes at most 2 rows; split the file."
    assert validated == []
    assert _stored(session, owner) == set()


def test_limited_reads_rows_only_up_to_one_past_the_limit():
    read = []

    def rows():
        for n in range(1, 1_000_000):
            read.append(n)
            yield n, {"reference": f"R-{n}"}

    with pytest.raises(InvalidInput) as over:
        imports.limited(rows(), max_rows=5)
    assert over.value.errors == {"file": ["More than 5 rows."]}
    assert read == [1, 2, 3, 4, 5, 6]
    assert len(imports.limited(iter([(1, {}), (2, {})]), max_rows=2)) == 2


def test_an_import_pauses_between_chunks_only_while_another_writer_waits(maker, monkeypatch):
    session, owner, actor = maker
    pauses: list[float] = []
    monkeypatch.setattr(chunks.time, "sleep", pauses.append)
    rows = _csv_rows([f"P-{n}" for n in range(6)])
    *_, report = imports.run_in_chunks(session, owner, rows, actor=actor, max_rows=10, chunk=2)
    assert report["created"] == 6
    assert pauses == []
