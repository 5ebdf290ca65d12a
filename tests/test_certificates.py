"""Issue, revoke, reissue; signed bytes never rebuilt; key rotation keeps old ones valid."""

import json
import threading

import pytest
import rfc8785
from jwcrypto import jwk, jws
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from registry import accounts, certificates
from registry.edge import database, signing
from registry.errors import Forbidden
from registry.models import Certificate, Event, Piece
from schemas import canonical
from schemas.certificates import CertificatePayload
from tests.factories import assay_data, bearer, certify, jpeg, piece_data


def _independent_verify(client, token: str) -> bytes:
    keyset = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").get_data(as_text=True))
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(keyset.get_key(signed.jose_header["kid"]), alg="EdDSA")
    return signed.payload


def _certify(client, world, **piece):
    made = client.post("/api/v1/pieces", json=piece_data(**piece), headers=bearer(world.maker))
    assert made.status_code == 201, made.json
    assay = client.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json=assay_data(metal=made.json["metal"], fineness=made.json["fineness"]),
        headers=bearer(world.inspector),
    )
    assert assay.status_code == 201, assay.json
    return made.json["id"], assay.json["certificate"]


def test_a_failed_assay_is_recorded_and_issues_nothing(client, world, session):
    made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    failed = client.post(
        f"/api/v1/pieces/{made['id']}/assay",
        json=assay_data(result="failed", fineness=375),
        headers=bearer(world.inspector),
    )
    assert failed.status_code == 201
    assert failed.json["certificate"] is None
    assert failed.json["result"] == "failed"
    piece = client.get(f"/api/v1/pieces/{made['id']}", headers=bearer(world.maker)).json
    assert piece["status"] == "assay_failed" and piece["certificate"] is None
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_the_stored_bytes_are_served_even_after_the_piece_changes(client, world, session):
    piece_id, certificate = _certify(client, world)
    session.get(Piece, piece_id).title = "Changed behind the registry's back"
    session.commit()
    served = client.get(f"/api/v1/certificates/{certificate['code']}").json
    assert served["payload"] == certificate["payload"]
    assert _independent_verify(client, served["jws"]) == rfc8785.dumps(certificate["payload"])


def test_revocation_is_reported_with_reason(client, world):
    _, certificate = _certify(client, world)
    revoked = client.post(
        f"/api/v1/certificates/{certificate['printed_code']}/revoke",
        json={"reason": "fraud", "note": "Hallmark forged"},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200, revoked.json
    shown = client.get(f"/api/v1/certificates/{certificate['code']}").json
    assert shown["status"] == "revoked"
    assert shown["revocation"]["reason"] == "fraud"
    assert shown["revocation"]["note"] == "Hallmark forged"


def test_reissue_supersedes_and_the_new_certificate_carries_the_correction(client, world):
    piece_id, old = _certify(client, world, weight_g=3.42)
    new = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"weight_g": 3.40, "note": "Weighed again after polishing"},
        headers=bearer(world.inspector),
    )
    assert new.status_code == 201, new.json
    assert new.json["supersedes"] == old["code"]
    assert new.json["payload"]["supersedes"] == old["printed_code"]
    assert new.json["payload"]["piece"]["weight_g"] == 3.4
    old_now = client.get(f"/api/v1/certificates/{old['code']}").json
    assert old_now["status"] == "superseded"
    assert old_now["superseded_by"] == new.json["code"]
    piece = client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.maker)).json
    assert piece["certificate"] == new.json["code"]
    again = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"note": "again"},
        headers=bearer(world.inspector),
    )
    assert again.status_code == 409


def test_a_revoked_certificate_can_be_mended_by_reissue(client, world):
    _, old = _certify(client, world)
    client.post(
        f"/api/v1/certificates/{old['code']}/revoke",
        json={"reason": "data_error", "note": "Wrong title"},
        headers=bearer(world.inspector),
    )
    new = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"title": "Кольцо «Столбы»", "note": "Title corrected"},
        headers=bearer(world.inspector),
    )
    assert new.status_code == 201
    assert new.json["status"] == "valid"
    assert new.json["payload"]["piece"]["title"] == "Кольцо «Столбы»"


def test_the_database_refuses_a_second_current_certificate(app, client, world):
    piece_id, certificate = _certify(client, world)
    with app.app_context():
        session = database.session()
        first = session.scalar(select(Certificate).where(Certificate.code == certificate["code"]))
        session.add(
            Certificate(
                code="0" * 14,
                piece_id=piece_id,
                assay_id=first.assay_id,
                kid=first.kid,
                payload=first.payload,
                jws=first.jws,
                issued_at=first.issued_at,
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()


def test_every_write_leaves_an_event_in_its_transaction(client, world, session):
    before = session.scalar(select(func.count()).select_from(Event))
    _certify(client, world)
    session.rollback()  # end the read snapshot taken before the requests
    actions = list(session.scalars(select(Event.action).order_by(Event.id)))[before:]
    assert actions == ["piece:registered", "assay:passed", "certificate:issued"]


def test_racing_attestations_of_one_piece_yield_exactly_one_certificate(app, client, world):
    """Two inspectors' requests for the same piece, released at the same instant."""
    for _ in range(5):
        made = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
        barrier = threading.Barrier(2)
        statuses = []

        def attest(made=made, barrier=barrier, statuses=statuses):
            own_client = app.test_client()
            barrier.wait()
            response = own_client.post(
                f"/api/v1/pieces/{made['id']}/assay",
                json=assay_data(),
                headers=bearer(world.inspector),
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=attest) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409]
        with app.app_context():
            count = database.session().scalar(
                select(func.count())
                .select_from(Certificate)
                .where(Certificate.piece_id == made["id"])
            )
        assert count == 1


def test_old_certificates_verify_after_rotation_and_new_ones_carry_the_new_key(app, client, world):
    _, before = _certify(client, world)
    with app.app_context():
        old_kid = signing.keyring().active().kid
        new_kid = signing.keyring().rotate().kid
    assert new_kid != old_kid
    _, after = _certify(client, world)
    assert before["kid"] == old_kid and after["kid"] == new_kid
    assert json.loads(_independent_verify(client, before["jws"])) == before["payload"]
    assert json.loads(_independent_verify(client, after["jws"])) == after["payload"]
    statuses = {k["kid"]: k["status"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert statuses == {old_kid: "retired", new_kid: "active"}


def test_only_inspectors_revoke_or_reissue_even_outside_http(app, client, world):
    _, certificate = _certify(client, world)
    with app.app_context():
        session = database.session()
        admin = accounts.by_email(session, "admin@test.example")
        with pytest.raises(Forbidden, match="inspector"):
            certificates.revoke(session, certificate["code"], reason="fraud", note="x", actor=admin)
        with pytest.raises(Forbidden, match="inspector"):
            certificates.reissue(
                session,
                signing.keyring(),
                certificate["code"],
                {"note": "x"},
                issuer=signing.issuer(),
                actor=admin,
            )


@pytest.mark.parametrize("reason", ["fraud", "piece_lost_or_stolen", "piece_destroyed", "other"])
def test_a_certificate_revoked_for_cause_cannot_be_brought_back_by_reissue(client, world, reason):
    _, old = _certify(client, world)
    client.post(
        f"/api/v1/certificates/{old['code']}/revoke",
        json={"reason": reason, "note": "Reported"},
        headers=bearer(world.inspector),
    )
    again = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"note": "try"},
        headers=bearer(world.inspector),
    )
    assert again.status_code == 409
    assert client.get(f"/api/v1/certificates/{old['code']}").json["status"] == "revoked"


def test_a_pass_must_find_at_least_the_declared_fineness(client, world):
    made = client.post(
        "/api/v1/pieces", json=piece_data(fineness=750), headers=bearer(world.maker)
    ).json
    lower = client.post(
        f"/api/v1/pieces/{made['id']}/assay",
        json=assay_data(fineness=585),
        headers=bearer(world.inspector),
    )
    assert lower.status_code == 422 and "fineness" in lower.json["errors"]
    failed = client.post(
        f"/api/v1/pieces/{made['id']}/assay",
        json=assay_data(result="failed", fineness=585),
        headers=bearer(world.inspector),
    )
    assert failed.status_code == 201 and failed.json["certificate"] is None


def test_racing_revocations_record_one(app, client, world, session):
    """Two inspectors revoking one certificate at the same instant: one wins, one 409."""
    _, certificate = _certify(client, world)
    barrier = threading.Barrier(2)
    statuses = []

    def revoke(reason):
        own_client = app.test_client()
        barrier.wait()
        response = own_client.post(
            f"/api/v1/certificates/{certificate['code']}/revoke",
            json={"reason": reason, "note": "race"},
            headers=bearer(world.inspector),
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=revoke, args=(r,)) for r in ("fraud", "data_error")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    session.rollback()
    revocations = session.scalar(
        select(func.count()).select_from(Event).where(Event.action == "certificate:revoked")
    )
    assert revocations == 1


def test_an_assay_backing_a_reissue_still_names_the_certificate_it_issued(app, client, world):
    _, old = _certify(client, world)
    new = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"title": "Corrected", "note": "Title"},
        headers=bearer(world.inspector),
    ).json
    with app.app_context():
        record = database.session().scalar(
            select(Certificate).where(Certificate.code == new["code"])
        )
        assert [c.code for c in record.assay.certificates] == [old["code"], new["code"]]
        assert record.assay.certificate.code == old["code"]


def test_every_signed_payload_is_what_its_schema_documents(client, world, session):
    """The payload is built as plain JSON values, not dumped through
    CertificatePayload: what is signed must load through that schema (no field missing,
    unknown or of the wrong kind) and dump back to the very same bytes, for pieces with
    and without their optional parts, issued alone, in a batch and as a reissue."""
    bare = piece_data(stones=[])
    del bare["description"]
    made = client.post("/api/v1/pieces", json=bare, headers=bearer(world.maker))
    plain = client.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json=assay_data(),
        headers=bearer(world.inspector),
    ).json["certificate"]
    _, full = certify(
        client,
        world,
        photo=jpeg(),
        uin="1234567890123456",
        stones=[
            {"type": "other", "name": "Чароит", "count": 1, "carat": 1.125},
            {"type": "diamond", "count": 12, "carat": 0.05},
        ],
    )
    reissued = client.post(
        f"/api/v1/certificates/{plain['code']}/reissue",
        json={"weight_g": 3.4, "note": "Weighed again"},
        headers=bearer(world.inspector),
    )
    assert reissued.status_code == 201, reissued.json
    made = client.post(
        "/api/v1/pieces", json=piece_data(metal="silver", fineness=925), headers=bearer(world.maker)
    )
    batch = client.post(
        "/api/v1/assays/batch",
        json={
            "defaults": assay_data(metal="silver", fineness=925),
            "pieces": [{"piece_id": made.json["id"]}],
        },
        headers=bearer(world.inspector),
    )
    assert batch.status_code == 200, batch.json
    stored = session.scalars(select(Certificate.payload).order_by(Certificate.id)).all()
    assert len(stored) == 4
    schema = CertificatePayload()
    for payload in stored:
        loaded = schema.load(json.loads(payload))  # raises on any field out of shape
        assert canonical.dumps(schema.dump(loaded)) == payload
    assert json.loads(stored[1])["piece"]["photo"]["media_type"] == "image/jpeg"
    assert json.loads(stored[2])["supersedes"] == plain["printed_code"]
