"""`registry log verify` catches what is changed behind the registry's back, by SQL.

Each test writes a small history through the API (certificates issued, one revoked, one
reissued, an assay failed), changes the database directly as an operator with database
access could, and expects the command to exit non-zero naming the entry concerned.
"""

import base64
import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from keys import note
from registry import accounts, cli
from registry.edge import database
from registry.log import ledger, merkle
from tests.factories import assay_data, bearer, certify, piece_data


@pytest.fixture
def verify(env):
    def run(*args):
        return CliRunner().invoke(cli.main, ["log", "verify", *args], env=env)

    return run


@pytest.fixture
def history(app, client, world):
    """Four certificates (one revoked, one superseded by a fifth) and a failed assay:
    five assays in all, since a reissue stands on its assay."""
    codes = [certify(client, world)[1]["code"] for _ in range(4)]
    inspector = bearer(world.inspector)
    revoked = client.post(
        f"/api/v1/certificates/{codes[1]}/revoke",
        json={"reason": "piece_lost_or_stolen", "note": "Reported stolen at the fair"},
        headers=inspector,
    )
    assert revoked.status_code == 200, revoked.json
    reissued = client.post(
        f"/api/v1/certificates/{codes[2]}/reissue",
        json={"title": "Кольцо «Енисей» II", "note": "Title corrected"},
        headers=inspector,
    )
    assert reissued.status_code == 201, reissued.json
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    failed = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(result="failed", fineness=375),
        headers=inspector,
    )
    assert failed.status_code == 201, failed.json
    return {"codes": codes, "revoked": codes[1], "superseded": codes[2]}


def _index(sql, action: str, nth: int = 0) -> int:
    rows = sql("SELECT log_index FROM event WHERE action = :a ORDER BY log_index", a=action)
    return [row[0] for row in rows][nth]


def _entry(sql, index: int) -> bytes:
    value = sql("SELECT entry FROM event WHERE log_index = :i", i=index).scalar_one()
    return bytes(value)


def _rebuild_tree(sql) -> int:
    """Every node recomputed from the entries as they now are, as a careful forger would;
    the number of entries."""
    rows = sql("SELECT entry FROM event ORDER BY log_index").all()
    sql("DELETE FROM log_node")
    builder = merkle.Builder()
    for (entry,) in rows:
        for (level, i), value in builder.append(merkle.leaf_hash(bytes(entry))):
            sql(
                'INSERT INTO log_node (level, "index", hash) VALUES (:l, :i, :h)',
                l=level,
                i=i,
                h=value,
            )
    return builder.size


def _fails_at(result, index: int, kind: str) -> None:
    assert result.exit_code != 0, result.output
    assert f"first discrepancy at entry {index} ({kind})" in result.output, result.output


def test_an_untouched_log_verifies(history, verify):
    result = verify()
    assert result.exit_code == 0, result.output
    assert "log verified:" in result.output
    assert "5 certificates" in result.output and "5 assays" in result.output


def test_an_edited_entry_is_named(history, verify, sql):
    index = _index(sql, "assay:passed", 1)
    changed = _entry(sql, index).replace(b'"fineness":585', b'"fineness":750')
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=changed, i=index)
    _fails_at(verify(), index, "altered entry")


def test_a_deleted_entry_is_named(history, verify, sql):
    index = _index(sql, "piece:registered", 2)
    sql("DELETE FROM event WHERE log_index = :i", i=index)
    _fails_at(verify(), index, "missing")


def test_two_reordered_entries_are_named(history, verify, sql):
    first = _index(sql, "assay:passed", 0)
    second = _index(sql, "certificate:issued", 0)
    sql("UPDATE event SET log_index = 999999 WHERE log_index = :i", i=first)
    sql("UPDATE event SET log_index = :a WHERE log_index = :b", a=first, b=second)
    sql("UPDATE event SET log_index = :b WHERE log_index = 999999", b=second)
    _fails_at(verify(), first, "altered entry")


def test_a_forged_entry_is_named(history, verify, sql):
    size = sql("SELECT size FROM log_head").scalar_one()
    forged = json.dumps(
        {"action": "certificate:revoked", "at": "2026-01-01T00:00:00.000000Z"},
        separators=(",", ":"),
    ).encode()
    sql(
        "INSERT INTO event (log_index, action, occurred_at, actor_role, entry) "
        "VALUES (:i, 'certificate:revoked', CURRENT_TIMESTAMP, 'system', :e)",
        i=size,
        e=forged,
    )
    _fails_at(verify(), size, "beyond the head")
    # A careful forger grows the head and stores the leaf too: no checkpoint signs it.
    sql("UPDATE log_head SET size = size + 1")
    sql(
        'INSERT INTO log_node (level, "index", hash) VALUES (0, :i, :h)',
        i=size,
        h=merkle.leaf_hash(forged),
    )
    result = verify()
    _fails_at(result, size, "unproven entry")  # it carries no MAC of the registry's
    assert f"entry {size}: unsigned:" in result.output  # and no checkpoint signs it


def test_an_edited_certificate_is_named(history, verify, sql):
    code = history["codes"][0]
    payload = bytes(sql("SELECT payload FROM certificate WHERE code = :c", c=code).scalar_one())
    sql(
        "UPDATE certificate SET payload = :p WHERE code = :c",
        p=payload.replace(b'"fineness":585', b'"fineness":999'),
        c=code,
    )
    issued = sql(
        "SELECT e.log_index FROM event e JOIN certificate c ON c.id = e.certificate_id "
        "WHERE c.code = :c AND e.action = 'certificate:issued'",
        c=code,
    ).scalar_one()
    result = verify()
    _fails_at(result, issued, "record differs")
    assert f"certificate {code}'s payload is not the one issued" in result.output


def test_a_deleted_revocation_event_is_named(history, verify, sql):
    index = _index(sql, "certificate:revoked")
    sql("DELETE FROM event WHERE log_index = :i", i=index)
    result = verify()
    _fails_at(result, index, "missing")
    assert f"certificate {history['revoked']} has a revocation the log never recorded" in (
        result.output
    )


def test_an_undone_revocation_is_named(history, verify, sql):
    code = history["revoked"]
    sql(
        "UPDATE certificate SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
        "revocation_note = NULL WHERE code = :c",
        c=code,
    )
    result = verify()
    _fails_at(result, _index(sql, "certificate:revoked"), "record differs")
    assert f"certificate {code} is valid in the database; the log says revoked" in result.output


def test_a_rebuilt_tree_still_fails_its_signed_checkpoints(history, verify, sql):
    """Whoever edits an entry and recomputes every node still cannot sign the new root."""
    index = _index(sql, "assay:passed", 2)
    changed = _entry(sql, index).replace(b'"fineness":585', b'"fineness":750')
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=changed, i=index)
    _rebuild_tree(sql)
    result = verify()
    assert result.exit_code != 0
    # Named first as what it is: an entry whose bytes the registry's MAC does not cover.
    assert f"first discrepancy at entry {index} (unproven entry)" in result.output
    assert "has another root than the stored entries" in result.output


def test_a_hidden_event_is_named(history, verify, sql):
    """Moving an event to another piece in the audit columns would hide it from a search."""
    index = _index(sql, "certificate:revoked")
    sql("UPDATE event SET piece_id = NULL WHERE log_index = :i", i=index)
    result = verify()
    _fails_at(result, index, "record differs")
    assert "the event row's piece is None" in result.output


def test_an_altered_checkpoint_is_named(history, verify, sql):
    newest = sql("SELECT id, tree_size, note FROM checkpoint ORDER BY id DESC").first()
    lines = newest.note.split("\n")
    lines[2] = "A" * 43 + "="  # another root, same length
    sql("UPDATE checkpoint SET note = :n WHERE id = :i", n="\n".join(lines), i=newest.id)
    result = verify()
    _fails_at(result, newest.tree_size - 1, "checkpoint")
    assert "does not hold" in result.output


def test_the_url_audit_checks_proofs_and_remembers_the_checkpoint(
    history, client, world, verify, live, tmp_path
):
    state = tmp_path / "seen.txt"
    first = verify("--url", live, "--state", str(state), "--samples", "8")
    assert first.exit_code == 0, first.output
    assert "is signed and consistent" in first.output
    seen = state.read_text()
    certify(client, world)
    second = verify("--url", live, "--state", str(state))
    assert second.exit_code == 0, second.output
    assert state.read_text() != seen  # the newer checkpoint replaces it
    size = int(seen.split("\n")[1])
    assert f"consistent with the one of {size};" in second.output


def test_the_url_audit_refuses_a_tree_that_changed(history, verify, live, sql):
    """A node the proofs are built from, changed: the served proofs no longer lead to
    the signed root."""
    sql("UPDATE log_node SET hash = :h WHERE level = 0", h=b"\x11" * 32)
    result = verify("--url", live, "--samples", "4")
    assert result.exit_code != 0
    assert "does not hold" in result.output
    assert "fails" in result.output or "not proved" in result.output


def test_the_url_audit_refuses_a_checkpoint_from_another_key(history, verify, live, tmp_path):
    other = "registry.test/log+00000000+" + "A" * 44
    result = verify("--url", live, "--key", other)
    assert result.exit_code != 0
    assert "does not hold" in result.output


def test_the_url_audit_refuses_a_log_that_forked(history, verify, live, tmp_path, sql):
    """A saved checkpoint of the same size with another root: two views of one log."""
    state = tmp_path / "seen.txt"
    assert verify("--url", live, "--state", str(state)).exit_code == 0
    saved = state.read_text().split("\n")
    saved[2] = "B" * 43 + "="
    state.write_text("\n".join(saved))
    result = verify("--url", live, "--state", str(state))
    assert result.exit_code != 0
    assert "saved" in result.output and "does not hold" in result.output


def test_a_log_rewritten_with_its_checkpoints_is_neither_signed_nor_missed(
    history, client, world, verify, sql, caplog
):
    """The revocation removed, later entries renumbered, the tree rebuilt and the
    checkpoints after it deleted: the database agrees with itself, but not with the
    checkpoint that the signer keeps outside it."""
    code = history["revoked"]
    removed = _index(sql, "certificate:revoked")
    sql("DELETE FROM event WHERE log_index = :i", i=removed)
    later = [r[0] for r in sql("SELECT log_index FROM event WHERE log_index > :i", i=removed)]
    for index in sorted(later):
        sql("UPDATE event SET log_index = :n WHERE log_index = :i", n=index - 1, i=index)
    sql("UPDATE log_head SET size = :n", n=_rebuild_tree(sql))
    sql("DELETE FROM checkpoint WHERE tree_size > :i", i=removed)
    sql(
        "UPDATE certificate SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
        "revocation_note = NULL WHERE code = :c",
        c=code,
    )
    before = sql("SELECT count(*) FROM checkpoint").scalar_one()

    certify(client, world)  # the registry goes on taking writes, but signs none of them
    assert sql("SELECT count(*) FROM checkpoint").scalar_one() == before
    assert "does not extend the last checkpoint signed" in caplog.text
    refused = client.post("/api/v1/log/checkpoint", headers=bearer(world.inspector))
    assert refused.status_code == 503
    assert "rewritten" in refused.json["detail"]

    result = verify()
    assert result.exit_code != 0
    # The renumbered entries no longer carry MACs of their new places, and the tree they
    # make is not the one signed last.
    assert f"first discrepancy at entry {removed} (unproven entry)" in result.output
    assert ": rewritten: the entries no longer make the tree" in result.output, result.output


def test_a_bulk_import_signs_one_checkpoint(history, client, world, sql):
    rows = [piece_data() for _ in range(25)]
    before = sql("SELECT count(*) FROM checkpoint").scalar_one()
    report = client.post("/api/v1/pieces/import", json=rows, headers=bearer(world.maker))
    assert report.status_code == 200 and report.json["created"] == 25, report.json
    assert sql("SELECT count(*) FROM checkpoint").scalar_one() == before + 1
    newest = sql("SELECT tree_size FROM checkpoint ORDER BY id DESC").first()[0]
    assert newest == sql("SELECT size FROM log_head").scalar_one()


def test_a_damaged_tree_does_not_take_the_verdict_down(history, client, sql, verify):
    code = history["codes"][0]
    sql("DELETE FROM log_node WHERE level = 0")
    answer = client.get(f"/api/v1/verify/{code}")
    assert answer.status_code == 200
    assert answer.json["status"] == "valid"
    assert answer.json["log"]["inclusion"] is None
    assert client.get(f"/v/{code}").status_code == 200
    result = verify()
    assert result.exit_code != 0 and "(altered entry)" in result.output


def test_a_checkpoint_of_an_unknown_key_is_served_without_a_verifier_key(
    history, client, sql, verify
):
    sql("UPDATE checkpoint SET kid = 'not-a-key'")
    answer = client.get("/api/v1/log/checkpoint")
    assert answer.status_code == 200
    assert answer.json["verifier_key"] is None
    assert "differs from its note" in verify().output  # the note says which key signed


def test_a_back_dated_checkpoint_is_named(history, sql, verify):
    newest = sql("SELECT id, tree_size FROM checkpoint ORDER BY id DESC").first()
    sql(
        "UPDATE checkpoint SET made_at = :t WHERE id = :i",
        t=datetime(2020, 1, 1),
        i=newest.id,
    )
    result = verify()
    _fails_at(result, newest.tree_size - 1, "checkpoint")
    assert f"checkpoint {newest.id} differs from its note" in result.output


def test_an_empty_entry_is_served_as_valid_json(history, client, world, sql):
    index = _index(sql, "piece:registered")
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=b"{}", i=index)
    page = client.get(
        f"/api/v1/audit/events?after={index - 1}&limit=1", headers=bearer(world.inspector)
    )
    assert page.status_code == 200
    assert page.json["events"] == [{"index": index}]
    entries = client.get(f"/api/v1/log/entries?start={index}&limit=1")
    assert entries.json["entries"] == [{"index": index, "entry": {}}]


def test_the_url_audit_trusts_a_pinned_key_for_its_own_log_only(history, client, verify, live):
    vkey = client.get("/api/v1/log/checkpoint").json["verifier_key"]
    assert verify("--url", live, "--key", vkey).exit_code == 0
    name, _, encoded = vkey.split("+", 2)
    public = base64.b64decode(encoded)[1:]
    elsewhere = note.verifier_key("other.example/log", public)
    result = verify("--url", live, "--key", elsewhere)
    assert result.exit_code != 0 and "does not hold" in result.output


def test_the_url_audit_says_when_it_could_not_ask(verify):
    result = verify("--url", "http://127.0.0.1:9", "--samples", "1")
    assert result.exit_code != 0
    assert "could not be audited" in result.output


def test_pinned_verifier_keys_are_read_whatever_their_base64_holds():
    """A vkey's base64 may hold '+', the separator of its three parts."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from registry.log import remote

    publics = [
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        for _ in range(64)
    ]
    vkeys = [note.verifier_key("registry.test/log", public) for public in publics]
    assert any("+" in vkey.split("+", 2)[2] for vkey in vkeys)  # the case that once failed
    trusted = remote.pinned_keys(vkeys)
    assert sorted(trusted.keys.values()) == sorted(publics)
    assert trusted.names == {"registry.test/log"}


def test_a_back_door_account_is_named(history, verify, sql):
    sql(
        "INSERT INTO account (email, role, created_at) "
        "VALUES ('night@shift.example', 'admin', CURRENT_TIMESTAMP)"
    )
    result = verify()
    assert result.exit_code != 0
    assert "(unlogged record)" in result.output and "was never created" in result.output


def test_a_raised_role_is_named(history, verify, sql):
    sql("UPDATE account SET role = 'admin' WHERE email = 'inspector@test.example'")
    result = verify()
    assert result.exit_code != 0
    assert "role or maker is not the one it was created with" in result.output


def test_a_revived_token_is_named(history, verify, sql):
    sql("UPDATE api_token SET revoked_at = NULL")
    result = verify()
    assert result.exit_code != 0
    assert "was revoked; the database lets it in again" in result.output


def test_an_altered_maker_and_piece_are_named(history, world, verify, sql):
    sql("UPDATE maker SET mark = 'FAKE1' WHERE slug = :s", s=world.maker_slug)
    sql("UPDATE piece SET fineness = 750 WHERE id = (SELECT min(id) FROM piece)")
    result = verify()
    assert result.exit_code != 0
    assert f"maker {world.maker_slug} was altered" in result.output
    assert "piece 1 was altered" in result.output


def test_a_photo_swapped_under_its_name_is_named(client, world, verify, sql):
    from tests.test_photos import jpeg

    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    sent = client.put(
        f"/api/v1/pieces/{piece['id']}/photo",
        data=jpeg(),
        content_type="image/jpeg",
        headers=bearer(world.maker),
    )
    assert sent.status_code in (200, 201), sent.json
    assert verify().exit_code == 0
    sql("UPDATE photo SET data = :d", d=jpeg(size=(60, 30)))
    result = verify()
    assert result.exit_code != 0
    assert "'s image is not" in result.output


def test_a_certified_piece_altered_from_what_its_certificate_signs_is_named(history, verify, sql):
    code = history["codes"][0]
    piece = sql("SELECT piece_id FROM certificate WHERE code = :c", c=code).scalar_one()
    sql("UPDATE piece SET title = 'Кольцо «Ангара»', weight_cg = 500 WHERE id = :p", p=piece)
    result = verify()
    assert result.exit_code != 0
    assert f"piece {piece}'s title is not what its certificate signs" in result.output
    assert f"piece {piece}'s weight is not what its certificate signs" in result.output


def _set_password(app, email: str, password: str) -> None:
    with app.app_context():
        session = database.session()
        account = accounts.by_email(session, email)
        accounts.set_password(session, account, password, actor=account)
        session.commit()


def test_a_log_mixing_plain_and_keyed_commitments_verifies_and_names_a_changed_e_mail(
    app, client, world, verify, sql, monkeypatch
):
    admin = bearer(world.admin)
    # Entries written before commitments were keyed named private values by plain SHA-256.
    with monkeypatch.context() as before:
        before.setattr(ledger, "commitment", lambda session, value: ledger.digest(value))
        old = client.post(
            "/api/v1/accounts",
            json={"email": "old@test.example", "role": "inspector"},
            headers=admin,
        )
        assert old.status_code == 201, old.json
        _set_password(app, "old@test.example", "first-birch-taiga-1")
        certify(client, world, uin="6431000012345678", assay={"notes": "Logged in plain"})
    plain = ledger.digest("old@test.example").encode()
    assert any(plain in bytes(row[0]) for row in sql("SELECT entry FROM event"))
    # Then keyed, for the same account and for new ones.
    token = client.post(
        f"/api/v1/accounts/{old.json['id']}/tokens", json={"name": "after"}, headers=admin
    )
    assert token.status_code == 201, token.json
    _set_password(app, "old@test.example", "second-birch-taiga-2")
    new = client.post(
        "/api/v1/accounts", json={"email": "new@test.example", "role": "inspector"}, headers=admin
    )
    assert new.status_code == 201, new.json
    certify(client, world, uin="6431000087654321", assay={"notes": "Logged keyed"})
    entries = b"".join(bytes(row[0]) for row in sql("SELECT entry FROM event"))
    assert b'"hmac-sha256:' in entries and b'"sha256:' in entries

    result = verify()
    assert result.exit_code == 0, result.output

    sql("UPDATE account SET email = 'changed@test.example' WHERE id = :i", i=old.json["id"])
    result = verify()
    assert result.exit_code != 0
    assert f"account {old.json['id']} was never created" in result.output


def _photographed(client, world, data: bytes) -> int:
    """A piece of world.maker's with this photo, set through the API; its id."""
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    sent = client.put(
        f"/api/v1/pieces/{piece['id']}/photo",
        data=data,
        content_type="image/jpeg",
        headers=bearer(world.maker),
    )
    assert sent.status_code == 200, sent.json
    return piece["id"]


def _swap(sql, first: int, second: int, columns: str) -> None:
    """Swap `columns` between the photos of pieces `first` and `second`, by hand."""
    photo = "(SELECT photo_id FROM piece WHERE id = :p)"
    rows = {
        p: sql(f"SELECT {columns} FROM photo WHERE id = {photo}", p=p).one()  # noqa: S608 - test SQL
        for p in (first, second)
    }
    names = [c.strip() for c in columns.split(",")]
    for p, other in ((first, second), (second, first)):
        assignments = ", ".join(f"{n} = :{n}" for n in names)
        values = dict(zip(names, rows[other], strict=True))
        sql(f"UPDATE photo SET {assignments} WHERE id = {photo}", p=p, **values)  # noqa: S608


def test_swapped_thumbnails_are_named(client, world, verify, sql):
    from tests.test_photos import jpeg

    first = _photographed(client, world, jpeg())
    second = _photographed(client, world, jpeg(size=(60, 30)))
    assert verify().exit_code == 0
    _swap(sql, first, second, "thumb")

    result = verify()

    assert result.exit_code != 0, result.output
    assert f"piece {first}'s thumbnail is not the one set" in result.output
    assert f"piece {second}'s thumbnail is not the one set" in result.output


def test_swapped_thumbnails_with_their_recorded_hashes_are_named(client, world, verify, sql):
    from tests.test_photos import jpeg

    first = _photographed(client, world, jpeg())
    second = _photographed(client, world, jpeg(size=(60, 30)))
    _swap(sql, first, second, "thumb, thumb_sha256")

    result = verify()

    assert result.exit_code != 0, result.output
    assert f"piece {first}'s thumbnail is not the one set" in result.output


def test_a_thumbnail_set_before_the_log_recorded_its_hash_is_reported_unchecked(
    app, client, world, verify
):
    """An entry written before the log recorded thumbnails names the photo alone: its
    thumbnail cannot be made again from the photo (it was made from the upload), so it is
    reported as not checked, which is no discrepancy."""
    from registry import photos
    from registry.models import Piece
    from schemas.standards import EventType
    from tests.test_photos import jpeg

    piece_id = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json[
        "id"
    ]
    with app.app_context():
        session = database.session()
        maker = accounts.authenticate(session, bearer(world.maker)["Authorization"]).account
        piece = session.get(Piece, piece_id)
        piece.photo = photos._stored(session, photos._encode(jpeg(), photos.Limits()))
        ledger.append(
            session,
            EventType.PIECE_PHOTO_SET,
            actor=maker,
            maker=piece.maker,
            piece=piece,
            data={"sha256": piece.photo.sha256},  # as the registry wrote it before
        )
        session.commit()

    result = verify()

    assert result.exit_code == 0, result.output
    assert "1 thumbnail set before the log recorded thumbnails is not checked" in result.output
