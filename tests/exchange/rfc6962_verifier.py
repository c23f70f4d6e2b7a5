"""An independent RFC 9162 Merkle tree verifier, written from the RFC's text for the tests.

It deliberately shares no code with govhub.exchange.merkle: the definitions of section
2.1.1 (MTH), 2.1.3.1 (PATH), 2.1.4.1 (PROOF/SUBPROOF) are transcribed as plain recursion
over the list of entries, and the verification algorithms of 2.1.3.2 and 2.1.4.2 step by
step. Lists here hold leaf hashes (MTH of one entry) unless a name says "entries".
"""

from __future__ import annotations

import hashlib


def HASH(data: bytes) -> bytes:  # noqa: N802 - the RFC's name
    """The tree's hash algorithm: SHA-256."""
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0))."""
    return HASH(bytes([0]) + entry)


def largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; MTH({}) = HASH()."""
    n = len(hashes)
    if n == 0:
        return HASH(b"")
    if n == 1:
        return hashes[0]
    k = largest_power_of_two_below(n)
    return HASH(bytes([1]) + mth(hashes[:k]) + mth(hashes[k:]))


def mth_entries(entries: list[bytes]) -> bytes:
    """MTH over the entries themselves (the RFC's D[n])."""
    return mth([leaf(entry) for entry in entries])


def path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf m."""
    n = len(hashes)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


def proof(m: int, hashes: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return subproof(m, hashes, True)


def subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) as defined in 2.1.4.1."""
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return subproof(m, hashes[:k], b) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def _lsb(value: int) -> bool:
    return value % 2 == 1


def verify_inclusion(
    leaf_index: int, tree_size: int, hash_: bytes, inclusion_path: list[bytes], root_hash: bytes
) -> bool:
    """Section 2.1.3.2, step by step."""
    # 1.
    if leaf_index >= tree_size:
        return False
    # 2.
    fn = leaf_index
    sn = tree_size - 1
    # 3.
    r = hash_
    # 4.
    for p in inclusion_path:
        # a.
        if sn == 0:
            return False
        # b.
        if _lsb(fn) or fn == sn:
            r = HASH(bytes([1]) + p + r)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = HASH(bytes([1]) + r + p)
        # c.
        fn //= 2
        sn //= 2
    # 5.
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, consistency_path: list[bytes]
) -> bool:
    """Section 2.1.4.2, step by step (for 0 < first < second; equal sizes need equal roots)."""
    if first == second:
        return first_hash == second_hash and consistency_path == []
    if not 0 < first < second:
        return False
    # 1.
    if not consistency_path:
        return False
    consistency_path = list(consistency_path)
    # 2.
    if first & (first - 1) == 0:
        consistency_path = [first_hash] + consistency_path
    # 3.
    fn = first - 1
    sn = second - 1
    # 4.
    if _lsb(fn):
        while _lsb(fn):
            fn //= 2
            sn //= 2
    # 5.
    fr = consistency_path[0]
    sr = consistency_path[0]
    # 6.
    for c in consistency_path[1:]:
        # a.
        if sn == 0:
            return False
        # b.
        if _lsb(fn) or fn == sn:
            fr = HASH(bytes([1]) + c + fr)
            sr = HASH(bytes([1]) + c + sr)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = HASH(bytes([1]) + sr + c)
        # c.
        fn //= 2
        sn //= 2
    # 7.
    return fr == first_hash and sr == second_hash and sn == 0
