"""Someone who can write the database but not read the keys directory can neither get an
entry of theirs signed nor make a scan show a state they wrote (registry/log/proofs.py).

Each test writes a little through the API, then changes the database by SQL, as a leaked
backup restored with changes, an SQL injection or a careless operator would.
"""

import logging

from click.testing import CliRunner

from registry import cli
from registry.edge import database
from registry.log import tree
from registry.models import Event
from tests.factories import bearer, certify, piece_data, sign_in, with_passwords

FORGED = (
    b'{"action":"certificate:revoked","actor":{"id":1,"role":"inspector"},'
    b'"at":"2026-12-01T10:00:00.000000Z","certificate":null,"data":{"note":"","reason":'
    b'"fraud"},"maker":null,"piece":null}'
)


def _forge_entry(app, *, mac=None) -> int:
    """An entry appended with the registry's own tree code and a matching event row."""
    with app.app_context():
        session = database.session()
        tree.lock(session)
        index = tree.append(session, FORGED)
        session.add(
            Event(
                log_index=index,
                action="certificate:revoked",
                actor_role="inspector",
                entry=FORGED,
                mac=mac,
            )
        )
        session.commit()
        return index


def _checkpoints(sql) -> int:
    return sql("SELECT count(*) FROM checkpoint").scalar_one()


def _log_verify(env, *args):
    return CliRunner().invoke(cli.main, ["log", "verify", *args], env=env)


def test_an_entry_added_by_hand_is_never_signed(app, client, world, sql, env, caplog):
    code = certify(client, world)[1]["code"]
    before = _checkpoints(sql)
    index = _forge_entry(app)

    caplog.set_level(logging.ERROR)
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert made.status_code == 201  # the write itself stands…
    assert _checkpoints(sql) == before  # …but no checkpoint signs over the forged entry
    assert f"Entry {index} of the log has no valid MAC" in caplog.text

    refused = client.post("/api/v1/log/checkpoint", headers=bearer(world.inspector))
    assert refused.status_code == 503
    assert f"Entry {index}" in refused.json["detail"]
    # Reads go on.
    assert client.get(f"/api/v1/verify/{code}").json["status"] == "valid"
    assert client.get("/api/v1/log/checkpoint").status_code == 200

    result = _log_verify(env)
    assert result.exit_code != 0
    assert f"first discrepancy at entry {index} (unproven entry)" in result.output


def test_a_genuine_mac_moved_to_a_forged_entry_does_not_prove_it(app, client, world, sql):
    certify(client, world)
    genuine = sql("SELECT mac FROM event ORDER BY log_index DESC LIMIT 1").scalar_one()
    before = _checkpoints(sql)
    _forge_entry(app, mac=genuine)
    client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert _checkpoints(sql) == before


def test_the_cli_refuses_to_sign_over_a_forged_entry(app, client, world, env):
    certify(client, world)
    index = _forge_entry(app)
    result = CliRunner().invoke(cli.main, ["log", "checkpoint"], env=env)
    assert result.exit_code != 0
    assert f"Entry {index} of the log" in result.output


def _revoke(client, world, code, reason="piece_lost_or_stolen"):
    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": reason, "note": "Reported stolen"},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200, revoked.json


def _scan(client, code):
    verdict = client.get(f"/api/v1/verify/{code}").json
    page = client.get(f"/v/{code}").get_data(as_text=True)
    return verdict, page


def test_a_stolen_certificate_set_back_to_valid_reads_not_valid(client, world, sql):
    code = certify(client, world)[1]["code"]
    _revoke(client, world, code)
    sql(
        "UPDATE certificate SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
        "revocation_note = NULL WHERE code = :c",
        c=code,
    )
    verdict, page = _scan(client, code)
    assert verdict["status"] == "invalid"
    assert verdict["signature"]["valid"] is False
    assert "changed outside the registry" in verdict["signature"]["problem"].replace(
        "altered", "changed"
    )
    assert verdict["revocation"] is None and verdict["superseded_by"] is None
    assert "Authentic" not in page and "Not valid" in page


def test_an_earlier_genuine_state_restored_into_the_row_reads_not_valid(client, world, sql):
    """The row as it was before the revocation, seal and all (from a leaked backup): the
    revocation's entry is still in the log, so the old seal no longer holds."""
    code = certify(client, world)[1]["code"]
    saved = sql("SELECT status, state_seal FROM certificate WHERE code = :c", c=code).one()
    _revoke(client, world, code)
    sql(
        "UPDATE certificate SET status = :s, state_seal = :seal, revoked_at = NULL, "
        "revocation_reason = NULL, revocation_note = NULL WHERE code = :c",
        s=saved.status,
        seal=saved.state_seal,
        c=code,
    )
    verdict, page = _scan(client, code)
    assert verdict["status"] == "invalid"
    assert "Authentic" not in page


def test_a_revoked_certificate_shows_as_revoked_and_a_seal_swapped_in_fails(client, world, sql):
    first = certify(client, world)[1]["code"]
    second = certify(client, world)[1]["code"]
    _revoke(client, world, first)
    assert _scan(client, first)[0]["status"] == "revoked"
    assert _scan(client, second)[0]["status"] == "valid"
    # The other certificate's seal proves nothing for this row.
    seal = sql("SELECT state_seal FROM certificate WHERE code = :c", c=second).scalar_one()
    sql("UPDATE certificate SET state_seal = :s WHERE code = :c", s=seal, c=first)
    assert _scan(client, first)[0]["status"] == "invalid"


def test_a_superseded_certificate_pointed_elsewhere_reads_not_valid(client, world, sql):
    code = certify(client, world)[1]["code"]
    reissued = client.post(
        f"/api/v1/certificates/{code}/reissue",
        json={"title": "Кольцо «Енисей» II", "note": "Title corrected"},
        headers=bearer(world.inspector),
    )
    assert reissued.status_code == 201, reissued.json
    verdict = _scan(client, code)[0]
    assert verdict["status"] == "superseded"
    assert verdict["superseded_by"] == reissued.json["code"]
    # Made current again by hand, its successor put aside: not believed.
    sql(
        "UPDATE certificate SET supersedes_id = NULL, status = 'superseded' WHERE code = :c",
        c=reissued.json["code"],
    )
    sql("UPDATE certificate SET status = 'valid' WHERE code = :c", c=code)
    assert _scan(client, code)[0]["status"] == "invalid"


def test_init_adopts_what_a_signed_checkpoint_covers_and_nothing_beyond(
    app, client, world, sql, env
):
    """Rows stored before proofs existed get them at `registry init`, where a checkpoint
    the registry signed vouches for them; an entry after it does not."""
    code = certify(client, world)[1]["code"]
    sql("UPDATE event SET mac = NULL")
    sql("UPDATE certificate SET state_seal = NULL")
    assert _scan(client, code)[0]["status"] == "invalid"
    index = _forge_entry(app)

    result = CliRunner().invoke(cli.main, ["init"], env=env)
    assert "proofs given:" in result.output
    assert "1 log entries carry no proof" in result.output
    assert _scan(client, code)[0]["status"] == "valid"
    assert sql("SELECT mac FROM event WHERE log_index = :i", i=index).scalar_one() is None
    assert sql("SELECT count(*) FROM event WHERE mac IS NULL").scalar_one() == 1


def test_the_remote_audit_names_entries_no_checkpoint_signs(
    app, client, world, env, live, tmp_path
):
    """A forged entry served by the log but refused by the signer: a monitor that reads
    the log through its API alone says so, with and without a later write."""
    certify(client, world)
    state = tmp_path / "seen.txt"
    first = _log_verify(env, "--url", live, "--state", str(state))
    assert first.exit_code == 0, first.output
    index = _forge_entry(app)
    alone = _log_verify(env, "--url", live, "--state", str(state))
    assert alone.exit_code != 0
    assert f"from entry {index} on that no checkpoint signs" in alone.output
    client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    later = _log_verify(env, "--url", live, "--state", str(state))
    assert later.exit_code != 0
    assert f"from entry {index} on that no checkpoint signs" in later.output


def test_a_database_rolled_back_behind_the_signed_log_gives_no_verdict(client, world, sql):
    """The newest rows taken back, as a restore of an older copy would: the revocation
    and its entry gone, the row back in its earlier, genuinely sealed state."""
    code = certify(client, world)[1]["code"]
    saved = sql("SELECT state_seal FROM certificate WHERE code = :c", c=code).scalar_one()
    size = sql("SELECT size FROM log_head").scalar_one()
    _revoke(client, world, code)
    sql("DELETE FROM event WHERE log_index >= :n", n=size)
    sql('DELETE FROM log_node WHERE level = 0 AND "index" >= :n', n=size)
    sql("DELETE FROM checkpoint WHERE tree_size > :n", n=size)
    sql("UPDATE log_head SET size = :n", n=size)
    sql(
        "UPDATE certificate SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
        "revocation_note = NULL, state_seal = :s WHERE code = :c",
        s=saved,
        c=code,
    )
    verdict = client.get(f"/api/v1/verify/{code}")
    assert verdict.status_code == 503
    assert "older than its signed log" in verdict.json["detail"]
    page = client.get(f"/v/{code}")
    assert page.status_code == 503
    assert "Authentic" not in page.get_data(as_text=True)


def test_the_inspectors_log_page_says_the_signer_refuses(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example")
    assert sign_in(client, "inspector@test.example").status_code == 302
    client.set_cookie("lang", "en")
    certify(client, world)
    assert "data-signer-refuses" not in client.get("/inspector/log").get_data(as_text=True)
    index = _forge_entry(app)
    page = client.get("/inspector/log").get_data(as_text=True)
    assert "data-signer-refuses" in page
    assert f"Entry {index} of the log has no valid MAC" in page
