"""Where every line of a problem comes from and where it goes.

Line indices are grouped: chain lines first (chains cycle through the spec's hop counts, so
the index arithmetic is O(1) with no tables), then decoy lines, then filler pairs. Hash indices
follow the same order. The prompt order is a keyed permutation of line indices (see keyed.py);
with depth control, the queried chains' lines are pinned to positions drawn inside a window
around the requested depth and all other lines are permuted over the remaining positions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hashhop.generator.keyed import KeyedPermutation, as_u64
from hashhop.generator.spec import Spec

I64Array = NDArray[np.int64]


@dataclass(frozen=True)
class Shape:
    """The counts the sizing step chose: chains, filler pairs, and which filler variant."""

    n_chains: int
    n_fill: int = 0
    fill_variant: int = 0


@lru_cache(maxsize=64)
def chain_index(hops: tuple[int, ...]) -> ChainIndex:
    """The ChainIndex of these hop counts, shared: it is immutable and every problem needs one."""
    return ChainIndex(hops)


class ChainIndex:
    """O(1) arithmetic between chains, line indices and hash indices for cycling hop counts."""

    def __init__(self, hops: tuple[int, ...]) -> None:
        self.hops = np.array(hops, dtype=np.int64)
        self.period = len(hops)
        self.block_lines = int(self.hops.sum())
        self.block_hashes = int((self.hops + 1).sum())
        self.line_prefix: I64Array = np.concatenate([[0], np.cumsum(self.hops)[:-1]])
        self.hash_prefix: I64Array = np.concatenate([[0], np.cumsum(self.hops + 1)[:-1]])
        for a in (self.hops, self.line_prefix, self.hash_prefix):
            a.flags.writeable = False  # shared between problems by chain_index()
        # Python lists for the scalar methods: numpy's per-call overhead dominates one lookup.
        self.hops_list = [int(h) for h in hops]
        self.line_prefix_list: list[int] = self.line_prefix.tolist()
        self.hash_prefix_list: list[int] = self.hash_prefix.tolist()

    def lines_before(self, chain: int) -> int:
        block, r = divmod(int(chain), self.period)
        return block * self.block_lines + self.line_prefix_list[r]

    def hashes_before(self, chain: int) -> int:
        block, r = divmod(int(chain), self.period)
        return block * self.block_hashes + self.hash_prefix_list[r]

    def hops_of(self, chain: int) -> int:
        """chain_hops for one chain, as a Python int."""
        return self.hops_list[int(chain) % self.period]

    def locate_hash_index(self, index: int) -> tuple[int, int]:
        """(chain, link within the chain) of chain hash number `index`."""
        block, rem = divmod(index, self.block_hashes)
        r = bisect_right(self.hash_prefix_list, rem) - 1
        return block * self.period + r, rem - self.hash_prefix_list[r]

    def chain_hops(self, chain: ArrayLike) -> I64Array:
        hops: I64Array = self.hops[np.asarray(chain) % self.period]
        return hops

    def locate(self, lines: I64Array) -> tuple[I64Array, I64Array, I64Array, NDArray[np.bool_]]:
        """For chain line indices: (chain, link k within chain, hash index of the key, is_last)."""
        block, rem = np.divmod(lines.astype(np.int64), self.block_lines)
        r = np.searchsorted(self.line_prefix, rem, side="right") - 1
        link = rem - self.line_prefix[r]
        chain = block * self.period + r
        key = block * self.block_hashes + self.hash_prefix[r] + link
        return chain, link, key, link == self.hops[r] - 1


_NO_PINS = np.zeros(0, dtype=np.int64)
_NO_PINS.flags.writeable = False


class Placement:
    """The bijection between prompt positions and line indices, with optional pinned lines."""

    def __init__(
        self,
        n_lines: int,
        key: bytes,
        pinned_lines: Sequence[int] | I64Array = (),
        pinned_positions: Sequence[int] | I64Array = (),
    ) -> None:
        self.n_lines = n_lines
        if len(pinned_positions):
            order = np.argsort(np.asarray(pinned_positions, dtype=np.int64), kind="stable")
            self.pin_pos = np.asarray(pinned_positions, dtype=np.int64)[order]
            self.pin_line = np.asarray(pinned_lines, dtype=np.int64)[order]
            self.pin_line_sorted = np.sort(self.pin_line)
        else:  # the common case, built for every problem that is scored: skip the numpy calls
            self.pin_pos = self.pin_line = self.pin_line_sorted = _NO_PINS
        n_free = n_lines - len(self.pin_pos)
        self.perm = KeyedPermutation(max(n_free, 1), key, f"lines:{n_lines}")
        self.n_free = n_free
        # Python tables for position_of, which is called one line at a time.
        self._pinned = {int(line): int(p) for line, p in zip(self.pin_line, self.pin_pos)}
        self._pin_line_list: list[int] = self.pin_line_sorted.tolist()
        # Free position f sits at prompt position f + k, k = pinned positions before it: the k
        # with pin_pos[k] - k <= f, a prefix of the pins since pin_pos[k] - k never decreases.
        self._pin_shift = [p - k for k, p in enumerate(self.pin_pos.tolist())]
        self._pin_shift_array = np.asarray(self._pin_shift, dtype=np.int64)
        self._pin_pos_by_line = self.pin_pos[np.argsort(self.pin_line, kind="stable")]

    def lines_at(self, positions: ArrayLike) -> I64Array:
        """Line index shown at each prompt position."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(self.pin_pos):
            return self.perm.forward(as_u64(positions)).astype(np.int64)
        slot = np.searchsorted(self.pin_pos, positions)
        is_pin = (slot < len(self.pin_pos)) & (self.pin_pos[np.minimum(slot, len(self.pin_pos) - 1)] == positions)
        out = np.empty(len(positions), dtype=np.int64)
        out[is_pin] = self.pin_line[slot[is_pin]]
        free = self.perm.forward(as_u64(positions[~is_pin] - slot[~is_pin])).astype(np.int64)
        out[~is_pin] = self._skip_pinned(free)
        return out

    def _skip_pinned(self, free_rank: I64Array) -> I64Array:
        # The r-th unpinned line index: r plus the number of pinned indices at or below it.
        shifted = self.pin_line_sorted - np.arange(len(self.pin_line_sorted))
        return free_rank + np.searchsorted(shifted, free_rank, side="right")

    def positions_of(self, lines: ArrayLike) -> I64Array:
        """Prompt position of each line index (the inverse of lines_at), vectorised like position_of."""
        lines = np.asarray(lines, dtype=np.int64)
        if not len(self.pin_pos) or not len(lines):
            return self.perm.inverse(as_u64(lines)).astype(np.int64)
        below = np.searchsorted(self.pin_line_sorted, lines)  # pinned line indices below each line
        at = np.minimum(below, len(self.pin_line_sorted) - 1)
        is_pin = self.pin_line_sorted[at] == lines
        out = np.empty(len(lines), dtype=np.int64)
        out[is_pin] = self._pin_pos_by_line[below[is_pin]]
        free_pos = self.perm.inverse(as_u64(lines[~is_pin] - below[~is_pin])).astype(np.int64)
        out[~is_pin] = free_pos + np.searchsorted(self._pin_shift_array, free_pos, side="right")
        return out

    def position_of(self, line: int) -> int:
        """Prompt position of one line index, in pure Python (one lookup: numpy would cost more)."""
        if line in self._pinned:
            return self._pinned[line]
        free_pos = self.perm.inverse_int(line - bisect_left(self._pin_line_list, line))
        return free_pos + bisect_right(self._pin_shift, free_pos)


class ChainOrder:
    """A placement whose chains show their links in chain order (forward) or reversed (backward).

    The shuffled placement decides which prompt positions a chain's lines occupy (its slots); here
    the k-th link takes the k-th slot from the top (forward) or from the bottom (backward). Decoys,
    filler and the set of positions every chain occupies are those of the shuffled problem of the
    same seed, depth pinning included: order is the only thing that differs between the two.
    """

    def __init__(self, base: Placement, chains: ChainIndex, n_chain_lines: int, backward: bool) -> None:
        self.base, self.chains, self.backward = base, chains, backward
        self.n_lines, self.n_chain_lines = base.n_lines, n_chain_lines

    def _slots(self, first: I64Array, hops: I64Array) -> I64Array:
        """Sorted prompt positions of each chain's lines, one row per chain (unused columns: n_lines)."""
        columns = np.arange(int(hops.max()), dtype=np.int64)
        used = columns[None, :] < hops[:, None]
        slots = np.full(used.shape, self.n_lines, dtype=np.int64)
        slots[used] = self.base.positions_of((first[:, None] + columns[None, :])[used])
        slots.sort(axis=1)
        return slots

    def lines_at(self, positions: ArrayLike) -> I64Array:
        """Line index shown at each prompt position: a chain slot shows the link of its rank."""
        positions = np.asarray(positions, dtype=np.int64)
        lines = self.base.lines_at(positions)
        is_chain = lines < self.n_chain_lines
        if is_chain.any():
            chain, link, _, _ = self.chains.locate(lines[is_chain])
            hops = self.chains.chain_hops(chain)
            first = lines[is_chain] - link
            rank = (self._slots(first, hops) < positions[is_chain][:, None]).sum(axis=1)
            lines[is_chain] = first + (hops - 1 - rank if self.backward else rank)
        return lines

    def position_of(self, line: int) -> int:
        """Prompt position of one line index (the inverse of lines_at)."""
        if line >= self.n_chain_lines:
            return self.base.position_of(line)
        chain, link, _, _ = self.chains.locate(np.array([line], dtype=np.int64))
        hops, k = self.chains.hops_of(int(chain[0])), int(link[0])
        first = line - k
        slots = sorted(self.base.position_of(x) for x in range(first, first + hops))
        return slots[hops - 1 - k if self.backward else k]


def depth_positions(spec: Spec, n_lines: int, n_pinned: int, key: bytes) -> I64Array:
    """Distinct positions for pinned lines, drawn inside the window around spec.depth."""
    assert spec.depth is not None  # lines are pinned only when the spec asks for a depth
    width = max(n_pinned, int(round(spec.depth_window * n_lines)))
    width = min(width, n_lines)
    center = spec.depth * (n_lines - 1)
    start = int(round(center - width / 2))
    start = min(max(start, 0), n_lines - width)
    chosen = KeyedPermutation(width, key, "depth").forward(np.arange(n_pinned, dtype=np.uint64))
    return start + chosen.astype(np.int64)
