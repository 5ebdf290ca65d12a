"""Who holds the database's write lock, and for how long: signing in reads without it and
takes it only for its one short write (the session, or the failure counted), an
oversized import is refused before any work, and imports
that overlap on PostgreSQL take their locks in one order. The chunk-by-chunk commits
of an import are tested on the service (tests/test_imports.py)."""

import json
import sqlite3
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select

from registry import chunks, cli, imports
from registry.edge import database
from registry.log import tree
from registry.models import Event, Piece
from schemas.pieces import PieceIn
from tests.factories import (
    EMAILS,
    PASSWORD,
    bearer,
    csrf_token,
    post_form,
    sign_in,
    with_passwords,
)
from tests.test_imports import fails_at_database_level

HEADER = "reference,kind,title,metal,fineness,weight_g,stones,uin"


def _sqlite_only(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    return database_url.removeprefix("sqlite:///")


def test_signing_in_is_served_while_another_writer_holds_the_lock(app, client, world, database_url):
    """As between two chunks of a long import: the sign-in reads and checks the password
    while the lock is held, and writes its session (or its failure) once it is let go."""
    path = _sqlite_only(database_url)
    with app.app_context():
        with_passwords(database.session(), EMAILS["maker"])
    token = csrf_token(client, "/login")
    for password, status in (("wrong", 422), (PASSWORD, 302)):
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, holder.execute, ("ROLLBACK",))
        release.start()
        try:
            answer = client.post(
                "/login",
                data={"email": EMAILS["maker"], "password": password, "csrf_token": token},
            )
        finally:
            release.join()
            holder.close()
        assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.headers["Location"] == "/maker/"
    assert client.get("/maker/").status_code == 200


def test_a_sign_in_begins_deferred_and_a_write_still_begins_immediate(
    app, client, world, database_url
):
    _sqlite_only(database_url)
    with app.app_context():
        with_passwords(database.session(), EMAILS["maker"])
    begun: list[str] = []

    def record(_connection, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begun.append(statement)

    engine = app.extensions["registry.engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        token = csrf_token(client, "/login")
        begun.clear()
        assert sign_in(client, EMAILS["maker"]).status_code == 302
        signed_in = list(begun)
        begun.clear()
        form = {
            "reference": "W-1",
            "kind": "ring",
            "title": "Кольцо",
            "metal": "gold",
            "fineness": "585",
            "weight_g": "2.5",
        }
        assert post_form(client, "/maker/pieces/new", form).status_code == 303
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # Read deferred; the one write, the session's row, comes last.
    assert token and signed_in[-1] == "BEGIN IMMEDIATE"
    assert set(signed_in[:-1]) == {"BEGIN"}
    assert "BEGIN IMMEDIATE" in begun


# -- an import over the limit is refused before any work ------------------------------------


@pytest.fixture
def validated(monkeypatch) -> list[dict]:
    """The rows an import handed to the schema to validate, in order."""
    seen: list[dict] = []

    class Counting(PieceIn):
        def load(self, data, *args, **kwargs):
            seen.append(data)
            return super().load(data, *args, **kwargs)

    monkeypatch.setattr(imports, "PieceIn", Counting)
    return seen


def _csv(count: int, prefix: str = "OV") -> str:
    lines = [f"{prefix}-{n},ring,Кольцо,gold,585,2.5,," for n in range(count)]
    return "\n".join([HEADER, *lines]) + "\n"


def _pieces(app) -> int:
    with app.app_context():
        return database.session().scalar(select(func.count()).select_from(Piece))


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_an_oversized_api_import_is_refused_before_any_row_is_validated(
    app, client, world, validated, content_type
):
    app.config["IMPORT_MAX_ROWS"] = 4
    if content_type == "text/csv":
        body = _csv(7).encode()
    else:
        body = json.dumps([{"reference": f"OV-{n}"} for n in range(7)]).encode()
    response = client.post(
        "/api/v1/pieces/import", data=body, content_type=content_type, headers=bearer(world.maker)
    )
    assert response.status_code == 422
    problem = response.json
    assert problem["detail"] == "An import takes at most 4 rows; split the file."
    assert problem["errors"] == {"file": ["More than 4 rows."]}
    assert validated == []
    assert _pieces(app) == 0


def test_an_oversized_import_from_the_shell_is_refused_before_any_row_is_validated(
    app, env, world, validated, tmp_path
):
    path = tmp_path / "pieces.csv"
    path.write_text(_csv(7))
    result = CliRunner().invoke(
        cli.main,
        ["import", str(path), "--maker", world.maker_slug],
        env={**env, "REGISTRY_IMPORT_MAX_ROWS": "4"},
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "An import takes at most 4 rows; split the file." in result.stderr
    assert validated == []
    assert _pieces(app) == 0


def test_an_import_from_the_shell_keeps_the_chunks_stored_before_a_database_failure(
    app, env, world, tmp_path, monkeypatch
):
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    fails_at_database_level(monkeypatch, "SH-3")
    path = tmp_path / "pieces.csv"
    path.write_text(_csv(5, "SH"))
    result = CliRunner().invoke(
        cli.main, ["import", str(path), "--maker", world.maker_slug], env=env
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "row 4: rejected" in result.stderr and "row 6: rejected" in result.stderr
    assert result.stderr.count("Not stored: the database failed on rows 4-5") == 3
    assert "created 2, rejected 3" in result.stdout
    assert _pieces(app) == 2


# -- overlapping imports on PostgreSQL --------------------------------------------------------


@pytest.mark.postgres
def test_overlapping_imports_on_postgresql_all_finish_with_exact_reports(
    app, world, database_url, monkeypatch
):
    if database_url.startswith("sqlite"):
        pytest.skip("needs REGISTRY_TEST_DATABASE_URL (PostgreSQL)")
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 20)
    imports_count, shared, own = 5, 30, 30
    references = [f"SH-{n}" for n in range(shared)]
    files = []
    for i in range(imports_count):
        # Each file holds the shared references in an order of its own, then its own ones:
        # the orders cross, as they did when two imports deadlocked.
        mine = references[i * 6 :] + references[: i * 6]
        mine = mine[::-1] if i % 2 else mine
        mine += [f"OWN-{i}-{n}" for n in range(own)]
        files.append([{**_piece(ref)} for ref in mine])
    barrier = threading.Barrier(imports_count)
    answers: list = [None] * imports_count

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        answers[i] = client.post(
            "/api/v1/pieces/import", json=files[i], headers=bearer(world.maker)
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(imports_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    created: dict[str, int] = {}
    for i, answer in enumerate(answers):
        report = answer.json
        assert [row["reference"] for row in report["rows"]] == [f["reference"] for f in files[i]]
        for row in report["rows"]:
            if row["status"] == "created":
                assert row["reference"] not in created
                created[row["reference"]] = row["piece_id"]
            else:
                assert row["errors"] == {"reference": ["Already used by another of your pieces."]}
        assert report["created"] + report["rejected"] == len(files[i])
    assert set(created) == set(references) | {
        f"OWN-{i}-{n}" for i in range(imports_count) for n in range(own)
    }
    with app.app_context():
        session = database.session()
        stored = {ref: id_ for ref, id_ in session.execute(select(Piece.reference, Piece.id))}
        assert stored == created
        indices = sorted(session.scalars(select(Event.log_index)))
        assert indices == list(range(tree.size(session)))


def _piece(reference: str) -> dict:
    return {
        "reference": reference,
        "kind": "ring",
        "title": "Кольцо",
        "metal": "gold",
        "fineness": 585,
        "weight_g": "2.5",
    }
