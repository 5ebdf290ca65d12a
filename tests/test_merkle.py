"""RFC 9162 Merkle trees: registry.log.merkle against the public test vectors and against a
reference written here from the RFC's definitions, and the proofs the log API serves
checked with that reference alone.

The reference (section 2.1: MTH, PATH, PROOF/SUBPROOF and the verification algorithms
of 2.1.3.2 and 2.1.4.2) imports nothing from the registry, so that a mistake shared by
the registry's builder, its proofs and its verifier cannot pass unnoticed.
"""

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from registry import create_app
from registry.edge import database
from registry.log import ledger, merkle
from schemas.standards import EventType
from tests.conftest import SHARED

# The reference implementation of RFC 9162 section 2.1.


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_leaf(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def ref_node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    """k of section 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def is_power_of_two(n: int) -> bool:
    while n > 1 and n % 2 == 0:
        n //= 2
    return n == 1


class Reference:
    """MTH, PATH and PROOF of a list of entries D, straight from their recursive
    definitions (ranges [start, end) of D stand for D[start:end]; MTH is memoised)."""

    def __init__(self, entries: list[bytes]):
        self.leaves = [ref_leaf(entry) for entry in entries]
        self._mth: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return sha256(b"")
        if n == 1:
            return self.leaves[start]
        if (start, end) not in self._mth:
            k = largest_power_of_two_below(n)
            self._mth[start, end] = ref_node(self.mth(start, start + k), self.mth(start + k, end))
        return self._mth[start, end]

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def path(self, m: int, size: int) -> list[bytes]:
        """PATH(m, D[0:size]), section 2.1.3.1."""
        return self._path(m, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return self._path(m, start, start + k) + [self.mth(start + k, end)]
        return self._path(m - k, start + k, end) + [self.mth(start, start + k)]

    def proof(self, m: int, size: int) -> list[bytes]:
        """PROOF(m, D[0:size]) = SUBPROOF(m, D[0:size], true), section 2.1.4.1."""
        return self._subproof(m, 0, size, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return self._subproof(m, start, start + k, whole) + [self.mth(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self.mth(start, start + k)]


def ref_verify_inclusion(index: int, size: int, leaf: bytes, proof, root: bytes) -> bool:
    """Section 2.1.3.2, step by step (its values are all SHA-256 hashes)."""
    if index < 0 or index >= size:
        return False
    if any(len(h) != 32 for h in (leaf, root, *proof)):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = ref_node(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            r = ref_node(r, p)
        fn, sn = fn // 2, sn // 2
    return sn == 0 and r == root


def ref_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, proof):
    """Section 2.1.4.2, step by step, for 0 < first < second; for first == second (> 0),
    PROOF(m, D[m]) is empty (2.1.4.1) and the two roots must be the same."""
    if first == second:
        return first > 0 and not proof and first_hash == second_hash
    if not 0 < first < second:
        return False
    if not proof or any(len(h) != 32 for h in (first_hash, second_hash, *proof)):
        return False
    path = list(proof)
    if is_power_of_two(first):
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = ref_node(c, fr)
            sr = ref_node(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            sr = ref_node(sr, c)
        fn, sn = fn // 2, sn // 2
    return fr == first_hash and sr == second_hash and sn == 0


def registry_accepts_inclusion(index, size, leaf, proof, root) -> bool:
    try:
        merkle.verify_inclusion(index, size, leaf, proof, root)
    except merkle.ProofError:
        return False
    return True


def registry_accepts_consistency(first, second, first_root, second_root, proof) -> bool:
    try:
        merkle.verify_consistency(first, second, first_root, second_root, proof)
    except merkle.ProofError:
        return False
    return True


# The public vectors (transparency-dev/merkle), one test per file.

MERKLE_VECTORS = SHARED / "vectors" / "merkle"
VECTOR_FILES = sorted(p.relative_to(MERKLE_VECTORS) for p in MERKLE_VECTORS.rglob("*.json"))
# The leaves of the RFC 6962 test tree behind the vectors' happy paths.
TEST_TREE = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _vector_id(path: Path) -> str:
    return path.with_suffix("").as_posix()


def _load(vectors: Path, name: Path) -> dict:
    return json.loads((vectors / "merkle" / name).read_text())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _inputs(case: dict) -> tuple[str, tuple]:
    proof = [_b64(h) for h in case["proof"] or []]
    if "leafIdx" in case:
        leaf, root = _b64(case["leafHash"]), _b64(case["root"])
        return "inclusion", (case["leafIdx"], case["treeSize"], leaf, proof, root)
    first, second = _b64(case["root1"]), _b64(case["root2"])
    return "consistency", (case["size1"], case["size2"], first, second, proof)


def test_every_vector_file_is_found(vectors):
    found = sorted(p.relative_to(vectors / "merkle") for p in (vectors / "merkle").rglob("*.json"))
    assert len(found) > 150
    assert found == VECTOR_FILES
    kinds = {name.parts[0] for name in found}
    assert kinds == {"inclusion", "consistency"}


@pytest.mark.parametrize("name", VECTOR_FILES, ids=_vector_id)
def test_the_registry_verifier_gives_each_vectors_verdict(vectors, name):
    case = _load(vectors, name)
    kind, arguments = _inputs(case)
    verify = merkle.verify_inclusion if kind == "inclusion" else merkle.verify_consistency
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            verify(*arguments)
    else:
        verify(*arguments)


@pytest.mark.parametrize("name", VECTOR_FILES, ids=_vector_id)
def test_the_reference_verifier_gives_each_vectors_verdict(vectors, name):
    case = _load(vectors, name)
    kind, arguments = _inputs(case)
    verify = ref_verify_inclusion if kind == "inclusion" else ref_verify_consistency
    assert verify(*arguments) is not case["wantErr"]


def test_the_reference_builds_the_vectors_happy_paths(vectors):
    """The reference's roots and proofs of the RFC 6962 test tree are the vectors' own."""
    tree = Reference(TEST_TREE)
    happy = [name for name in VECTOR_FILES if name.name == "happy-path.json"]
    assert len(happy) >= 8
    for name in happy:
        case = _load(vectors, name)
        proof = [_b64(h) for h in case["proof"] or []]
        if "leafIdx" in case:
            index, size = case["leafIdx"], case["treeSize"]
            assert tree.leaves[index] == _b64(case["leafHash"]), name
            assert tree.root(size) == _b64(case["root"]), name
            assert tree.path(index, size) == proof, name
        else:
            first, second = case["size1"], case["size2"]
            assert tree.root(first) == _b64(case["root1"]), name
            assert tree.root(second) == _b64(case["root2"]), name
            assert tree.proof(first, second) == proof, name


# registry.log.merkle against the reference, without a database.


def _entries(count: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(count)]


def test_builder_roots_are_the_reference_mth_at_every_size():
    sizes = 1100
    tree = Reference(_entries(sizes))
    builder = merkle.Builder()
    assert builder.root() == sha256(b"") == tree.root(0)
    for size in range(1, sizes + 1):
        builder.append(tree.leaves[size - 1])
        assert builder.size == size
        assert builder.root() == tree.root(size), size


def test_a_builder_resumed_from_its_edge_keeps_the_reference_roots():
    tree = Reference(_entries(300))
    stored: dict[merkle.Node, bytes] = {}
    builder = merkle.Builder()
    for size in range(1, 301):
        stored.update(builder.append(tree.leaves[size - 1]))
        edge = [stored[node] for node in merkle.edge_nodes(size)]
        resumed = merkle.Builder(size, edge)
        assert resumed.root() == tree.root(size), size
        if size < 300:
            resumed.append(tree.leaves[size])
            assert resumed.root() == tree.root(size + 1), size


def test_leaf_and_node_hashes_are_the_rfcs():
    assert merkle.leaf_hash(b"abc") == ref_leaf(b"abc") == sha256(b"\x00abc")
    left, right = sha256(b"l"), sha256(b"r")
    assert merkle.node_hash(left, right) == ref_node(left, right) == sha256(b"\x01" + left + right)
    assert merkle.EMPTY_ROOT == sha256(b"")


def test_proofs_from_stored_nodes_are_the_reference_proofs():
    """What the log serves (ranges folded from stored perfect nodes) is PATH and PROOF,
    and both verifiers accept them, for every index and size up to 70."""
    largest = 70
    tree = Reference(_entries(largest))
    stored: dict[merkle.Node, bytes] = {}
    builder = merkle.Builder()
    for leaf in tree.leaves:
        stored.update(builder.append(leaf))
    for size in range(1, largest + 1):
        root = tree.root(size)
        for index in range(size):
            proof = merkle.assemble(merkle.inclusion_ranges(index, size), stored)
            assert proof == tree.path(index, size), (index, size)
            leaf = tree.leaves[index]
            assert ref_verify_inclusion(index, size, leaf, proof, root)
            assert registry_accepts_inclusion(index, size, leaf, proof, root)
        for first in range(1, size + 1):
            proof = merkle.assemble(merkle.consistency_ranges(first, size), stored)
            assert proof == tree.proof(first, size), (first, size)
            assert ref_verify_consistency(first, size, tree.root(first), root, proof)
            assert registry_accepts_consistency(first, size, tree.root(first), root, proof)


def test_the_registry_refuses_what_cannot_have_a_proof():
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(-1, 5)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(6, 5)


# The proofs the API serves, from a log of 2000 real entries.

LOG_SIZE = 2000


def _altered(proof: list[bytes], rng: random.Random) -> list[list[bytes]]:
    """The proof with one bit flipped, one hash dropped, one hash added."""
    altered = []
    if proof:
        j, bit = rng.randrange(len(proof)), rng.randrange(256)
        flipped = bytearray(proof[j])
        flipped[bit // 8] ^= 1 << (bit % 8)
        altered.append(proof[:j] + [bytes(flipped)] + proof[j + 1 :])
        j = rng.randrange(len(proof))
        altered.append(proof[:j] + proof[j + 1 :])
    j = rng.randrange(len(proof) + 1)
    extra = rng.choice([sha256(rng.randbytes(8)), *proof]) if proof else sha256(b"extra")
    altered.append(proof[:j] + [extra] + proof[j:])
    return altered


@st.composite
def _cases(draw) -> tuple[int, int, int]:
    """(n, m, index): a tree size, an older size and an entry of the tree of n."""
    n = draw(st.integers(min_value=1, max_value=LOG_SIZE))
    m = draw(st.integers(min_value=1, max_value=n))
    index = draw(st.integers(min_value=0, max_value=n - 1))
    return n, m, index


def test_served_proofs_verify_with_the_reference_and_altered_ones_do_not(database_url, tmp_path):
    """For random sizes m <= n <= 2000 and entries of the tree of n: the served inclusion
    and consistency proofs are RFC 9162's, verify against roots computed from the served
    entries, and no longer verify with a bit flipped, a hash dropped or added, or another
    index or size. (Rate limits off: this is some 300 requests.)"""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            "RATELIMIT_ENABLED": False,
        }
    )
    try:
        with app.app_context():
            session = database.session()
            for i in range(LOG_SIZE):
                ledger.append(session, EventType.KEY_GENERATED, actor=None, data={"n": i})
            session.commit()
        client = app.test_client()

        served: list[dict] = []
        while len(served) < LOG_SIZE:
            page = client.get(f"/api/v1/log/entries?start={len(served)}&limit=1000")
            assert page.status_code == 200, page.json
            assert page.json["tree_size"] == LOG_SIZE
            assert page.json["entries"], "a page of a log that has more entries is empty"
            served.extend(page.json["entries"])
        assert [e["index"] for e in served] == list(range(LOG_SIZE))
        assert [e["entry"]["data"] for e in served] == [{"n": i} for i in range(LOG_SIZE)]
        tree = Reference([rfc8785.dumps(e["entry"]) for e in served])

        # The one commit made one checkpoint, of the whole log.
        checkpoint = client.get("/api/v1/log/checkpoint").json
        assert checkpoint["tree_size"] == LOG_SIZE
        assert _b64(checkpoint["root_hash"]) == tree.root(LOG_SIZE)

        def inclusion(index: int, size: int) -> tuple[bytes, list[bytes]]:
            response = client.get(f"/api/v1/log/proof/inclusion?index={index}&tree_size={size}")
            assert response.status_code == 200, response.json
            body = response.json
            assert (body["index"], body["tree_size"]) == (index, size)
            assert _b64(body["leaf_hash"]) == tree.leaves[index]
            assert _b64(body["root_hash"]) == tree.root(size)
            return tree.leaves[index], [_b64(h) for h in body["proof"]]

        def consistency(first: int, second: int) -> list[bytes]:
            response = client.get(f"/api/v1/log/proof/consistency?first={first}&second={second}")
            assert response.status_code == 200, response.json
            body = response.json
            assert (body["first"], body["second"]) == (first, second)
            assert _b64(body["first_root"]) == tree.root(first)
            assert _b64(body["second_root"]) == tree.root(second)
            return [_b64(h) for h in body["proof"]]

        def accepted_inclusion(*arguments) -> bool:
            """By either verifier: the reference or the registry's."""
            return ref_verify_inclusion(*arguments) or registry_accepts_inclusion(*arguments)

        def accepted_consistency(first: int, second: int, proof: list[bytes]) -> bool:
            arguments = (first, second, tree.root(first), tree.root(second), proof)
            return ref_verify_consistency(*arguments) or registry_accepts_consistency(*arguments)

        @settings(max_examples=150, deadline=None)
        @given(case=_cases(), seed=st.integers(min_value=0, max_value=2**32 - 1))
        @example(case=(1, 1, 0), seed=1)
        @example(case=(LOG_SIZE, LOG_SIZE, LOG_SIZE - 1), seed=2)
        @example(case=(LOG_SIZE, 1024, 1023), seed=3)
        @example(case=(1024, 512, 0), seed=4)
        @example(case=(1025, 1024, 1024), seed=5)
        @example(case=(7, 3, 6), seed=6)
        def check(case: tuple[int, int, int], seed: int) -> None:
            n, m, index = case
            rng = random.Random(seed)  # noqa: S311 - picks what to alter, not a secret
            root = tree.root(n)

            leaf, proof = inclusion(index, n)
            assert proof == tree.path(index, n)
            assert ref_verify_inclusion(index, n, leaf, proof, root)
            assert registry_accepts_inclusion(index, n, leaf, proof, root)
            for altered in _altered(proof, rng):
                assert not accepted_inclusion(index, n, leaf, altered, root)
            others = [i for i in (index - 1, index + 1, rng.randrange(n)) if 0 <= i < n]
            for other in {i for i in others if i != index}:
                assert not accepted_inclusion(other, n, leaf, proof, root)
            sizes = (n - 1, n + 1, rng.randint(index + 1, LOG_SIZE))
            for size in {s for s in sizes if index < s <= LOG_SIZE and s != n}:
                assert not accepted_inclusion(index, size, leaf, proof, tree.root(size))

            proof = consistency(m, n)
            assert proof == tree.proof(m, n)
            assert ref_verify_consistency(m, n, tree.root(m), root, proof)
            assert registry_accepts_consistency(m, n, tree.root(m), root, proof)
            for altered in _altered(proof, rng):
                assert not accepted_consistency(m, n, altered)
            for first in {s for s in (m - 1, m + 1, rng.randint(1, n)) if 1 <= s <= n and s != m}:
                assert not accepted_consistency(first, n, proof)

        check()
    finally:
        app.extensions["registry.engine"].dispose()
