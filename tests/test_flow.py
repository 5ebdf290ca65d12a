"""The whole flow through the API alone, as a new user would drive it."""

import json

import rfc8785
from jwcrypto import jwk, jws

from tests.factories import assay_data, bearer, maker_data, piece_data


def _verify_independently(jwks_json: str, token: str) -> bytes:
    """Verify a JWS with jwcrypto, given nothing but the published JWKS."""
    keyset = jwk.JWKSet.from_json(jwks_json)
    signed = jws.JWS()
    signed.deserialize(token)
    kid = signed.jose_header["kid"]
    signed.verify(keyset.get_key(kid), alg="EdDSA")
    return signed.payload


def test_admin_maker_inspector_flow_issues_a_verifiable_certificate(client, world):
    admin = bearer(world.admin)
    made = client.post("/api/v1/makers", json=maker_data(slug="khakas-gold"), headers=admin)
    assert made.status_code == 201, made.json
    account = client.post(
        "/api/v1/accounts",
        json={"email": "jeweller@khakas.example", "role": "maker", "maker": "khakas-gold"},
        headers=admin,
    )
    assert account.status_code == 201, account.json
    maker_token = client.post(
        f"/api/v1/accounts/{account.json['id']}/tokens", json={"name": "workshop"}, headers=admin
    ).json["token"]
    inspector = client.post(
        "/api/v1/accounts", json={"email": "i2@assay.example", "role": "inspector"}, headers=admin
    ).json
    inspector_token = client.post(
        f"/api/v1/accounts/{inspector['id']}/tokens", json={}, headers=admin
    ).json["token"]

    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(maker_token))
    assert piece.status_code == 201, piece.json
    assert piece.json["status"] == "awaiting_assay"
    assert piece.json["maker"] == "khakas-gold"

    assay = client.post(
        f"/api/v1/pieces/{piece.json['id']}/assay",
        json=assay_data(),
        headers=bearer(inspector_token),
    )
    assert assay.status_code == 201, assay.json
    certificate = assay.json["certificate"]
    assert certificate["status"] == "valid"

    jwks_json = client.get("/.well-known/jwks.json").get_data(as_text=True)
    signed_bytes = _verify_independently(jwks_json, certificate["jws"])
    assert signed_bytes == rfc8785.dumps(certificate["payload"])
    payload = json.loads(signed_bytes)
    assert payload["maker"]["slug"] == "khakas-gold"
    assert payload["region"]["code"] == "RU-KYA"
    assert payload["piece"]["fineness"] == 585
    assert payload["assay"]["mark"] == "585-KRS-2026"

    fetched = client.get(f"/api/v1/certificates/{certificate['printed_code'].lower()}")
    assert fetched.status_code == 200
    assert fetched.json["jws"] == certificate["jws"]
    shown = client.get(f"/api/v1/pieces/{piece.json['id']}", headers=bearer(maker_token))
    assert shown.json["status"] == "certified"
    assert shown.json["certificate"] == certificate["code"]
