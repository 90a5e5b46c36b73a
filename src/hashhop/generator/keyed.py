"""SHA-256-derived keys and keyed bijections over integer ranges, vectorised with numpy.

Every random choice in a sample flows from here: a key is SHA-256 of a canonical encoding of
(format version, purpose, seed, parameters). A `KeyedPermutation` of [0, n) is a keyed
xor-multiply-xorshift bijection over the bit width of n - 1 (4 rounds, keys and multipliers from
SHA-256), restricted to [0, n) by cycle walking. It is a bijection by construction, so
distinct inputs always give distinct outputs, and it is invertible, so membership questions
("is this string one of the hashes of the problem?") are answered without storing anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
ROUNDS = 4

U64Array = NDArray[np.uint64]
_Rounds = list[tuple[np.uint64, np.uint64]]  # (key, multiplier) of each round


def derive_key(*parts: object) -> bytes:
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


def mix64(z: U64Array) -> U64Array:
    """splitmix64's finaliser: a fast 64-bit mixing bijection (arrays wrap mod 2**64)."""
    z = z ^ (z >> _U64(30))
    z *= _M1
    z ^= z >> _U64(27)
    z *= _M2
    z ^= z >> _U64(31)
    return z


def mix64_int(z: int) -> int:
    """mix64 for one Python int."""
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def _inverse_mod_pow2(m: int, bits: int) -> int:
    """The inverse of odd m modulo 2**bits (bits <= 64), twice as fast as pow(m, -1, 2**bits):
    m * m == 1 mod 8, and each Newton step x <- x * (2 - m * x) doubles the correct low bits."""
    mask, x = (1 << bits) - 1, m
    for _ in range(5):  # 3 -> 96 correct bits
        x = (x * (2 - m * x)) & mask
    return x


def as_u64(x: ArrayLike) -> U64Array:
    return np.ascontiguousarray(np.asarray(x, dtype=np.uint64))


class KeyedPermutation:
    """A keyed bijection of [0, n) for n up to 2**64.

    Over b = bit_length(n - 1) bits, ROUNDS rounds of: xor a round key, multiply by an odd round
    constant mod 2**b, xor-shift right by ceil(b/2). Each step is a bijection of b-bit integers
    (the xor-shift is its own inverse because the shift is at least b/2), keys and multipliers come
    from SHA-256, and cycle walking restricts the result to [0, n) (fewer than half the values
    walk). A handful of vector operations per value: cheap enough to run twice per prompt line.
    """

    def __init__(self, n: int, key: bytes, label: str = "perm") -> None:
        if not 1 <= n <= 2**64:
            raise ValueError(f"permutation domain must be in [1, 2**64], got {n}")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self._bits = bits
        words = subkeys(key, label, 2 * ROUNDS + 1)
        mod = 1 << bits
        # Constants are Python ints: the scalar path (one lookup) would spend more converting numpy
        # scalars than computing. The vectorised path and the inverse build theirs on first use,
        # since a problem rebuilt for scoring often needs neither.
        self._int_rounds = [(w % mod, (m | 1) % mod) for w, m in zip(words[:ROUNDS], words[ROUNDS : 2 * ROUNDS])]
        self._int_final, self._int_mask, self._int_shift = words[-1] % mod, mod - 1, (bits + 1) // 2

    @cached_property
    def _int_inv_rounds(self) -> list[tuple[int, int]]:
        """(key, inverse multiplier) of each round, last round first."""
        return [(k, _inverse_mod_pow2(m, self._bits)) for k, m in reversed(self._int_rounds)]

    @cached_property
    def _u64(self) -> tuple[_Rounds, _Rounds, np.uint64, np.uint64, np.uint64, np.uint64]:
        """(forward rounds, inverse rounds, mask, shift, final, limit) as numpy uint64 scalars."""
        rounds = [(_U64(k), _U64(m)) for k, m in self._int_rounds]
        inverse = [(_U64(k), _U64(m)) for k, m in self._int_inv_rounds]
        return (rounds, inverse, _U64(self._int_mask), _U64(self._int_shift), _U64(self._int_final), _U64(self.n - 1))

    def _encrypt(self, x: U64Array) -> U64Array:
        rounds, _, mask, shift, final, _ = self._u64
        z = x.copy()
        for k, m in rounds:
            z ^= k
            z *= m
            z &= mask
            z ^= z >> shift
        z ^= final
        return z

    def _decrypt(self, y: U64Array) -> U64Array:
        _, inverse, mask, shift, final, _ = self._u64
        z = y ^ final
        for k, m_inv in inverse:
            z ^= z >> shift
            z *= m_inv
            z &= mask
            z ^= k
        return z

    def _walk(self, step: Callable[[U64Array], U64Array], values: ArrayLike) -> U64Array:
        x = as_u64(values)
        if x.size and int(x.max()) > self.n - 1:
            raise ValueError(f"permutation input outside [0, {self.n})")  # would cycle-walk forever
        if self.n == 1:
            return np.zeros_like(x)
        limit = self._u64[-1]
        out = step(x)
        bad = np.flatnonzero(out > limit)
        while bad.size:  # cycle walking: re-encrypt until the value falls inside [0, n)
            fixed = step(out[bad])
            out[bad] = fixed
            bad = bad[fixed > limit]
        return out

    def forward_int(self, x: int) -> int:
        """forward() for one Python int, without numpy (for lookups of single hashes)."""
        return self._walk_int(x, self._encrypt_int)

    def inverse_int(self, y: int) -> int:
        return self._walk_int(y, self._decrypt_int)

    def _walk_int(self, x: int, step: Callable[[int], int]) -> int:
        if not 0 <= x < self.n:
            raise ValueError(f"permutation input outside [0, {self.n})")
        if self.n == 1:
            return 0
        x = step(x)
        while x >= self.n:
            x = step(x)
        return x

    def _encrypt_int(self, z: int) -> int:
        mask, shift = self._int_mask, self._int_shift
        for k, m in self._int_rounds:
            z = ((z ^ k) * m) & mask
            z ^= z >> shift
        return z ^ self._int_final

    def _decrypt_int(self, z: int) -> int:
        mask, shift = self._int_mask, self._int_shift
        z ^= self._int_final
        for k, m_inv in self._int_inv_rounds:
            z ^= z >> shift
            z = ((z * m_inv) & mask) ^ k
        return z

    def forward_ints(self, xs: Sequence[int]) -> list[int]:
        """forward_int of each element: for a handful of values, cheaper than one numpy call."""
        step, n = self._encrypt_int, self.n
        if any(not 0 <= x < n for x in xs):
            raise ValueError(f"permutation input outside [0, {n})")
        if n == 1:
            return [0] * len(xs)
        out = []
        for x in xs:
            x = step(x)
            while x >= n:
                x = step(x)
            out.append(x)
        return out

    def forward(self, x: ArrayLike) -> U64Array:
        """Image of each element of x (uint64 array, every element < n)."""
        return self._walk(self._encrypt, x)

    def inverse(self, y: ArrayLike) -> U64Array:
        """Preimage of each element of y (uint64 array, every element < n)."""
        return self._walk(self._decrypt, y)
