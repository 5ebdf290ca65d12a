"""Batch attestation: an inspector attests the pieces a workshop brought in one request
(POST /api/v1/assays/batch); each piece passes, fails or is refused on its own, and the
report says exactly which."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from registry import cli
from registry.edge import database
from registry.models import AssayRecord, Certificate, Event, LogHead, Piece
from tests.factories import assay_data, bearer, piece_data

BATCH = "/api/v1/assays/batch"


def _register(client, token: str, count: int, **overrides) -> list[int]:
    rows = [piece_data(**overrides) for _ in range(count)]
    answer = client.post("/api/v1/pieces/import", json=rows, headers=bearer(token))
    assert answer.status_code == 200, answer.json
    assert answer.json["rejected"] == 0
    return [row["piece_id"] for row in answer.json["rows"]]


def _verify(env) -> None:
    result = CliRunner().invoke(cli.main, ["log", "verify"], env=env)
    assert result.exit_code == 0, result.output


def test_a_batch_with_shared_findings_certifies_each_piece_and_the_log_holds(
    client, world, app, env
):
    ids = _register(client, world.maker, 5)
    answer = client.post(
        BATCH,
        json={
            "defaults": assay_data(),
            "pieces": [
                {"piece_id": ids[0]},
                {"piece_id": ids[1], "assay_mark": "585-KRS-OTHER"},
                {"piece_id": ids[2], "result": "failed", "fineness": 500, "notes": "Low."},
                {"piece_id": ids[3]},
                {"piece_id": ids[4]},
            ],
        },
        headers=bearer(world.inspector),
    )
    assert answer.status_code == 200, answer.json
    report = answer.json
    assert (report["passed"], report["failed"], report["rejected"]) == (4, 1, 0)
    assert [p["item"] for p in report["pieces"]] == [1, 2, 3, 4, 5]
    assert [p["status"] for p in report["pieces"]] == [
        "passed",
        "passed",
        "failed",
        "passed",
        "passed",
    ]
    assert report["pieces"][2]["certificate"] is None
    for piece in report["pieces"]:
        assert piece["errors"] == {}
        if piece["status"] == "passed":
            verdict = client.get(f"/api/v1/verify/{piece['certificate']}")
            assert verdict.status_code == 200
            assert verdict.json["status"] == "valid"
            assert verdict.json["certificate"]["piece"]["reference"]
    second = client.get(f"/api/v1/verify/{report['pieces'][1]['certificate']}").json
    assert second["certificate"]["assay"]["mark"] == "585-KRS-OTHER"
    failed = client.get(f"/api/v1/pieces/{ids[2]}", headers=bearer(world.inspector)).json
    assert failed["status"] == "assay_failed"
    with app.app_context():
        session = database.session()
        actions = session.scalars(
            select(Event.action).where(Event.piece_id.in_(ids)).order_by(Event.log_index)
        ).all()
    # Each piece's registration, then, in the batch's order, its attestation and certificate.
    assert actions[5:] == [
        "assay:passed",
        "certificate:issued",
        "assay:passed",
        "certificate:issued",
        "assay:failed",
        "assay:passed",
        "certificate:issued",
        "assay:passed",
        "certificate:issued",
    ]
    _verify(env)


def test_each_piece_is_refused_alone_with_its_reason(client, world, app):
    ids = _register(client, world.maker, 4)
    certified = client.post(
        f"/api/v1/pieces/{ids[0]}/assay", json=assay_data(), headers=bearer(world.inspector)
    )
    assert certified.status_code == 201
    answer = client.post(
        BATCH,
        json={
            "defaults": assay_data(),
            "pieces": [
                {"piece_id": ids[0]},  # certified already
                {"piece_id": 999_999},  # no such piece
                {"piece_id": ids[1], "metal": "silver", "fineness": 925},  # a pass, not gold
                {"piece_id": ids[2], "fineness": 600},  # no such fineness of gold
                {"piece_id": ids[3]},
                {"piece_id": ids[3]},  # named twice
                {"piece_id": "x"},
                {"result": "passed"},
            ],
        },
        headers=bearer(world.inspector),
    )
    assert answer.status_code == 200, answer.json
    report = answer.json
    assert (report["passed"], report["failed"], report["rejected"]) == (1, 0, 7)
    by_item = {p["item"]: p for p in report["pieces"]}
    assert by_item[5]["status"] == "passed" and by_item[5]["certificate"]
    assert "certified" in by_item[1]["errors"]["_schema"][0]
    assert by_item[2]["errors"] == {"_schema": ["No piece 999999."]}
    assert by_item[3]["errors"]["metal"] == ["Declared metal is gold."]
    assert "fineness" in by_item[4]["errors"]
    assert "twice" in by_item[6]["errors"]["_schema"][0]
    assert "piece_id" in by_item[7]["errors"] and by_item[7]["piece_id"] is None
    assert by_item[8]["errors"]["piece_id"]
    with app.app_context():
        session = database.session()
        # Nothing of a refused piece was stored: one assay each for the two passes.
        assays = session.scalar(
            select(func.count()).select_from(AssayRecord).where(AssayRecord.piece_id.in_(ids))
        )
        assert assays == 2
        found = session.execute(select(Piece.id, Piece.status).where(Piece.id.in_(ids)))
        statuses = {piece_id: status for piece_id, status in found}
    assert statuses == {
        ids[0]: "certified",
        ids[1]: "awaiting_assay",
        ids[2]: "awaiting_assay",
        ids[3]: "certified",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pieces": []}, "pieces"),
        ({"defaults": assay_data(metal="tin"), "pieces": [{"piece_id": 1}]}, "defaults"),
        ({"pieces": "1,2,3"}, "pieces"),
        ({"defaults": assay_data()}, "pieces"),
    ],
)
def test_a_batch_that_cannot_be_read_is_refused_whole(client, world, body, field):
    answer = client.post(BATCH, json=body, headers=bearer(world.inspector))
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert field in answer.json["errors"]


def test_a_batch_over_the_limit_is_refused_before_anything_is_stored(client, world, app):
    app.config["ASSAY_BATCH_MAX_PIECES"] = 3
    ids = _register(client, world.maker, 4)
    answer = client.post(
        BATCH,
        json={"defaults": assay_data(), "pieces": [{"piece_id": i} for i in ids]},
        headers=bearer(world.inspector),
    )
    assert answer.status_code == 422
    assert answer.json["errors"] == {"pieces": ["At most 3 pieces."]}
    with app.app_context():
        assert database.session().scalar(select(func.count()).select_from(Certificate)) == 0


def test_only_an_inspector_attests_a_batch(client, world):
    ids = _register(client, world.maker, 1)
    body = {"defaults": assay_data(), "pieces": [{"piece_id": ids[0]}]}
    assert client.post(BATCH, json=body).status_code == 401
    for token in (world.maker, world.admin, world.shop):
        answer = client.post(BATCH, json=body, headers=bearer(token))
        assert answer.status_code == 403, token


def test_ten_thousand_pieces_with_fifty_bad_ones_scattered_are_reported_exactly(client, world, app):
    """The import of 10,000 rows with 50 bad ones, then the batch attestation of what it
    registered with 50 bad items: each report names exactly the bad ones, and the log
    holds exactly one entry per event stored."""
    bad = set(range(7, 10_000, 200))
    assert len(bad) == 50
    rows = []
    for number in range(10_000):
        row = piece_data(reference=f"TEN-{number:05d}")
        if number in bad:
            row["fineness"] = 600  # no such fineness of gold
        rows.append(row)
    imported = client.post("/api/v1/pieces/import", json=rows, headers=bearer(world.maker)).json
    assert (imported["created"], imported["rejected"]) == (9_950, 50)
    refused = {row["row"] - 1 for row in imported["rows"] if row["status"] == "rejected"}
    assert refused == bad
    assert all(set(r["errors"]) == {"fineness"} for r in imported["rows"] if r["row"] - 1 in bad)
    ids = [row["piece_id"] for row in imported["rows"] if row["status"] == "created"]

    items = [{"piece_id": piece_id} for piece_id in ids]
    wrong = set(range(11, 9_950, 199))
    assert len(wrong) == 50
    for number in wrong:
        items[number] = {"piece_id": ids[number], "metal": "silver", "fineness": 925}
    answer = client.post(
        BATCH, json={"defaults": assay_data(), "pieces": items}, headers=bearer(world.inspector)
    )
    assert answer.status_code == 200
    report = answer.json
    assert (report["passed"], report["failed"], report["rejected"]) == (9_900, 0, 50)
    assert {p["item"] - 1 for p in report["pieces"] if p["status"] == "rejected"} == wrong
    assert len({p["certificate"] for p in report["pieces"] if p["certificate"]}) == 9_900
    with app.app_context():
        session = database.session()
        size = session.scalar(select(LogHead.size))
        indices = session.scalars(select(Event.log_index).order_by(Event.log_index)).all()
        certificates = session.scalar(select(func.count()).select_from(Certificate))
    assert indices == list(range(size))
    assert certificates == 9_900
