"""The transparency log's public API: entries, proofs and signed checkpoints, checked the
way an outside auditor would, with RFC 9162's algorithms (the reference in
tests/test_merkle.py) and C2SP signed notes read here, not with the registry's own code.
"""

import base64
import hashlib
from datetime import UTC, datetime

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry import create_app, db, signing_keys
from registry.edge import database, signing
from registry.models import utcnow
from tests import factories
from tests.factories import bearer, certify, piece_data
from tests.test_merkle import Reference, ref_verify_consistency, ref_verify_inclusion

PROBLEM = "application/problem+json"
LOG = "/api/v1/log"


# What an auditor needs: the entries, the published key, a reader of signed notes.


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def leaf_of(entry: dict) -> bytes:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(entry)).digest()


def all_entries(client) -> tuple[int, list[dict]]:
    """(the log's size, every entry) through the paged entries API."""
    entries: list[dict] = []
    while True:
        page = client.get(f"{LOG}/entries?start={len(entries)}")
        assert page.status_code == 200, page.json
        entries.extend(page.json["entries"])
        if len(entries) >= page.json["tree_size"]:
            return page.json["tree_size"], entries
        assert page.json["entries"], "an empty page of a log with more entries"


def log_size(client) -> int:
    return all_entries(client)[0]


def reference(client) -> tuple[Reference, list[dict]]:
    size, entries = all_entries(client)
    assert [e["index"] for e in entries] == list(range(size)), "log indices are not 0..n-1"
    return Reference([rfc8785.dumps(e["entry"]) for e in entries]), entries


def published_key(client, kid: str) -> bytes:
    """The raw Ed25519 key `kid` of /.well-known/jwks.json."""
    keys = client.get("/.well-known/jwks.json").json["keys"]
    (jwk,) = [k for k in keys if k["kid"] == kid]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    x = jwk["x"]
    raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    assert len(raw) == 32
    return raw


def key_id(name: str, kind: int, public: bytes) -> bytes:
    """c2sp.org/signed-note: SHA-256(key name || 0x0A || signature type || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\x0a" + bytes([kind]) + public).digest()[:4]


def open_note(note: str, public: bytes) -> tuple[list[str], int]:
    """Check a checkpoint note (c2sp.org/tlog-checkpoint) signed by `public` under its
    origin's name, both with a plain Ed25519 signature (type 0x01) and a timestamped one
    (c2sp.org/tlog-cosignature, type 0x04). Returns its text lines and the signed time;
    raises InvalidSignature (or fails an assertion) otherwise."""
    assert note.endswith("\n")
    text, blank, signatures = note.partition("\n\n")
    assert blank == "\n\n"
    text += "\n"
    lines = text.split("\n")[:-1]
    origin = lines[0]
    signed = text.encode()
    found: dict[bytes, bytes] = {}
    for line in signatures.split("\n")[:-1]:
        dash, name, encoded = line.split(" ")
        assert (dash, name) == ("\u2014", origin)
        blob = b64(encoded)
        found[blob[:4]] = blob[4:]
    plain, stamped = key_id(origin, 0x01, public), key_id(origin, 0x04, public)
    assert set(found) == {plain, stamped}
    key = Ed25519PublicKey.from_public_bytes(public)
    key.verify(found[plain], signed)
    assert len(found[stamped]) == 8 + 64
    timestamp = int.from_bytes(found[stamped][:8], "big")
    key.verify(found[stamped][8:], f"cosignature/v1\ntime {timestamp}\n".encode() + signed)
    return lines, timestamp


def seconds(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def check_checkpoint(client, checkpoint: dict, tree: Reference) -> None:
    """A checkpoint as the API gives it: its note signed by the published key, saying
    what the JSON says, of the tree the entries make."""
    public = published_key(client, checkpoint["kid"])
    lines, timestamp = open_note(checkpoint["note"], public)
    size, root = checkpoint["tree_size"], checkpoint["root_hash"]
    assert lines == [checkpoint["origin"], str(size), root]
    assert checkpoint["origin"] == "registry.test/log"
    assert timestamp == seconds(checkpoint["timestamp"])
    vkey = base64.b64encode(b"\x01" + public).decode()
    plain = key_id(checkpoint["origin"], 0x01, public).hex()
    assert checkpoint["verifier_key"] == f"{checkpoint['origin']}+{plain}+{vkey}"
    assert b64(root) == tree.root(size)


def newest_checkpoint(client) -> dict:
    response = client.get(f"{LOG}/checkpoint")
    assert response.status_code == 200, response.json
    return response.json


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if field is not None:
        assert field in body["errors"], body
    return body


def attest(client, world, piece_id: int):
    return client.post(
        f"/api/v1/pieces/{piece_id}/assay",
        json=factories.assay_data(),
        headers=bearer(world.inspector),
    )


@pytest.fixture
def on_demand(database_url, tmp_path):
    """An app whose writes make no checkpoint (LOG_CHECKPOINT_ENTRIES=0), with a world."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            "LOG_CHECKPOINT_ENTRIES": 0,
        }
    )
    with app.app_context():
        world = factories.world(database.session())
    yield app.test_client(), world
    app.extensions["registry.engine"].dispose()


# A certificate in the log.


def test_a_certificates_verdict_proves_its_issue_is_in_a_signed_checkpoint(client, world):
    piece_id, certificate = certify(client, world)
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    log = verdict["log"]

    entry = log["entry"]
    assert entry["action"] == "certificate:issued"
    assert entry["certificate"] == certificate["code"]
    assert entry["piece"] == piece_id
    assert entry["maker"] == world.maker_slug
    assert entry["actor"]["role"] == "inspector"
    assert entry["data"]["kid"] == verdict["signature"]["kid"]
    jws = verdict["jws"]
    assert entry["data"]["jws"] == "sha256:" + hashlib.sha256(jws.encode()).hexdigest()
    signed_payload = base64.urlsafe_b64decode(jws.split(".")[1] + "==")
    assert entry["data"]["payload"] == "sha256:" + hashlib.sha256(signed_payload).hexdigest()

    # The entry is the one at its index in the log.
    size, entries = all_entries(client)
    assert entries[log["index"]] == {"index": log["index"], "entry": entry}

    inclusion = log["inclusion"]
    assert inclusion is not None
    proof = [b64(h) for h in inclusion["proof"]]
    root = b64(inclusion["root_hash"])
    assert ref_verify_inclusion(log["index"], inclusion["tree_size"], leaf_of(entry), proof, root)
    # Not just any leaf: the proof holds for the issue alone.
    other = leaf_of(entries[log["index"] - 1]["entry"])
    assert not ref_verify_inclusion(log["index"], inclusion["tree_size"], other, proof, root)

    # The checkpoint is the newest, signed by a published key, of the same tree.
    checkpoint = newest_checkpoint(client)
    assert inclusion["checkpoint"] == checkpoint["note"]
    lines, _ = open_note(inclusion["checkpoint"], published_key(client, checkpoint["kid"]))
    assert lines[1:] == [str(inclusion["tree_size"]), inclusion["root_hash"]]
    assert inclusion["tree_size"] == checkpoint["tree_size"] == size
    tree, _ = reference(client)
    check_checkpoint(client, checkpoint, tree)


def test_a_changed_checkpoint_note_no_longer_verifies(client, world):
    certify(client, world)
    checkpoint = newest_checkpoint(client)
    public = published_key(client, checkpoint["kid"])
    note = checkpoint["note"]
    size = checkpoint["tree_size"]
    larger = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    assert larger != note
    with pytest.raises(InvalidSignature):
        open_note(larger, public)
    # The timestamped signature covers its time.
    *text, plain, stamped = note.split("\n")[:-1]
    blob = bytearray(b64(stamped.rsplit(" ", 1)[1]))
    blob[11] ^= 1  # the last byte of the time
    moved = "\n".join([*text, plain, stamped.rsplit(" ", 1)[0]])
    moved += " " + base64.b64encode(bytes(blob)).decode() + "\n"
    with pytest.raises(InvalidSignature):
        open_note(moved, public)
    # And another key is not the registry's.
    other = Ed25519PublicKey.from_public_bytes(hashlib.sha256(b"not the key").digest())
    with pytest.raises(AssertionError):
        open_note(note, other.public_bytes_raw())


# Checkpoints.


def test_before_any_write_there_is_no_checkpoint(client):
    assert_problem(client.get(f"{LOG}/checkpoint"), 404)
    assert_problem(client.get(f"{LOG}/checkpoint", headers={"Accept": "text/plain"}), 404)
    assert_problem(client.get(f"{LOG}/checkpoint?tree_size=5"), 404)
    # A proof against "the newest checkpoint" has nothing to stand on.
    assert_problem(client.get(f"{LOG}/proof/inclusion?index=0"), 404)
    assert_problem(client.get(f"{LOG}/proof/consistency?first=1&second=1"), 400, "second")


def test_the_checkpoint_as_json_and_as_the_note_itself(client, world):
    checkpoint = newest_checkpoint(client)
    tree, _ = reference(client)
    check_checkpoint(client, checkpoint, tree)
    assert checkpoint["tree_size"] == log_size(client)

    for accept in ("text/plain", "text/*", "text/plain, application/json;q=0.5"):
        note = client.get(f"{LOG}/checkpoint", headers={"Accept": accept})
        assert note.status_code == 200
        assert note.mimetype == "text/plain"
        assert note.get_data(as_text=True) == checkpoint["note"], accept
        assert "Accept" in note.headers["Vary"]
    for accept in ("application/json", "*/*", "application/json, text/plain;q=0.5"):
        document = client.get(f"{LOG}/checkpoint", headers={"Accept": accept})
        assert document.mimetype == "application/json"
        assert document.json == checkpoint, accept
        assert "Accept" in document.headers["Vary"]


def test_a_checkpoint_of_a_size_is_the_newest_no_larger(client, world):
    sizes = [newest_checkpoint(client)["tree_size"]]  # the world's one write
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert made.status_code == 201
    sizes.append(newest_checkpoint(client)["tree_size"])
    assert attest(client, world, made.json["id"]).status_code == 201
    sizes.append(newest_checkpoint(client)["tree_size"])
    assert sizes == sorted(set(sizes)), sizes
    tree, _ = reference(client)

    def at_most(n: int) -> dict:
        response = client.get(f"{LOG}/checkpoint?tree_size={n}")
        assert response.status_code == 200, (n, response.json)
        check_checkpoint(client, response.json, tree)
        return response.json

    for size, following in zip(sizes, [*sizes[1:], 2**53 + 1], strict=True):
        for n in {size, min(size + 1, following - 1), following - 1}:
            assert at_most(n)["tree_size"] == size, n
    assert at_most(2**53)["tree_size"] == sizes[-1]
    assert_problem(client.get(f"{LOG}/checkpoint?tree_size={sizes[0] - 1}"), 404)
    assert_problem(client.get(f"{LOG}/checkpoint?tree_size=0"), 404)
    text = client.get(f"{LOG}/checkpoint?tree_size={sizes[1]}", headers={"Accept": "text/plain"})
    assert text.get_data(as_text=True) == at_most(sizes[1])["note"]


def test_a_checkpoint_answer_that_can_still_change_is_not_cached_for_a_day(client, world):
    beyond = log_size(client) + 100
    before = client.get(f"{LOG}/checkpoint?tree_size={beyond}")
    latest = client.get(f"{LOG}/checkpoint")
    certify(client, world)
    after = client.get(f"{LOG}/checkpoint?tree_size={beyond}")
    assert after.json["tree_size"] > before.json["tree_size"]  # the answer did change

    def max_age(response) -> int:
        (age,) = [p for p in response.headers["Cache-Control"].split(", ") if "max-age" in p]
        return int(age.split("=")[1])

    assert max_age(before) <= max_age(latest)


def test_every_write_commits_with_a_checkpoint_that_covers_it(client, world):
    assert newest_checkpoint(client)["tree_size"] == log_size(client)
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert made.status_code == 201
    assert newest_checkpoint(client)["tree_size"] == log_size(client)
    assert attest(client, world, made.json["id"]).status_code == 201
    checkpoint = newest_checkpoint(client)
    tree, entries = reference(client)
    assert checkpoint["tree_size"] == len(entries)
    assert entries[-1]["entry"]["action"] == "certificate:issued"
    check_checkpoint(client, checkpoint, tree)


def test_with_checkpoints_on_demand_writes_make_none_and_a_post_makes_one(on_demand):
    client, world = on_demand
    assert_problem(client.get(f"{LOG}/checkpoint"), 404)
    _, certificate = certify(client, world)
    assert_problem(client.get(f"{LOG}/checkpoint"), 404)
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["log"]["entry"]["certificate"] == certificate["code"]
    assert verdict["log"]["inclusion"] is None  # no checkpoint covers it yet

    made = client.post(f"{LOG}/checkpoint", headers=bearer(world.inspector))
    assert made.status_code == 201, made.json
    tree, entries = reference(client)
    assert made.json["tree_size"] == len(entries)
    check_checkpoint(client, made.json, tree)
    assert newest_checkpoint(client) == made.json

    inclusion = client.get(f"/api/v1/verify/{certificate['code']}").json["log"]["inclusion"]
    assert inclusion["checkpoint"] == made.json["note"]
    assert inclusion["tree_size"] == len(entries)
    # Later writes again make none.
    certify(client, world)
    assert newest_checkpoint(client) == made.json
    assert log_size(client) > made.json["tree_size"]


def test_a_checkpoint_on_demand_needs_an_inspector_or_the_brand_office(client, world):
    size = log_size(client)
    assert_problem(client.post(f"{LOG}/checkpoint"), 401)
    assert_problem(client.post(f"{LOG}/checkpoint", headers=bearer(world.revoked)), 401)
    assert_problem(client.post(f"{LOG}/checkpoint", headers=bearer("not-a-token")), 401)
    assert_problem(client.post(f"{LOG}/checkpoint", headers=bearer(world.maker)), 403)
    tree, _ = reference(client)
    for token in (world.inspector, world.admin):
        made = client.post(f"{LOG}/checkpoint", headers=bearer(token))
        assert made.status_code == 201, made.json
        assert made.json["tree_size"] == size
        check_checkpoint(client, made.json, tree)
    # Making a checkpoint is no write of the log.
    assert log_size(client) == size


# Writes that fail leave no trace in the log.


def test_refused_writes_leave_the_log_as_it_was(client, world):
    piece_id, _ = certify(client, world, reference="RING-1")
    size, entries = all_entries(client)
    checkpoint = newest_checkpoint(client)

    assert_problem(attest(client, world, piece_id), 409)
    duplicate = piece_data(reference="RING-1")
    refused = client.post("/api/v1/pieces", json=duplicate, headers=bearer(world.maker))
    assert_problem(refused, 409, "reference")
    invalid = client.post(
        "/api/v1/pieces", json=piece_data(fineness=-1), headers=bearer(world.maker)
    )
    assert_problem(invalid, 422, "fineness")
    assert_problem(client.post(f"{LOG}/checkpoint", headers=bearer(world.maker)), 403)

    assert all_entries(client) == (size, entries)
    assert newest_checkpoint(client) == checkpoint

    # The next write takes the next index, and the tree is whole.
    certify(client, world)
    tree, after = reference(client)
    assert after[:size] == entries
    assert [e["entry"]["action"] for e in after[size:]] == [
        "piece:registered",
        "assay:passed",
        "certificate:issued",
    ]
    checkpoint = newest_checkpoint(client)
    check_checkpoint(client, checkpoint, tree)
    for index in range(len(after)):
        served = client.get(f"{LOG}/proof/inclusion?index={index}").json
        assert served["tree_size"] == len(after)
        proof = [b64(h) for h in served["proof"]]
        assert ref_verify_inclusion(
            index, len(after), tree.leaves[index], proof, tree.root(len(after))
        )


def test_a_write_that_fails_after_appending_leaves_no_gap(app, client, world):
    """An assay passes (appended) but its certificate cannot be signed (no active key):
    the whole write is undone, the assay's entry with it."""
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker))
    assert made.status_code == 201
    with app.app_context():
        ring = signing.keyring()
        (active,) = [k.kid for k in ring.keys()]
        signing_keys.compromise(database.session(), ring, active, since=utcnow(), actor=None)
        database.session().commit()
    size, entries = all_entries(client)
    assert entries[-1]["entry"]["action"] == "key:compromised"

    assert_problem(attest(client, world, made.json["id"]), 503)
    assert all_entries(client) == (size, entries)

    with app.app_context():
        signing_keys.rotate(database.session(), signing.keyring(), actor=None)
        database.session().commit()
    assert attest(client, world, made.json["id"]).status_code == 201
    tree, after = reference(client)
    assert after[:size] == entries
    assert [e["entry"]["action"] for e in after[size:]] == [
        "key:rotated",
        "assay:passed",
        "certificate:issued",
    ]
    checkpoint = newest_checkpoint(client)
    assert checkpoint["tree_size"] == len(after)
    check_checkpoint(client, checkpoint, tree)
    # The tree grew from the one before the failure, consistently.
    served = client.get(f"{LOG}/proof/consistency?first={size}&second={len(after)}").json
    proof = [b64(h) for h in served["proof"]]
    assert ref_verify_consistency(size, len(after), tree.root(size), tree.root(len(after)), proof)


def test_an_import_with_rejected_rows_logs_the_created_ones_without_gaps(client, world):
    """Each row of an import is a savepoint: a rejected one takes nothing with it."""
    size, entries = all_entries(client)
    rows = [
        piece_data(reference="IMP-1"),
        piece_data(reference="IMP-1"),  # a duplicate of the first
        piece_data(reference="IMP-2", fineness=-1),  # invalid
        piece_data(reference="IMP-3"),
        piece_data(reference="IMP-4", uin="1234567890123456"),
        piece_data(reference="IMP-5", uin="1234567890123456"),  # the UIN is taken
        piece_data(reference="IMP-6"),
    ]
    report = client.post("/api/v1/pieces/import", json=rows, headers=bearer(world.maker))
    assert report.status_code == 200, report.json
    statuses = [row["status"] for row in report.json["rows"]]
    created, rejected = "created", "rejected"
    assert statuses == [created, rejected, rejected, created, created, rejected, created]
    registered = [row["piece_id"] for row in report.json["rows"] if row["status"] == created]

    tree, after = reference(client)
    assert after[:size] == entries
    logged = after[size:]
    assert [e["entry"]["action"] for e in logged] == ["piece:registered"] * len(registered)
    assert [e["entry"]["piece"] for e in logged] == registered
    checkpoint = newest_checkpoint(client)
    assert checkpoint["tree_size"] == len(after)
    check_checkpoint(client, checkpoint, tree)
    for item in logged:
        index = item["index"]
        served = client.get(f"{LOG}/proof/inclusion?index={index}").json
        proof = [b64(h) for h in served["proof"]]
        root = tree.root(len(after))
        assert ref_verify_inclusion(index, len(after), tree.leaves[index], proof, root)


# Entries and proofs.


def test_entries_pages_are_capped_and_their_leaves_are_the_proofs(app, client, world):
    certify(client, world)
    size, entries = all_entries(client)
    app.config["LOG_PAGE_MAX"] = 4
    for query in ("", "?limit=100", "?start=0&limit=5", "?limit=4"):
        page = client.get(f"{LOG}/entries{query}")
        assert page.status_code == 200
        assert page.json == {"tree_size": size, "entries": entries[:4]}, query
    page = client.get(f"{LOG}/entries?start=3&limit=2").json
    assert page["entries"] == entries[3:5]
    page = client.get(f"{LOG}/entries?start={size - 2}&limit=4").json
    assert page["entries"] == entries[size - 2 :]
    page = client.get(f"{LOG}/entries?start={size - 1}").json
    assert page["entries"] == entries[size - 1 :]
    # From the end on: an empty page, what a monitor polling for new entries gets.
    assert client.get(f"{LOG}/entries?start={size}").json == {"tree_size": size, "entries": []}

    tree, _ = reference(client)
    for item in entries:
        served = client.get(f"{LOG}/proof/inclusion?index={item['index']}&tree_size={size}")
        assert served.status_code == 200
        assert b64(served.json["leaf_hash"]) == leaf_of(item["entry"])
        assert b64(served.json["root_hash"]) == tree.root(size)


def test_entries_are_served_as_stored_in_canonical_form(client, world):
    certify(client, world)
    body = client.get(f"{LOG}/entries?start=0&limit=1000").get_data()
    _, entries = all_entries(client)
    for item in entries:
        assert rfc8785.dumps(item["entry"]) in body


def test_consistency_between_every_pair_of_checkpoints(client, world):
    sizes = [newest_checkpoint(client)["tree_size"]]
    for _ in range(2):
        certify(client, world)
        sizes.append(newest_checkpoint(client)["tree_size"])
    tree, _ = reference(client)
    for first in range(1, sizes[-1] + 1):
        for second in sorted({first, *(s for s in sizes if s >= first)}):
            served = client.get(f"{LOG}/proof/consistency?first={first}&second={second}")
            assert served.status_code == 200, served.json
            body = served.json
            assert (body["first"], body["second"]) == (first, second)
            first_root, second_root = b64(body["first_root"]), b64(body["second_root"])
            assert (first_root, second_root) == (tree.root(first), tree.root(second))
            proof = [b64(h) for h in body["proof"]]
            assert ref_verify_consistency(first, second, first_root, second_root, proof)
            if first == second:
                assert proof == []


def test_an_inclusion_proof_defaults_to_the_newest_checkpoint(on_demand):
    client, world = on_demand
    made = client.post(f"{LOG}/checkpoint", headers=bearer(world.admin)).json
    certify(client, world)
    assert log_size(client) > made["tree_size"]
    served = client.get(f"{LOG}/proof/inclusion?index=0").json
    assert served["tree_size"] == made["tree_size"]
    assert served["root_hash"] == made["root_hash"]
    index = made["tree_size"]  # in the log, not yet in a checkpoint
    assert_problem(client.get(f"{LOG}/proof/inclusion?index={index}"), 400, "index")
    assert client.get(f"{LOG}/proof/inclusion?index={index}&tree_size={index + 1}").status_code == (
        200
    )


# Bad parameters: 400 problem JSON naming the parameter, never a 500. Those that do not
# parse are refused before the log is read, so an empty log will do for them.

HUGE = 10**30
UNPARSABLE = [
    # checkpoint
    ("checkpoint?tree_size=-1", "tree_size"),
    ("checkpoint?tree_size=ten", "tree_size"),
    ("checkpoint?tree_size=1.5", "tree_size"),
    ("checkpoint?tree_size=", "tree_size"),
    (f"checkpoint?tree_size={HUGE}", "tree_size"),
    ("checkpoint?tree_size=" + "9" * 5000, "tree_size"),
    # entries
    ("entries?start=-1", "start"),
    ("entries?start=first", "start"),
    ("entries?start=0x10", "start"),
    (f"entries?start={HUGE}", "start"),
    ("entries?limit=0", "limit"),
    ("entries?limit=-5", "limit"),
    ("entries?limit=many", "limit"),
    (f"entries?limit={HUGE}", "limit"),
    # inclusion
    ("proof/inclusion", "index"),
    ("proof/inclusion?index=-1", "index"),
    ("proof/inclusion?index=one", "index"),
    (f"proof/inclusion?index={HUGE}", "index"),
    ("proof/inclusion?index=0&tree_size=0", "tree_size"),
    ("proof/inclusion?index=0&tree_size=-1", "tree_size"),
    ("proof/inclusion?index=0&tree_size=all", "tree_size"),
    (f"proof/inclusion?index=0&tree_size={HUGE}", "tree_size"),
    # consistency
    ("proof/consistency?first=0&second=1", "first"),
    ("proof/consistency?first=0&second=0", "first"),
    ("proof/consistency?first=-1&second=1", "first"),
    ("proof/consistency?first=x&second=1", "first"),
    ("proof/consistency?second=1", "first"),
    ("proof/consistency?first=1", "second"),
    ("proof/consistency?first=1&second=0", "second"),
    ("proof/consistency?first=1&second=y", "second"),
    (f"proof/consistency?first=1&second={HUGE}", "second"),
    (f"proof/consistency?first={HUGE}&second={HUGE}", "first"),
]


@pytest.mark.parametrize(("query", "field"), UNPARSABLE, ids=[q[:60] for q, _ in UNPARSABLE])
def test_parameters_that_are_not_counts_are_a_problem_naming_them(client, query, field):
    assert_problem(client.get(f"{LOG}/{query}"), 400, field)


BEYOND = 10**6
OUTSIDE = [
    (f"entries?start={BEYOND}", "start"),
    ("entries?start={size_plus_1}", "start"),
    (f"proof/inclusion?index={BEYOND}", "index"),
    ("proof/inclusion?index={size}", "index"),
    ("proof/inclusion?index={size}&tree_size={size}", "index"),
    ("proof/inclusion?index={size_plus_1}&tree_size={size}", "index"),
    (f"proof/inclusion?index=0&tree_size={BEYOND}", "tree_size"),
    ("proof/inclusion?index=0&tree_size={size_plus_1}", "tree_size"),
    (f"proof/consistency?first=1&second={BEYOND}", "second"),
    ("proof/consistency?first=1&second={size_plus_1}", "second"),
    ("proof/consistency?first={size_plus_1}&second={size_plus_1}", "second"),
    ("proof/consistency?first=3&second=2", "first"),
    ("proof/consistency?first={size}&second=1", "first"),
]


@pytest.mark.parametrize(("query", "field"), OUTSIDE, ids=[q for q, _ in OUTSIDE])
def test_parameters_outside_the_log_are_a_problem_naming_them(client, world, query, field):
    """(Entries from the log's size on are an empty page: nothing new yet.)"""
    size = log_size(client)
    url = f"{LOG}/" + query.format(size=size, size_plus_1=size + 1)
    assert_problem(client.get(url), 400, field)


@pytest.mark.parametrize(
    "query",
    [
        "entries?start={n}",
        "proof/inclusion?index={n}",
        "proof/inclusion?index=0&tree_size={n}",
        "proof/consistency?first=1&second={n}",
        "proof/consistency?first={n}&second={n}",
    ],
)
def test_the_largest_number_a_query_takes_is_outside_the_log(client, world, query):
    assert_problem(client.get(f"{LOG}/" + query.format(n=2**53)), 400)


def test_good_parameters_at_the_edges_of_the_log(client, world):
    size = log_size(client)
    last = client.get(f"{LOG}/proof/inclusion?index={size - 1}&tree_size={size}")
    assert last.status_code == 200
    whole = client.get(f"{LOG}/proof/consistency?first={size}&second={size}")
    assert whole.status_code == 200 and whole.json["proof"] == []
    assert client.get(f"{LOG}/proof/inclusion?index=0&tree_size=1").json["proof"] == []
    assert client.get(f"{LOG}/entries?start={size - 1}&limit={2**53}").status_code == 200


def test_two_registries_in_one_process_serve_each_its_own_tree(tmp_path):
    """Workers keep the upper nodes of the tree they read: per database, never mixed."""
    from registry import migrate
    from registry.log import ledger
    from schemas.standards import EventType

    served = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        engine = db.make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "KEYS_DIR": str(tmp_path / f"keys-{name}"),
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            session = database.session()
            for n in range(600):  # past level 8, the levels kept in memory
                data = {"registry": name, "n": n}
                ledger.append(session, EventType.KEY_GENERATED, actor=None, data=data)
            session.commit()
        client = app.test_client()
        tree, _ = reference(client)
        for index in (0, 300, 599):
            answer = client.get(f"{LOG}/proof/inclusion?index={index}&tree_size=600").json
            assert b64(answer["root_hash"]) == tree.root(600)
            proof = [b64(h) for h in answer["proof"]]
            assert ref_verify_inclusion(index, 600, tree.leaves[index], proof, tree.root(600))
        served.append(tree.root(600))
        app.extensions["registry.engine"].dispose()
    assert served[0] != served[1]
