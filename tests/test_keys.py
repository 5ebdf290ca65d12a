"""The key ring, JWK thumbprints and JWS: RFC vectors, an independent verifier, the files."""

import json
import multiprocessing
import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

import keys
from keys import base64url

# RFC 8037 Appendix A.1 (the key), A.3 (its thumbprint) and A.4 (a signature with it).
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC_PAYLOAD = b"Example of Ed25519 signing"
RFC_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
PAYLOAD = '{"code":"YS-7K2M-9QXD-4TB","region":"RU-KYA","title":"Кольцо"}'.encode()


@pytest.fixture
def ring(tmp_path):
    ring = keys.KeyRing(tmp_path / "keys")
    ring.ensure_active()
    return ring


def _header(token):
    return json.loads(base64url.decode(token.split(".")[0]))


def _with_header(token, header):
    encoded = base64url.encode(json.dumps(header, separators=(",", ":")).encode())
    return ".".join([encoded, *token.split(".")[1:]])


def test_thumbprint_is_rfc_8037_a3():
    assert keys.thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC_X}) == RFC_THUMBPRINT
    # Members other than the required ones do not count (RFC 7638 §3.2).
    extra = {"kid": "k", "use": "sig", "x": RFC_X, "crv": "Ed25519", "kty": "OKP"}
    assert keys.thumbprint(extra) == RFC_THUMBPRINT


def test_signer_reproduces_rfc_8037_a4():
    private_key = Ed25519PrivateKey.from_private_bytes(base64url.decode(RFC_D))
    assert keys.jws._sign(RFC_PAYLOAD, private_key, header={"alg": "EdDSA"}) == RFC_JWS


def test_rfc_8037_a4_is_refused_for_want_of_a_kid():
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC_X, "kid": RFC_THUMBPRINT}]}
    with pytest.raises(keys.VerificationError, match="no kid"):
        keys.jws.verify_with_jwks(RFC_JWS, jwks)
    with_kid = keys.jws._sign(
        RFC_PAYLOAD,
        Ed25519PrivateKey.from_private_bytes(base64url.decode(RFC_D)),
        header={"alg": "EdDSA", "kid": RFC_THUMBPRINT},
    )
    assert keys.jws.verify_with_jwks(with_kid, jwks) == RFC_PAYLOAD


def test_sign_and_verify_round_trip(ring):
    signed = ring.sign(PAYLOAD)

    assert _header(signed.jws) == {"alg": "EdDSA", "kid": signed.kid}
    assert signed.kid == ring.active().kid == keys.thumbprint(ring.active().public_jwk)
    checked = ring.verify(signed.jws)
    assert checked.payload == PAYLOAD
    assert checked.kid == signed.kid
    assert checked.key.status == "active"
    assert keys.jws.verify_with_jwks(signed.jws, ring.jwks()) == PAYLOAD


def test_sign_refuses_anything_but_bytes(ring):
    with pytest.raises(TypeError, match="must be bytes"):
        ring.sign({"code": "YS-7K2M-9QXD-4TB"})


def test_jwcrypto_verifies_with_the_published_jwks_alone(ring):
    old = ring.sign(PAYLOAD)
    ring.rotate()
    new = ring.sign(PAYLOAD + b" again")
    published = json.dumps(ring.jwks())

    keyset = jwcrypto_jwk.JWKSet.from_json(published)
    for signed, payload in ((old, PAYLOAD), (new, PAYLOAD + b" again")):
        token = jwcrypto_jws.JWS()
        token.deserialize(signed.jws)
        token.verify(keyset.get_key(token.jose_header["kid"]))
        assert token.payload == payload


def test_rotate_retires_the_old_key_which_keeps_verifying(ring):
    first = ring.active()
    old = ring.sign(PAYLOAD)

    second = ring.rotate()

    assert second.kid != first.kid
    assert ring.active() == second
    assert ring.verify(old.jws).key.status == "retired"
    assert ring.sign(PAYLOAD).kid == second.kid
    assert [info.kid for info in ring.keys()] == [first.kid, second.kid]
    published = {entry["kid"]: entry for entry in ring.jwks()["keys"]}
    assert published[first.kid]["status"] == "retired"
    assert published[first.kid]["retired_at"].endswith("Z")
    assert published[second.kid]["status"] == "active"
    assert "retired_at" not in published[second.kid]
    assert {"kty", "crv", "x", "kid", "alg", "use", "created_at"} <= published[second.kid].keys()


def test_generate_refuses_a_second_active_key(ring):
    with pytest.raises(keys.KeyRingError, match="already has an active key .*; use rotate"):
        ring.generate()


def test_an_empty_ring_names_what_is_missing(tmp_path):
    ring = keys.KeyRing(tmp_path / "keys")

    assert ring.keys() == []
    assert ring.jwks() == {"keys": []}
    with pytest.raises(keys.NoActiveKey, match="no keys yet"):
        ring.active()
    with pytest.raises(keys.UnknownKey, match="no key 'nope'"):
        ring.get("nope")
    assert ring.generate() == ring.active()


def test_files_are_private(tmp_path):
    ring = keys.KeyRing(tmp_path / "keys")
    kid = ring.ensure_active().kid

    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / f"{kid}.pem").st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "keys" / f"{kid}.pem").read_bytes()
    assert set(os.listdir(tmp_path / "keys")) == {f"{kid}.pem", "keyring.json", "keyring.lock"}


def test_encrypted_ring_needs_its_passphrase(tmp_path):
    directory = tmp_path / "keys"
    kid = keys.KeyRing(directory, passphrase=b"correct horse").ensure_active().kid
    assert b"ENCRYPTED" in (directory / f"{kid}.pem").read_bytes()

    reopened = keys.KeyRing(directory, passphrase=b"correct horse")
    assert reopened.verify(reopened.sign(PAYLOAD).jws).payload == PAYLOAD
    assert "correct horse" not in repr(reopened)
    with pytest.raises(keys.KeyRingError, match="is encrypted: set REGISTRY_KEY_PASSPHRASE"):
        keys.KeyRing(directory).sign(PAYLOAD)
    with pytest.raises(keys.KeyRingError, match=f"wrong passphrase for key {kid}") as caught:
        keys.KeyRing(directory, passphrase=b"battery staple").sign(PAYLOAD)
    assert "battery" not in str(caught.value)
    # Public operations never need the passphrase.
    assert keys.KeyRing(directory).jwks()["keys"][0]["kid"] == kid


def test_plain_key_is_refused_once_a_passphrase_is_set(tmp_path):
    keys.KeyRing(tmp_path).ensure_active()

    with pytest.raises(keys.KeyRingError, match="stored unencrypted although a passphrase"):
        keys.KeyRing(tmp_path, passphrase=b"secret").sign(PAYLOAD)


def test_compromise_invalidates_what_was_signed_from_then_on(ring):
    before = ring.sign(PAYLOAD)
    since = datetime(2030, 1, 1, 12, tzinfo=UTC)

    marked = ring.mark_compromised(before.kid, since=since)

    assert marked.status == "compromised"
    assert marked.compromised_since == since
    assert marked.valid_at(since - timedelta(seconds=1))
    assert not marked.valid_at(since)
    assert not marked.valid_at(since + timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        marked.valid_at(datetime(2030, 1, 1))
    # Verification still succeeds; the verdict is the caller's, who knows the issue time.
    assert ring.verify(before.jws).key == marked
    entry = ring.jwks()["keys"][0]
    assert (entry["status"], entry["compromised_since"]) == ("compromised", "2030-01-01T12:00:00Z")
    # Marking again never moves the time later.
    later = ring.mark_compromised(before.kid, since=since + timedelta(days=1))
    assert later.compromised_since == since


def test_compromised_active_key_leaves_the_ring_without_one(ring):
    kid = ring.active().kid
    ring.mark_compromised(kid, since=datetime.now(UTC))

    with pytest.raises(keys.NoActiveKey, match="marked compromised"):
        ring.sign(PAYLOAD)
    new = ring.ensure_active()  # a server restarting before anyone rotated
    assert new.kid != kid
    assert ring.get(kid).status == "compromised"
    assert ring.sign(PAYLOAD).kid == new.kid


def test_mark_compromised_wants_a_known_kid_and_an_aware_time(ring):
    with pytest.raises(keys.UnknownKey):
        ring.mark_compromised("nope", since=datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        ring.mark_compromised(ring.active().kid, since=datetime(2030, 1, 1))


def _replace_part(index, value):
    def tamper(token):
        parts = token.split(".")
        parts[index] = value(parts[index])
        return ".".join(parts)

    return tamper


def _set_a_spare_bit(text):
    # 64 bytes leave 4 spare bits, all zero, in the last character.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda t: t.rsplit(".", 1)[0], "3 dot-separated parts, found 2"),
        (lambda t: t + ".", "3 dot-separated parts, found 4"),
        (_replace_part(0, lambda p: p + "="), "header is not base64url"),
        (_replace_part(0, lambda p: base64url.encode(b"alg: EdDSA")), "not UTF-8 JSON"),
        (_replace_part(0, lambda p: base64url.encode(b'"EdDSA"')), "not a JSON object"),
        (lambda t: _with_header(t, {"alg": "none", "kid": _header(t)["kid"]}), "'none'"),
        (lambda t: _with_header(t, {"alg": "HS256", "kid": _header(t)["kid"]}), "alg must be"),
        (lambda t: _with_header(t, {"alg": "EdDSA"}), "no kid"),
        (lambda t: _with_header(t, {**_header(t), "crit": ["exp"]}), "crit"),
        (lambda t: _with_header(t, {**_header(t), "kid": "unknown"}), "unknown kid 'unknown'"),
        (lambda t: _with_header(t, {**_header(t), "typ": "JWT"}), "signature does not verify"),
        (
            _replace_part(0, lambda p: base64url.encode(b'{"alg":"EdDSA","alg":"none"}')),
            "repeats a member",
        ),
        (_replace_part(1, lambda p: base64url.encode(b'{"code":"forged"}')), "does not verify"),
        (_replace_part(1, lambda p: p + "!"), "payload is not base64url"),
        (_replace_part(2, lambda p: ("B" if p[0] == "A" else "A") + p[1:]), "does not verify"),
        (
            _replace_part(2, lambda p: base64url.encode(base64url.decode(p)[:-1])),
            "signature must be 64 bytes, found 63",
        ),
        # Only the spare bits of the last character differ: the same bytes, spelt otherwise.
        (_replace_part(2, _set_a_spare_bit), "signature is not base64url"),
    ],
)
def test_tampered_jws_is_refused(ring, tamper, message):
    token = ring.sign(PAYLOAD).jws

    with pytest.raises(keys.VerificationError, match=message):
        ring.verify(tamper(token))
    with pytest.raises(keys.VerificationError, match=message):
        keys.jws.verify_with_jwks(tamper(token), ring.jwks())


def test_jwks_entry_must_hash_to_its_kid(ring, tmp_path):
    token = ring.sign(PAYLOAD).jws
    jwks = ring.jwks()
    other = keys.KeyRing(tmp_path / "other").ensure_active()
    jwks["keys"][0]["x"] = other.public_jwk["x"]

    with pytest.raises(keys.VerificationError, match="does not hash to its kid"):
        keys.jws.verify_with_jwks(token, jwks)
    with pytest.raises(keys.VerificationError, match="no 'keys' list"):
        keys.jws.verify_with_jwks(token, {"kty": "OKP"})


def test_corrupt_state_file_names_its_path(tmp_path):
    keys.KeyRing(tmp_path).ensure_active()
    (tmp_path / "keyring.json").write_text("{not json")

    path = tmp_path / "keyring.json"
    with pytest.raises(keys.KeyRingError, match=re.escape(f"{path} is corrupt")):
        keys.KeyRing(tmp_path).keys()


def test_key_file_that_does_not_match_its_kid_is_refused(tmp_path):
    kid = keys.KeyRing(tmp_path).ensure_active().kid
    stranger = keys.KeyRing(tmp_path / "other").ensure_active().kid
    os.replace(tmp_path / "other" / f"{stranger}.pem", tmp_path / f"{kid}.pem")

    with pytest.raises(keys.KeyRingError, match=f"does not hold the key {kid}"):
        keys.KeyRing(tmp_path).sign(PAYLOAD)


def test_lost_state_file_is_not_silently_replaced(tmp_path):
    keys.KeyRing(tmp_path).ensure_active()
    os.remove(tmp_path / "keyring.json")

    with pytest.raises(keys.KeyRingError, match="keyring.json is missing"):
        keys.KeyRing(tmp_path).ensure_active()


def test_another_instance_sees_a_rotation(tmp_path):
    server = keys.KeyRing(tmp_path)
    first = server.ensure_active()
    assert server.sign(PAYLOAD).kid == first.kid

    second = keys.KeyRing(tmp_path).rotate()  # as the CLI would, in another process

    assert server.active().kid == second.kid
    assert server.sign(PAYLOAD).kid == second.kid
    assert server.get(first.kid).status == "retired"


def test_state_is_read_again_only_when_it_changed(tmp_path, monkeypatch):
    keys.KeyRing(tmp_path).ensure_active()
    reads = []
    parse = keys.ring._parse_state
    monkeypatch.setattr(keys.ring, "_parse_state", lambda data: reads.append(1) or parse(data))
    ring = keys.KeyRing(tmp_path)

    for _ in range(3):
        ring.verify(ring.sign(PAYLOAD).jws)
    assert len(reads) == 1


def _ensure_active_in_child(directory, barrier, results):
    ring = keys.KeyRing(directory)
    barrier.wait()
    try:
        results.put(ring.ensure_active().kid)
    except Exception as exc:  # reported to the parent, which would otherwise wait
        results.put(repr(exc))


def test_concurrent_first_start_generates_exactly_one_key(tmp_path):
    # fork starts a child in milliseconds; spawn would re-import this module in each one.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(8)
    results = context.Queue()
    children = [
        context.Process(target=_ensure_active_in_child, args=(tmp_path, barrier, results))
        for _ in range(8)
    ]
    for child in children:
        child.start()
    kids = [results.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0

    assert len(set(kids)) == 1
    assert [info.kid for info in keys.KeyRing(tmp_path).keys()] == kids[:1]
    assert list(tmp_path.glob("*.pem")) == [tmp_path / f"{kids[0]}.pem"]


def _replace_active_in_child(directory, barrier, results):
    ring = keys.KeyRing(directory)
    barrier.wait()
    try:
        for _ in range(3):
            rotation = ring.replace_active()
            results.put((rotation.previous.kid, rotation.new.kid))
    except Exception as exc:  # reported to the parent, which would otherwise wait
        results.put(repr(exc))


def test_racing_rotations_each_name_the_key_they_replaced(ring, tmp_path):
    # Four `registry keys rotate` at once, three times each: every new key replaced exactly
    # the one active before it, so that the pairs form a single chain from the first key.
    first = ring.active().kid
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    results = context.Queue()
    children = [
        context.Process(target=_replace_active_in_child, args=(tmp_path / "keys", barrier, results))
        for _ in range(4)
    ]
    for child in children:
        child.start()
    reported = [results.get(timeout=30) for _ in range(12)]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert all(isinstance(pair, tuple) for pair in reported), reported

    pairs = dict(reported)
    chain = [first]
    while chain[-1] in pairs:
        chain.append(pairs.pop(chain[-1]))
    assert pairs == {}
    assert chain == [info.kid for info in ring.keys()]
    assert chain[-1] == ring.active().kid


def test_a_seal_is_checked_by_its_key_alone_and_outlives_rotation(ring, tmp_path):
    first = ring.active().kid
    seal = ring.seal(first, b"jws\npayload")
    assert len(seal) == 64 and seal == ring.seal(first, b"jws\npayload")
    assert ring.check_seal(first, b"jws\npayload", seal)
    assert not ring.check_seal(first, b"jws\npayload!", seal)
    second = ring.rotate().kid
    assert ring.seal(second, b"jws\npayload") != seal
    assert not ring.check_seal(second, b"jws\npayload", seal)
    # A fresh ring over the same directory (another worker) checks the retired key's seal.
    assert keys.KeyRing(tmp_path / "keys").check_seal(first, b"jws\npayload", seal)
    assert not ring.check_seal("no-such-kid", b"jws\npayload", seal)
