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

import numpy as np

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
ROUNDS = 4


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


def mix64_int(z: int) -> int:
    """mix64 for one Python int."""
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def as_u64(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.uint64))


class KeyedPermutation:
    """A keyed bijection of [0, n) for n up to 2**64.

    Over b = bit_length(n - 1) bits, ROUNDS rounds of: xor a round key, multiply by an odd round
    constant mod 2**b, xor-shift right by ceil(b/2). Each step is a bijection of b-bit integers
    (the xor-shift is its own inverse because the shift is at least b/2), keys and multipliers come
    from SHA-256, and cycle walking restricts the result to [0, n) (fewer than half the values
    walk). A handful of vector operations per value: cheap enough to run twice per prompt line.
    """

    def __init__(self, n: int, key: bytes, label: str = "perm"):
        if not 1 <= n <= 2**64:
            raise ValueError(f"permutation domain must be in [1, 2**64], got {n}")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self._bits = bits
        self._mask = _U64((1 << bits) - 1)
        self._shift = _U64((bits + 1) // 2)
        words = subkeys(key, label, 2 * ROUNDS + 1)
        mod = 1 << bits
        self._keys = [_U64(w % mod) for w in words[:ROUNDS]]
        self._mults = [(w | 1) % mod for w in words[ROUNDS:2 * ROUNDS]]
        self._inv_mults = [_U64(pow(m, -1, mod)) for m in self._mults]
        self._mults = [_U64(m) for m in self._mults]
        self._final = _U64(words[-1] % mod)
        self._limit = _U64(n - 1)

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        z = x.copy()
        for k, m in zip(self._keys, self._mults):
            z ^= k
            z *= m
            z &= self._mask
            z ^= z >> self._shift
        z ^= self._final
        return z

    def _decrypt(self, y: np.ndarray) -> np.ndarray:
        z = y ^ self._final
        for k, m_inv in zip(reversed(self._keys), reversed(self._inv_mults)):
            z ^= z >> self._shift
            z *= m_inv
            z &= self._mask
            z ^= k
        return z

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

    def forward_int(self, x: int) -> int:
        """forward() for one Python int, without numpy (for lookups of single hashes)."""
        return self._walk_int(x, self._encrypt_int)

    def inverse_int(self, y: int) -> int:
        return self._walk_int(y, self._decrypt_int)

    def _walk_int(self, x: int, step) -> int:
        if not 0 <= x < self.n:
            raise ValueError(f"permutation input outside [0, {self.n})")
        if self.n == 1:
            return 0
        x = step(x)
        while x >= self.n:
            x = step(x)
        return x

    def _encrypt_int(self, z: int) -> int:
        mask, shift = int(self._mask), int(self._shift)
        for k, m in zip(self._keys, self._mults):
            z = ((z ^ int(k)) * int(m)) & mask
            z ^= z >> shift
        return z ^ int(self._final)

    def _decrypt_int(self, z: int) -> int:
        mask, shift = int(self._mask), int(self._shift)
        z ^= int(self._final)
        for k, m_inv in zip(reversed(self._keys), reversed(self._inv_mults)):
            z ^= z >> shift
            z = ((z * int(m_inv)) & mask) ^ int(k)
        return z

    def forward(self, x) -> np.ndarray:
        """Image of each element of x (uint64 array, every element < n)."""
        return self._walk(self._encrypt, x)

    def inverse(self, y) -> np.ndarray:
        """Preimage of each element of y (uint64 array, every element < n)."""
        return self._walk(self._decrypt, y)
