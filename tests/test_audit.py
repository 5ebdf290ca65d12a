"""The inspectors' audit: every record's history from the log, filtered, paged, exported."""

import csv
import gc
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from registry.edge import database
from registry.log import ledger
from tests.factories import assay_data, bearer, certify, piece_data


@pytest.fixture
def story(client, world):
    """Two makers' pieces: certified, revoked, reissued, failed; one with a state UIN."""
    inspector = bearer(world.inspector)
    first, certificate = certify(client, world, uin="1234567890123456")
    second, other = certify(client, world)
    revoked = client.post(
        f"/api/v1/certificates/{other['code']}/revoke",
        json={"reason": "fraud", "note": "Hallmark forged"},
        headers=inspector,
    )
    assert revoked.status_code == 200, revoked.json
    reissued = client.post(
        f"/api/v1/certificates/{certificate['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again"},
        headers=inspector,
    )
    assert reissued.status_code == 201, reissued.json
    foreign = client.post(
        "/api/v1/pieces", json=piece_data(), headers=bearer(world.other_maker)
    ).json
    failed = client.post(
        f"/api/v1/pieces/{foreign['id']}/assay",
        json=assay_data(result="failed", notes="Solder under the mark"),
        headers=inspector,
    )
    assert failed.status_code == 201, failed.json
    return {
        "piece": first,
        "code": certificate["code"],
        "new_code": reissued.json["code"],
        "revoked_piece": second,
        "foreign_piece": foreign["id"],
    }


def _events(client, world, **query) -> list[dict]:
    """Every matching event, following the cursor page by page."""
    found, after = [], None
    while True:
        params = {**query, "limit": query.get("limit", 5)}
        if after is not None:
            params["after"] = after
        page = client.get("/api/v1/audit/events", query_string=params, headers=_inspector(world))
        assert page.status_code == 200, page.json
        found += page.json["events"]
        after = page.json["next_after"]
        if after is None:
            return found


def _inspector(world) -> dict:
    return bearer(world.inspector)


def test_a_piece_history_is_complete_and_in_order(client, world, story):
    history = _events(client, world, piece=story["piece"])
    assert [e["action"] for e in history] == [
        "piece:registered",
        "assay:passed",
        "certificate:issued",
        "certificate:superseded",
        "certificate:issued",
    ]
    indices = [e["index"] for e in history]
    assert indices == sorted(indices)
    assert history[2]["certificate"] == story["code"]
    assert history[3]["data"] == {"changed": ["weight_g"], "note": "Weighed again"}
    assert history[4]["data"]["supersedes"] == story["code"]
    assert {e["piece"] for e in history} == {story["piece"]}


def test_pages_cover_the_log_once(client, world, story):
    everything = _events(client, world, limit=3)
    indices = [e["index"] for e in everything]
    assert indices == list(range(len(indices)))  # gapless, no repeats, in order
    checkpoint = client.get("/api/v1/log/checkpoint").json
    assert len(indices) == checkpoint["tree_size"]


def test_filters_combine(client, world, story):
    revocations = _events(client, world, type="certificate:revoked")
    assert len(revocations) == 1
    assert revocations[0]["data"] == {"note": "Hallmark forged", "reason": "fraud"}
    assert revocations[0]["piece"] == story["revoked_piece"]

    both = _events(client, world, type=["assay:passed", "assay:failed"])
    assert sorted(e["action"] for e in both) == ["assay:failed", "assay:passed", "assay:passed"]

    other = _events(client, world, maker=world.other_maker_slug)
    assert {e["maker"] for e in other} == {world.other_maker_slug}
    assert "assay:failed" in [e["action"] for e in other]

    by_code = _events(client, world, certificate=story["code"].lower())  # typed leniently
    assert [e["action"] for e in by_code] == ["certificate:issued", "certificate:superseded"]

    inspector_acts = _events(client, world, actor_role="inspector")
    assert inspector_acts and {e["actor"]["role"] for e in inspector_acts} == {"inspector"}
    actor = inspector_acts[0]["actor"]["id"]
    assert _events(client, world, actor=actor) == inspector_acts


def test_a_time_range(client, world, story):
    now = datetime.now(UTC)
    everything = _events(client, world)
    assert _events(client, world, since=(now - timedelta(hours=1)).isoformat()) == everything
    assert _events(client, world, until=(now - timedelta(hours=1)).isoformat()) == []
    assert _events(client, world, since=(now + timedelta(hours=1)).isoformat()) == []


def test_the_log_keeps_private_values_as_hashes(app, client, world, story):
    """The log is public: e-mail addresses, state UINs and inspectors' notes are hashed."""
    entries = client.get("/api/v1/log/entries?limit=1000").get_data(as_text=True)
    assert "@test.example" not in entries
    assert "1234567890123456" not in entries
    assert "Solder under the mark" not in entries
    plain = "sha256:" + hashlib.sha256(b"Solder under the mark").hexdigest()
    assert plain not in entries  # a keyed commitment: a guess cannot be checked
    with app.app_context():
        digest = ledger.commitment(database.session(), "Solder under the mark")
    failed = _events(client, world, type="assay:failed")[0]
    assert failed["data"]["notes"] == digest
    assert failed["data"]["result"] == "failed"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=certificate:stolen", "type"),
        ("piece=0", "piece"),
        ("piece=x", "piece"),
        ("actor=-1", "actor"),
        ("actor_role=robot", "actor_role"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T00:00:00", "since"),  # no time zone: ambiguous by seven hours
        ("since=0001-01-01T00:00:00%2B01:00", "since"),  # before year 1 in UTC
        ("until=9999-12-31T23:59:59-01:00", "until"),  # after year 9999 in UTC
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=-1", "after"),
        ("certificate=YS-0000", "certificate"),
        ("maker=Not A Slug", "maker"),
    ],
)
def test_bad_filters_are_refused_by_name(client, world, query, field):
    for path in ("/api/v1/audit/events", "/api/v1/audit/export.csv"):
        if path.endswith(".csv") and query.startswith(("limit", "after")):
            continue
        answer = client.get(f"{path}?{query}", headers=_inspector(world))
        assert answer.status_code == 400, (path, query, answer.data[:300])
        assert answer.mimetype == "application/problem+json"
        assert field in answer.json["errors"], answer.json


def test_unknown_maker_and_certificate_are_not_found(client, world):
    assert (
        client.get("/api/v1/audit/events?maker=nobody", headers=_inspector(world)).status_code
        == 404
    )
    never = client.get(
        "/api/v1/audit/events?certificate=0000-0000-0000-00U", headers=_inspector(world)
    )
    assert never.status_code in (200, 400)  # a code never issued has no events, or is mistyped
    if never.status_code == 200:
        assert never.json["events"] == []


def test_the_csv_export_is_streamed_with_every_event(client, world, story):
    answer = client.get("/api/v1/audit/export.csv", headers=_inspector(world), buffered=False)
    assert answer.status_code == 200
    assert answer.is_streamed
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert answer.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    entries = client.get("/api/v1/log/entries?limit=1000").json["entries"]
    assert [int(r["index"]) for r in rows] == [e["index"] for e in entries]
    for row, served in zip(rows, entries, strict=True):
        entry = served["entry"]
        assert row["action"] == entry["action"] and row["at"] == entry["at"]
        assert json.loads(row["data"]) == entry["data"]
        canonical = json.dumps(entry, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        assert row["leaf_hash"] == hashlib.sha256(b"\x00" + canonical.encode()).hexdigest()


def test_the_csv_export_filters_like_the_events(client, world, story):
    answer = client.get(
        f"/api/v1/audit/export.csv?piece={story['foreign_piece']}", headers=_inspector(world)
    )
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["piece:registered", "assay:failed"]
    assert {r["maker"] for r in rows} == {world.other_maker_slug}


def test_the_audit_knows_every_kind_of_event_the_log_records():
    from schemas import audit
    from schemas.standards import EventType

    (choices,) = (v.choices for v in audit.AuditEvent().fields["action"].validators)
    assert list(choices) == list(EventType)


def test_an_export_abandoned_midway_leaves_no_cursor_behind(client, world, story):
    """A client that stops reading: PostgreSQL's server-side cursor is closed with the
    response, not left to the garbage collector after its transaction is gone."""
    answer = client.get("/api/v1/audit/export.csv", headers=_inspector(world), buffered=False)
    assert next(iter(answer.response)).startswith(b"index,")
    answer.close()
    gc.collect()  # an unclosed cursor would complain here, failing the test
    again = client.get("/api/v1/audit/export.csv", headers=_inspector(world))
    assert again.status_code == 200 and again.get_data(as_text=True).count("\n") > 10
