"""SHA-256-derived keys and keyed bijections over integer ranges, vectorised with numpy.

Every random choice in a sample flows from here: a key is SHA-256 of a canonical encoding of
(format version, purpose, seed, parameters). A `KeyedPermutation` of [0, n) is an alternating Feistel
network (4 rounds, round keys from SHA-256, a multiply-xorshift round function) over the bit width
of n - 1, restricted to [0, n) by cycle walking. It is a bijection by construction, so
distinct inputs always give distinct outputs, and it is invertible, so membership questions
("is this string one of the hashes of the problem?") are answered without storing anything.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
ROUNDS = 4  # even: the alternating network needs it to restore its half widths


def derive_key(*parts) -> bytes:
    """SHA-256 of a canonical JSON encoding of `parts`: the root of every random choice."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).digest()


def subkeys(key: bytes, label: str, count: int) -> list[int]:
    """`count` 64-bit integers derived from `key` for one purpose."""
    out = []
    for i in range(count):
        digest = hashlib.sha256(key + label.encode() + i.to_bytes(4, "big")).digest()
        out.append(int.from_bytes(digest[:8], "big"))
    return out


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast 64-bit mixing bijection (arrays wrap mod 2**64)."""
    z = z ^ (z >> _U64(30))
    z *= _M1
    z ^= z >> _U64(27)
    z *= _M2
    z ^= z >> _U64(31)
    return z


def as_u64(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.uint64))


class KeyedPermutation:
    """A keyed bijection of [0, n) for n up to 2**64.

    An alternating Feistel network over b = bit_length(n - 1) bits: the halves are floor(b/2)
    and ceil(b/2) bits and swap sizes each round, so odd widths need no padding and cycle
    walking re-encrypts fewer than half of the values on average.
    """

    def __init__(self, n: int, key: bytes, label: str = "perm"):
        if not 1 <= n <= 2**64:
            raise ValueError(f"permutation domain must be in [1, 2**64], got {n}")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self._sizes = (bits // 2, bits - bits // 2)  # (left, right) bit widths before round 1
        self._keys = [_U64(k) for k in subkeys(key, label, ROUNDS)]
        self._limit = _U64(n - 1)

    @staticmethod
    def _mask(width: int) -> np.uint64:
        return _U64((1 << width) - 1)

    @staticmethod
    def _round(r: np.ndarray, k: np.uint64, width: int) -> np.ndarray:
        # Multiply-xorshift-multiply, keeping the top `width` bits (the best-mixed ones).
        z = r ^ k
        z *= _M1
        z ^= z >> _U64(29)
        z *= _M2
        return z >> _U64(64 - width) if width else z & _U64(0)

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        a, c = self._sizes
        left, right = x >> _U64(c), x & self._mask(c)
        for k in self._keys:  # (L: a bits, R: c bits) -> (R: c bits, L ^ F(R): a bits)
            left, right = right, left ^ self._round(right, k, a)
            a, c = c, a
        return (left << _U64(c)) | right

    def _decrypt(self, y: np.ndarray) -> np.ndarray:
        a, c = self._sizes  # an even number of rounds restores the starting widths
        left, right = y >> _U64(c), y & self._mask(c)
        for k in reversed(self._keys):
            left, right = right ^ self._round(left, k, c), left
            a, c = c, a
        return (left << _U64(c)) | right

    def _walk(self, step, x) -> np.ndarray:
        x = as_u64(x)
        if x.size and int(x.max()) > int(self._limit):
            raise ValueError(f"permutation input outside [0, {self.n})")  # would cycle-walk forever
        if self.n == 1:
            return np.zeros_like(x)
        out = step(x)
        bad = np.flatnonzero(out > self._limit)
        while bad.size:  # cycle walking: re-encrypt until the value falls inside [0, n)
            fixed = step(out[bad])
            out[bad] = fixed
            bad = bad[fixed > self._limit]
        return out

    def forward(self, x) -> np.ndarray:
        """Image of each element of x (uint64 array, every element < n)."""
        return self._walk(self._encrypt, x)

    def inverse(self, y) -> np.ndarray:
        """Preimage of each element of y (uint64 array, every element < n)."""
        return self._walk(self._decrypt, y)
