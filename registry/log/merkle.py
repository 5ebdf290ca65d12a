"""RFC 9162 Merkle trees (section 2.1): hashes, proofs, and their verification.

Pure functions, no database: the log stores the tree (registry/log/tree.py), the
auditor (`registry log verify`) and the tests check proofs with what is here.

A tree of n leaves is made of nodes that each cover leaves [a, b). A node whose range
is a whole power of two long and aligned to it is *perfect*: it never changes once its
last leaf is appended, so it is stored, as (level, index) = (log2(b - a), a >> level).
Every other node the RFC algorithms need lies on the tree's right edge and is folded
from the perfect nodes that make up its range (`perfect_cover`), so that a proof for
any tree size is served from stored nodes alone.
"""

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: A perfect node: (level, index), covering leaves [index << level, (index + 1) << level).
Node = tuple[int, int]


class ProofError(ValueError):
    """A proof that does not verify, or a request that cannot have one."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where the RFC splits a range."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_cover(start: int, end: int) -> list[Node]:
    """The perfect nodes that make up the node covering [start, end), left to right.

    Only defined for the ranges that are nodes of an RFC 9162 tree: their pieces then
    shrink from left to right, and the node's hash is the right-to-left fold of theirs.
    """
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a node of a Merkle tree")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a node from the hashes of its perfect cover, left to right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[0:size]), in proof order (RFC 9162
    section 2.1.3.1). Raises ProofError unless 0 <= index < size."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(first, D[0:second]), in proof order (RFC 9162
    section 2.1.4.1). Empty when first == second or first == 0."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, whole = 0, second, True
    m = first
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def needed(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every perfect node that the hashes of these ranges are folded from."""
    return {node for start, end in ranges for node in perfect_cover(start, end)}


def assemble(ranges: Iterable[tuple[int, int]], nodes: dict[Node, bytes]) -> list[bytes]:
    """The proof's hashes, from the stored perfect nodes (KeyError when one is missing)."""
    return [fold([nodes[node] for node in perfect_cover(start, end)]) for start, end in ranges]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes):
    """RFC 9162 section 2.1.3.2; raises ProofError unless `leaf` is at `index` of the
    tree of `size` leaves whose root is `root`."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    _hash_sizes([leaf, root, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
):
    """RFC 9162 section 2.1.4.2; raises ProofError unless the tree of `first` leaves
    with root `first_root` is a prefix of the tree of `second` leaves."""
    if not 0 <= first <= second:
        raise ProofError(f"size {first} is larger than size {second}")
    if first == 0:
        raise ProofError("every tree extends the empty tree: such a proof proves nothing")
    if first == second:
        if proof:
            raise ProofError("trees of equal size take an empty proof")
        if first_root != second_root:
            raise ProofError("trees of equal size have different roots")
        return
    _hash_sizes([first_root, second_root, *proof])
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root:
        raise ProofError("the consistency proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("the consistency proof does not lead to the second root")


def _hash_sizes(hashes: Iterable[bytes]) -> None:
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise ProofError(f"a hash of {len(value)} bytes, not {HASH_SIZE}")


class Builder:
    """A tree grown one leaf at a time, keeping only its right edge (O(log n) hashes).

    `append` returns the perfect nodes the leaf completes, for storing; `root` is the
    tree's root hash at its current size.
    """

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()):
        #: The roots of the perfect subtrees that make up the tree, largest first.
        self.size = size
        self.edge = list(edge)
        if len(self.edge) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} edge nodes")

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        index = self.size
        completed = [((0, index), leaf)]
        current, level = leaf, 0
        while (index >> level) & 1:
            current = node_hash(self.edge.pop(), current)
            level += 1
            completed.append(((level, index >> level), current))
        self.edge.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.edge) if self.edge else EMPTY_ROOT


def edge_nodes(size: int) -> list[Node]:
    """The perfect nodes on the right edge of a tree of `size` leaves, largest first:
    what a Builder needs to resume appending."""
    return perfect_cover(0, size) if size else []
