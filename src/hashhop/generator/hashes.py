"""Hash strings of a problem: a keyed injection from hash index to a fixed-length string.

Index i becomes v = P(i), P a keyed permutation of [0, A**m) (A symbols, m <= L). The first m
symbols of the hash are v written in base A; when A**L exceeds 2**64 the remaining L - m symbols
are a keyed function of v. Distinct indices give distinct v, hence distinct strings: no collision
is possible by construction. `index_of` inverts the map, so any string (a decoy, say) can be
tested for membership without storing the hashes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hashhop.core.errors import SpecError
from hashhop.generator.alphabets import alphabet_chars
from hashhop.generator.keyed import KeyedPermutation, U64Array, as_u64, mix64, mix64_int, subkeys

_MAX_DOMAIN = 2**64
_FLOAT_EXACT = 2**52  # v * base below this: float64 division gives exact base-A digits
SMALL = 16  # up to this many hashes, pure Python beats numpy's per-call overhead

Digits = NDArray[np.uint8]  # symbol numbers, one row per hash


@lru_cache(maxsize=64)
def _symbols(alphabet: str) -> tuple[str, NDArray[np.uint8], dict[str, int], frozenset[str]]:
    """(symbols, byte table, symbol -> number, symbol set): shared by every HashSpace of an alphabet."""
    symbols = alphabet_chars(alphabet)
    table = np.frombuffer(symbols.encode(), dtype=np.uint8)  # read-only: safe to share
    return symbols, table, {c: i for i, c in enumerate(symbols)}, frozenset(symbols)


@lru_cache(maxsize=256)
def _prefix_symbols(base: int, length: int) -> int:
    """How many symbols carry the permuted index: all of them when A**L fits in 64 bits, else the
    m (holding at least 2**40 hashes, and small enough for exact float64 digit extraction) whose
    A**m wastes the fewest cycle-walking steps."""
    if base**length <= _MAX_DOMAIN:
        return length
    fits = [m for m in range(1, length + 1) if base ** (m + 1) <= _FLOAT_EXACT and base**m >= 2**40]
    if not fits:
        return max(m for m in range(1, length + 1) if base**m <= _MAX_DOMAIN)

    def waste(m: int) -> float:  # mean cycle-walking steps of a permutation of [0, base**m)
        steps: float = 2 ** (base**m - 1).bit_length() / base**m  # typeshed types int ** int as Any
        return steps

    return min(fits, key=lambda m: (waste(m), -m))


class HashSpace:
    """The hashes of one problem: `digits(indices)` and its inverse `index_of`."""

    def __init__(self, alphabet: str, length: int, key: bytes) -> None:
        self.symbols, self.table, self._lookup, self._symbol_set = _symbols(alphabet)
        self.base = len(self.symbols)
        self.length = length
        self.m = _prefix_symbols(self.base, length)
        self.capacity = self.base**self.m
        self._perm = KeyedPermutation(self.capacity, key, "hash")
        self._fill_ints = subkeys(key, "fill", (length - self.m + 1) // 2)
        self._fill_keys = [np.uint64(k) for k in self._fill_ints]
        self._float_digits = self.base ** (self.m + 1) <= _FLOAT_EXACT

    def check_room(self, needed: int) -> None:
        if needed > self.capacity:
            raise SpecError(
                f"the hash space ({self.base}^{self.length} = {self.base**self.length} strings) is too small for "
                f"{needed} distinct hashes: use longer hashes (--hash-len) or a larger alphabet"
            )

    def digits(self, indices: ArrayLike, out: Digits | None = None) -> Digits:
        """(n, L) uint8 symbol numbers of the hashes with these indices (written into `out`,
        which may be a column slice of a larger array)."""
        v = self._perm.forward(as_u64(indices))
        if out is None:
            out = np.empty((v.shape[0], self.length), dtype=np.uint8)
        if self._float_digits:
            _write_digits_float(v, self.base, out, self.m)
        else:
            _write_digits(v, self.base, out, self.m)
        self._fill(v, out)
        return out

    def _fill(self, v: U64Array, out: Digits) -> None:
        # Two symbols per 64-bit mix: symbol = (32 random bits * base) >> 32, bias below 2**-25.
        base = np.uint64(self.base)
        for j, fill_key in enumerate(self._fill_keys):
            z = mix64(v ^ fill_key)
            for half, pos in enumerate(range(self.m + 2 * j, min(self.m + 2 * j + 2, self.length))):
                bits = (z >> np.uint64(32)) if half else (z & np.uint64(0xFFFFFFFF))
                out[:, pos] = (bits * base) >> np.uint64(32)

    def strings(self, indices: ArrayLike) -> list[str]:
        """The hashes with these indices, as Python strings."""
        wanted = as_u64(indices)
        if wanted.ndim == 1 and len(wanted) <= SMALL:
            return self._strings_int(wanted.tolist())
        rows = self.table[self.digits(wanted)]
        return [row.tobytes().decode() for row in rows]

    def _strings_int(self, indices: list[int]) -> list[str]:
        # The same symbols as digits(), one Python int at a time (exact integer arithmetic).
        symbols, base, out = self.symbols, self.base, []
        for v in self._perm.forward_ints(indices):
            head: list[str] = []
            x = v
            for _ in range(self.m):
                x, d = divmod(x, base)
                head.append(symbols[d])
            out.append("".join(reversed(head)) + "".join([symbols[d] for d in self._fill_int(v)]))
        return out

    def is_hash_shaped(self, s: str) -> bool:
        """True when s has the hash length and only the alphabet's symbols."""
        return len(s) == self.length and self._symbol_set.issuperset(s)

    def encode(self, s: str) -> Digits:
        return np.array([self._lookup[c] for c in s], dtype=np.uint8)

    def index_of(self, digits: ArrayLike) -> int | None:
        """The index whose hash has these symbol numbers, or None if no index maps there."""
        return self._index_of_ints(np.asarray(digits, dtype=np.int64).tolist())

    def index_of_str(self, s: str) -> int | None:
        """index_of for a hash-shaped string (see is_hash_shaped)."""
        lookup = self._lookup
        return self._index_of_ints([lookup[c] for c in s])

    def _index_of_ints(self, digits: list[int]) -> int | None:
        # Pure Python on one value: numpy's per-call overhead dominates a single lookup.
        v, base = 0, self.base
        for d in digits[: self.m]:
            v = v * base + d
        if v >= self.capacity:
            return None
        if digits[self.m :] != self._fill_int(v):
            return None  # its prefix decodes, but its tail is not the one that prefix gets
        return self._perm.inverse_int(v)

    def _fill_int(self, v: int) -> list[int]:
        out: list[int] = []
        base = self.base
        for fill_key in self._fill_ints:
            z = mix64_int(v ^ fill_key)
            out += [((z & 0xFFFFFFFF) * base) >> 32, ((z >> 32) * base) >> 32]
        return out[: self.length - self.m]


def _write_digits(v: U64Array, base: int, out: Digits, stop: int) -> None:
    """Write v in base `base` into columns [0, stop) of out, most significant first."""
    b = np.uint64(base)
    rest = v
    for j in range(stop - 1, -1, -1):
        quotient = rest // b
        out[:, j] = rest - quotient * b  # faster than np.divmod
        rest = quotient


def _write_digits_float(v: U64Array, base: int, out: Digits, stop: int) -> None:
    """The same for v * base < 2**52: float64 division is correctly rounded, so floor(v / base)
    is exact (a remainder r >= 1 keeps the quotient at least 1/base below the next integer,
    more than the rounding error), and it is several times faster than integer division."""
    rest = v.astype(np.float64)
    quotient = np.empty_like(rest)
    digit = np.empty_like(rest)
    for j in range(stop - 1, -1, -1):
        np.divide(rest, base, out=quotient)
        np.floor(quotient, out=quotient)
        np.multiply(quotient, base, out=digit)
        np.subtract(rest, digit, out=digit)
        out[:, j] = digit
        rest, quotient = quotient, rest
