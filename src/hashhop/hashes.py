"""Hash strings of a problem: a keyed injection from hash index to a fixed-length string.

Index i becomes v = P(i), P a keyed permutation of [0, A**m) (A symbols, m <= L). The first m
symbols of the hash are v written in base A; when A**L exceeds 2**64 the remaining L - m symbols
are a keyed function of v. Distinct indices give distinct v, hence distinct strings: no collision
is possible by construction. `index_of` inverts the map, so any string (a decoy, say) can be
tested for membership without storing the hashes.
"""

from __future__ import annotations

import math

import numpy as np

from .alphabets import alphabet_chars
from .errors import SpecError
from .keyed import KeyedPermutation, as_u64, mix64, subkeys

_MAX_DOMAIN = 2**64


def _prefix_symbols(base: int, length: int) -> int:
    """How many symbols carry the permuted index: all of them when A**L fits in 64 bits, else
    the m (holding at least 2**40 hashes) whose A**m wastes the fewest cycle-walking steps."""
    if base**length <= _MAX_DOMAIN:
        return length
    m_max = max(m for m in range(1, length + 1) if base**m <= _MAX_DOMAIN)
    m_min = min(m_max, math.ceil(40 / math.log2(base)))

    def waste(m):
        bits = (base**m - 1).bit_length()
        return 2 ** (bits + bits % 2) / base**m

    return min(range(m_min, m_max + 1), key=lambda m: (waste(m), -m))


class HashSpace:
    """The hashes of one problem: `digits(indices)` and its inverse `index_of`."""

    def __init__(self, alphabet: str, length: int, key: bytes):
        self.symbols = alphabet_chars(alphabet)
        self.table = np.frombuffer(self.symbols.encode(), dtype=np.uint8)
        self.base = len(self.symbols)
        self.length = length
        self.m = _prefix_symbols(self.base, length)
        self.capacity = self.base**self.m
        self._perm = KeyedPermutation(self.capacity, key, "hash")
        self._fill_keys = [np.uint64(k) for k in subkeys(key, "fill", length - self.m)]
        self._lookup = {c: i for i, c in enumerate(self.symbols)}

    def check_room(self, needed: int):
        if needed > self.capacity:
            raise SpecError(
                f"the hash space ({self.base}^{self.length} = {self.base**self.length} strings) is too small for "
                f"{needed} distinct hashes: use longer hashes (--hash-len) or a larger alphabet")

    def digits(self, indices) -> np.ndarray:
        """(n, L) uint8 symbol numbers of the hashes with these indices."""
        v = self._perm.forward(as_u64(indices))
        out = np.empty((v.shape[0], self.length), dtype=np.uint8)
        base = np.uint64(self.base)
        rest = v.copy()
        for j in range(self.m - 1, -1, -1):
            out[:, j] = rest % base
            rest //= base
        self._fill(v, out)
        return out

    def _fill(self, v: np.ndarray, out: np.ndarray):
        # One 64-bit mix per extra symbol: the modulo bias is below 2**-50.
        for pos, fill_key in enumerate(self._fill_keys, start=self.m):
            out[:, pos] = mix64(v ^ fill_key) % np.uint64(self.base)

    def strings(self, indices) -> list[str]:
        """The hashes with these indices, as Python strings."""
        rows = self.table[self.digits(indices)]
        return [row.tobytes().decode() for row in rows]

    def encode(self, s: str) -> np.ndarray:
        return np.array([self._lookup[c] for c in s], dtype=np.uint8)

    def index_of(self, digits: np.ndarray) -> int | None:
        """The index whose hash has these symbol numbers, or None if no index maps there."""
        v = 0
        for d in digits[: self.m]:
            v = v * self.base + int(d)
        if v >= self.capacity:
            return None
        index = self._perm.inverse(np.array([v], dtype=np.uint64))
        return int(index[0]) if np.array_equal(self.digits(index)[0], digits) else None
