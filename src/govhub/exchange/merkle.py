"""RFC 6962 / RFC 9162 Merkle tree hashing: pure functions, no database.

Hashes are raw 32-byte SHA-256 digests. Leaves are given as leaf hashes
(SHA-256(0x00 || entry)); interior nodes are SHA-256(0x01 || left || right); a tree of n
leaves splits at k, the largest power of two smaller than n (RFC 9162 section 2.1.1).

Proof generation works on ranges: `inclusion_ranges` and `consistency_ranges` say which
MTH(D[a:b]) make up a proof, so that a store can fetch every hash a proof needs at once.
Every such range starts at a multiple of a power of two at least its length, so it splits
into aligned perfect subtrees (`perfect_pieces`) that a store can keep precomputed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
NodeSink = Callable[[int, int, bytes], None]


def leaf_hash(entry: bytes) -> bytes:
    """MTH of a one-entry list: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """A growing tree kept as its perfect subtrees (one per 1-bit of the size): O(log n) memory.

    Appending costs amortised one node hash, so streaming n leaves gives the root in O(n).
    `sink(level, position, hash)` receives every completed subtree whose level is a positive
    multiple of `sink_stride` (the nodes a store keeps to answer proofs quickly).
    """

    __slots__ = ("size", "_hashes", "_sink", "_stride_mask")

    def __init__(
        self,
        size: int = 0,
        hashes: Sequence[bytes] = (),
        *,
        sink: NodeSink | None = None,
        sink_stride: int = 4,
    ) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, not {len(hashes)}"
            )
        self.size = size
        self._hashes = list(hashes)  # largest (leftmost) subtree first
        self._sink = sink
        self._stride_mask = (1 << (sink_stride.bit_length() - 1)) - 1 if sink else 0
        if sink and sink_stride & (sink_stride - 1):
            raise ValueError("sink_stride must be a power of two")

    @property
    def hashes(self) -> list[bytes]:
        """The perfect subtree roots, leftmost first (what a checkpoint stores to resume)."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        node = leaf
        self.size += 1
        size = self.size
        level = 0
        hashes = self._hashes
        # A carry in a binary counter: each trailing zero of the new size merges two subtrees.
        while not size & 1:
            node = hashlib.sha256(b"\x01" + hashes.pop() + node).digest()
            level += 1
            size >>= 1
            if self._sink is not None and not level & self._stride_mask:
                self._sink(level, size - 1, node)
        hashes.append(node)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add several leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of every leaf so far (the RFC split gives exactly this right-to-left fold)."""
        if not self._hashes:
            return EMPTY_ROOT
        return fold_pieces(self._hashes)


def fold_pieces(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect pieces, leftmost first: fold from the right."""
    node = hashes[-1]
    for left in reversed(hashes[:-1]):
        node = node_hash(left, node)
    return node


def root(leaves: Iterable[bytes]) -> bytes:
    """MTH of a list of leaf hashes, streaming."""
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """Split [start, end) as MTH does into aligned perfect subtrees: (start, level) pairs."""
    pieces = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"range [{start}, {end}) is not aligned as in a Merkle tree")
        pieces.append((start, level))
        start += 1 << level
    return pieces


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # the recursion appends the sibling after the deeper path
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form PROOF(first, D[0:second]) (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    ranges: list[tuple[int, int]] = []
    start, end, complete = 0, second, True
    m = first
    # SUBPROOF(m, D[start:end], complete), unrolled; siblings are collected top-down.
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def range_hash(start: int, end: int, leaves: Sequence[bytes]) -> bytes:
    """MTH(D[start:end]) computed from an in-memory list of leaf hashes."""
    return root(leaves[start:end])


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Audit path of leaf index in the tree of the given leaf hashes (in memory)."""
    return [range_hash(a, b, leaves) for a, b in inclusion_ranges(index, len(leaves))]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from size first to len(leaves) (in memory)."""
    return [range_hash(a, b, leaves) for a, b in consistency_ranges(first, len(leaves))]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 2.1.3.2), or None if the path is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """True when path proves that leaf is entry index of the tree of this size and root."""
    return root_from_inclusion(index, size, leaf, path) == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """True when path proves the tree (second, second_root) extends (first, first_root) (2.1.4.2)."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:  # first is a power of two: its root is implied
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
