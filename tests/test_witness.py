"""The witness (registry/witness/), driven over HTTP as a log drives it: `registry witness
serve` in its own process, and the cases of c2sp.org/tlog-witness. Its cosignatures are
checked by this file's own code, written from c2sp.org/tlog-cosignature, which imports
nothing of the project's keys; the trees and proofs are this file's own too (RFC 9162)."""

import base64
import hashlib
import struct
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import keys
from keys import note
from tests.witnesses import Served, registry_command

ORIGIN = "registry.test/log"


# --- RFC 9162 §2.1, as written there --------------------------------------------------


def _leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, leaves[:k], whole) + [_mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_mth(leaves[:k])]


def _proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return _subproof(m, leaves, True) if 0 < m < len(leaves) else []


# --- c2sp.org/tlog-cosignature, as written there -----------------------------------------


def _vkey_parts(vkey: str) -> tuple[str, bytes, bytes]:
    name, key_id, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x04, "an Ed25519 cosigner's vkey has signature type 0x04"
    return name, bytes.fromhex(key_id), raw[1:]


def _check_cosignature(line: str, vkey: str, checkpoint_text: str) -> int:
    """The timestamp of a valid cosignature line; AssertionError otherwise."""
    name, key_id, public = _vkey_parts(vkey)
    assert key_id == hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    dash, signer, encoded = line.rstrip("\n").split(" ")
    assert dash == "\u2014" and signer == name
    raw = base64.b64decode(encoded)
    assert raw[:4] == key_id and len(raw) == 4 + 8 + 64
    (stamp,) = struct.unpack(">Q", raw[4:12])
    message = f"cosignature/v1\ntime {stamp}\n".encode() + checkpoint_text.encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)  # raises if not
    return stamp


# --- a log of the test's own ------------------------------------------------------------


class Log:
    """Entries, and checkpoints of them signed as the registry signs its own."""

    def __init__(self, folder: Path, origin: str = ORIGIN):
        self.origin = origin
        self.ring = keys.KeyRing(folder)
        self.ring.generate()
        self.leaves: list[bytes] = []

    @property
    def vkey(self) -> str:
        info = self.ring.active()
        return note.verifier_key(self.origin, note.public_bytes(info.public_jwk))

    def grow(self, count: int) -> None:
        start = len(self.leaves)
        self.leaves += [_leaf(f"entry {i}".encode()) for i in range(start, start + count)]

    def checkpoint(self, size: int | None = None, *, at: int | None = None, root=None) -> str:
        size = len(self.leaves) if size is None else size
        stamp = int(time.time()) if at is None else at
        text, _ = note.sign_checkpoint(
            self.ring, self.origin, size, root or _mth(self.leaves[:size]), stamp
        )
        return text

    def request(self, old: int, size: int | None = None, **kwargs) -> bytes:
        size = len(self.leaves) if size is None else size
        proof = _proof(old, self.leaves[:size])
        lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
        return ("\n".join(lines) + "\n\n" + self.checkpoint(size, **kwargs)).encode()


def _text(checkpoint: str) -> str:
    return checkpoint.rpartition("\n\n")[0] + "\n"


#: Logs the module's one witness is given: one per test that needs a log of its own.
POOL = 24


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One witness process for the module (each start costs a second or two), given POOL
    logs of different origins: each test takes a log of its own, so none sees another's
    state. A test that stops its witness starts its own (`own_witness`)."""
    folder = tmp_path_factory.mktemp("pool")
    logs = [Log(folder / f"log-{n}", origin=f"log-{n}.test/log") for n in range(POOL)]
    made = registry_command(
        "witness", "keygen", "--name", "assay.test/witness", "--keys", str(folder / "w")
    )
    assert made.returncode == 0, made.stderr
    served = Served(folder / "w", [log.vkey for log in logs]).start()
    yield served, made.stdout.strip(), logs
    served.stop()


@pytest.fixture
def log(pool) -> Log:
    _, _, logs = pool
    return logs.pop()


@pytest.fixture
def witness_vkey(pool) -> str:
    return pool[1]


@pytest.fixture
def witness(pool) -> Served:
    return pool[0]


@pytest.fixture
def own_witness(tmp_path, log):
    made = registry_command(
        "witness", "keygen", "--name", "assay.test/witness", "--keys", str(tmp_path / "w")
    )
    assert made.returncode == 0, made.stderr
    served = Served(tmp_path / "w", [log.vkey]).start()
    yield served
    served.stop()


def _cosigned(witness: Served, witness_vkey: str, log: Log, old: int, **kwargs) -> int:
    body = log.request(old, **kwargs)
    status, kind, answer = witness.post(body)
    assert status == 200, answer
    checkpoint = body.decode().partition("\n\n")[2]
    return _check_cosignature(answer, witness_vkey, _text(checkpoint))


def test_the_first_checkpoint_from_old_size_0_is_cosigned_now(witness, witness_vkey, log):
    log.grow(5)
    before = int(time.time())
    stamp = _cosigned(witness, witness_vkey, log, 0)
    assert before <= stamp <= int(time.time()) + 1


def test_a_good_extension_is_cosigned_and_served_to_monitors(witness, witness_vkey, log):
    log.grow(5)
    _cosigned(witness, witness_vkey, log, 0)
    for more in (1, 6, 20, 1):
        old = len(log.leaves)
        log.grow(more)
        _cosigned(witness, witness_vkey, log, old)
    status, served = witness.get(f"/{hashlib.sha256(log.origin.encode()).hexdigest()}/checkpoint")
    assert status == 200
    text = _text(served)
    assert text.split("\n")[1] == str(len(log.leaves))
    lines = served.rpartition("\n\n")[2].splitlines()
    witness_lines = [line for line in lines if line.split(" ")[1] == "assay.test/witness"]
    assert len(witness_lines) == 1
    _check_cosignature(witness_lines[0], witness_vkey, text)
    # The log's own signatures are served with it, and still hold.
    assert note.open_checkpoint(served, {"log": _vkey_public(log.vkey)}).size == len(log.leaves)


def _vkey_public(vkey: str) -> bytes:
    return base64.b64decode(vkey.split("+", 2)[2])[1:]


def test_a_wrong_old_size_is_409_with_the_size_last_cosigned(witness, log):
    log.grow(8)
    assert witness.post(log.request(0))[0] == 200
    log.grow(4)
    for wrong in (0, 5, 11):
        status, kind, body = witness.post(log.request(wrong))
        assert (status, kind, body) == (409, "text/x.tlog.size", "8\n")


def test_a_bad_proof_is_422_and_changes_nothing(witness, witness_vkey, log):
    log.grow(8)
    assert witness.post(log.request(0))[0] == 200
    log.grow(5)
    good = log.request(8).decode()
    head, _, checkpoint = good.partition("\n\n")
    lines = head.split("\n")
    bad_hash = base64.b64encode(hashlib.sha256(b"another").digest()).decode()
    for proof in (lines[1:-1], [*lines[1:-1], bad_hash], [bad_hash, *lines[2:]], []):
        body = "\n".join([lines[0], *proof]) + "\n\n" + checkpoint
        assert witness.post(body.encode())[0] == 422, proof
    # A log that rewrote its history: the same size, another root.
    forked = log.request(8, root=hashlib.sha256(b"forked").digest())
    assert witness.post(forked)[0] == 422
    _cosigned(witness, witness_vkey, log, 8)  # the genuine extension still goes through


def test_a_log_it_was_not_given_is_404(witness, tmp_path):
    other = Log(tmp_path / "other", origin="other.test/log")
    other.grow(3)
    status, _, body = witness.post(other.request(0))
    assert status == 404
    assert "other.test/log" in body


def test_a_signature_that_fails_or_another_key_is_403(witness, log, tmp_path):
    log.grow(4)
    checkpoint = log.checkpoint()
    lines = checkpoint.split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"not the root").digest()).decode()
    assert witness.post(("old 0\n\n" + "\n".join(lines)).encode())[0] == 403
    # The same origin, signed by a key the witness was not given.
    impostor = Log(tmp_path / "impostor", origin=log.origin)
    impostor.grow(4)
    assert witness.post(impostor.request(0))[0] == 403


def test_a_checkpoint_from_the_future_is_refused(witness, log):
    log.grow(4)
    status, _, body = witness.post(log.request(0, at=int(time.time()) + 3600))
    assert status == 422
    assert "future" in body
    assert witness.post(log.request(0))[0] == 200  # nothing was stored


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"old 0\n", 400),
        (b"old -1\n\nx", 400),
        (b"old 01\n\nx", 400),
        (b"\xff\xfe\n\n", 400),
        (b"old 0\nnot base64!\n\nx", 400),
        (b"old 0\n" + b"AAAA\n" + b"\nx", 400),  # a hash of 3 bytes
    ],
)
def test_malformed_requests_are_400(witness, body, status):
    assert witness.post(body)[0] == status


def test_the_spec_s_other_refusals(witness, log):
    log.grow(10)
    # More than 63 proof lines.
    hash_line = base64.b64encode(bytes(32)).decode()
    body = "old 0\n" + (hash_line + "\n") * 64 + "\n" + log.checkpoint()
    assert witness.post(body.encode())[0] == 400
    # An old size above the checkpoint's.
    assert witness.post(b"old 11\n\n" + log.checkpoint().encode())[0] == 400
    # A checkpoint of size 0 has the empty tree's root.
    assert witness.post(log.request(0, 0, root=hashlib.sha256(b"x").digest()))[0] == 422
    # From old size 0, no proof.
    body = f"old 0\n{hash_line}\n\n{log.checkpoint()}"
    assert witness.post(body.encode())[0] == 422
    # Larger than any request can be.
    assert witness.post(b"old 0\n" + b"A" * 70_000)[0] == 413


def test_of_concurrent_extensions_of_one_size_exactly_one_wins(witness, log):
    log.grow(16)
    assert witness.post(log.request(0, 16))[0] == 200
    log.grow(40)
    bodies = [log.request(16, size) for size in range(17, 57)]
    statuses: list[int] = []
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> None:
        start.wait()
        statuses.append(witness.post(body)[0])

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)


def test_what_it_cosigned_outlives_a_restart(tmp_path, own_witness, log):
    log.grow(8)
    assert own_witness.post(log.request(0))[0] == 200
    own_witness.stop()
    again = Served(own_witness.folder, own_witness.vkeys).start()
    try:
        assert again.post(log.request(0)) == (409, "text/x.tlog.size", "8\n")
        status, about = again.get("/")
        assert status == 200 and "cosigned size 8" in about
    finally:
        again.stop()


def test_keygen_never_replaces_a_key_and_serve_says_what_is_wrong(tmp_path):
    first = registry_command("witness", "keygen", "--name", "one", "--keys", str(tmp_path / "w"))
    assert first.returncode == 0, first.stderr
    witness_vkey = first.stdout.strip()
    again = registry_command("witness", "keygen", "--name", "other", "--keys", str(tmp_path / "w"))
    assert again.returncode != 0
    assert "already holds a witness key" in again.stderr
    assert (tmp_path / "w" / "witness.vkey").read_text().strip() == witness_vkey
    bad = registry_command(
        "witness", "serve", "--port", "1", "--keys", str(tmp_path / "w"), "--log", "nonsense"
    )
    assert bad.returncode == 2
    assert "--log" in bad.stderr and "name+keyid+key" in bad.stderr


# --- the keys' side: vkeys, the witness's key, cosignatures read back ---------------------


def test_a_vkey_is_read_back_and_a_wrong_one_says_why(tmp_path):
    from keys import witness

    key = witness.generate(tmp_path / "k", "assay.test/witness")
    parsed = note.parse_verifier_key(str(key.vkey))
    assert (parsed.name, parsed.kind, parsed.public) == ("assay.test/witness", 0x04, key.public)
    name, key_id, encoded = str(key.vkey).split("+", 2)
    not_ed25519 = base64.b64encode(bytes([9]) + key.public).decode()
    for wrong, words in (
        (f"{name}+{'00' * 4}+{encoded}", "key ID"),
        (f"{name}+{key_id}", "three parts"),
        (f"{name}+{key_id}+{not_ed25519}", "Ed25519"),
        (f"{name}+zz+{encoded}", "hex"),
        (f"with space+{key_id}+{encoded}", "name"),
    ):
        with pytest.raises(note.NoteError, match=words):
            note.parse_verifier_key(wrong)


def test_cosignatures_are_checked_and_other_lines_ignored(tmp_path, log):
    from keys import witness

    one = witness.generate(tmp_path / "one", "one.test/w")
    other = witness.generate(tmp_path / "other", "other.test/w")
    log.grow(3)
    checkpoint = log.checkpoint()
    text = _text(checkpoint)
    cosigned = checkpoint + one.cosign(text, 1_700_000_000) + other.cosign(text, 1_700_000_001)
    assert note.cosignatures(cosigned, [one.vkey]) == {"one.test/w": 1_700_000_000}
    assert note.cosignatures(cosigned, [one.vkey, other.vkey]) == {
        "one.test/w": 1_700_000_000,
        "other.test/w": 1_700_000_001,
    }
    # This file's own reading of the spec agrees.
    assert _check_cosignature(one.cosign(text, 5), str(one.vkey), text) == 5
    # A line of a known cosigner over another text (a changed root) does not hold.
    forged = checkpoint.replace(text.split("\n")[2], base64.b64encode(bytes(32)).decode())
    with pytest.raises(note.SignatureFailed):
        note.cosignatures(forged + one.cosign(text, 7), [one.vkey])


def test_the_witness_key_is_kept_encrypted_and_checked_when_loaded(tmp_path):
    from keys import witness

    folder = tmp_path / "k"
    made = witness.generate(folder, "assay.test/witness", passphrase=b"correct horse")
    assert (folder / "witness.pem").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED" in (folder / "witness.pem").read_bytes()
    assert witness.load(folder, passphrase=b"correct horse").public == made.public
    with pytest.raises(keys.KeyRingError, match="REGISTRY_WITNESS_PASSPHRASE"):
        witness.load(folder)
    with pytest.raises(keys.KeyRingError, match="wrong passphrase"):
        witness.load(folder, passphrase=b"wrong")
    other = witness.generate(tmp_path / "other", "assay.test/witness")
    (folder / "witness.vkey").write_text(f"{other.vkey}\n")
    with pytest.raises(keys.KeyRingError, match="is not the vkey"):
        witness.load(folder, passphrase=b"correct horse")
    with pytest.raises(keys.KeyRingError, match="no witness key"):
        witness.load(tmp_path / "nowhere")


def test_a_head_request_has_the_get_s_headers_and_no_body(witness):
    status, kind, body = witness._ask("HEAD", "/")
    assert (status, body) == (200, "")
    assert kind == "text/plain; charset=utf-8"
    assert witness._ask("DELETE", "/add-checkpoint")[0] == 405
    assert witness._ask("GET", "/add-checkpoint")[0] == 405
    assert witness._ask("GET", "/nothing/here/at/all")[0] == 404
