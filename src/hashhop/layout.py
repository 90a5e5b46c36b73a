"""Where every line of a problem comes from and where it goes.

Line indices are grouped: chain lines first (chains cycle through the spec's hop counts, so
the index arithmetic is O(1) with no tables), then decoy lines, then filler pairs. Hash indices
follow the same order. The prompt order is a keyed permutation of line indices (see keyed.py);
with depth control, the queried chains' lines are pinned to positions drawn inside a window
around the requested depth and all other lines are permuted over the remaining positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .keyed import KeyedPermutation, as_u64
from .spec import Spec


@dataclass(frozen=True)
class Shape:
    """The counts the sizing step chose: chains, filler pairs, and which filler variant."""

    n_chains: int
    n_fill: int = 0
    fill_variant: int = 0


class ChainIndex:
    """O(1) arithmetic between chains, line indices and hash indices for cycling hop counts."""

    def __init__(self, hops: tuple[int, ...]):
        self.hops = np.array(hops, dtype=np.int64)
        self.period = len(hops)
        self.block_lines = int(self.hops.sum())
        self.block_hashes = int((self.hops + 1).sum())
        self.line_prefix = np.concatenate([[0], np.cumsum(self.hops)[:-1]])
        self.hash_prefix = np.concatenate([[0], np.cumsum(self.hops + 1)[:-1]])

    def lines_before(self, chain: int) -> int:
        block, r = divmod(chain, self.period)
        return block * self.block_lines + int(self.hops[:r].sum())

    def hashes_before(self, chain: int) -> int:
        block, r = divmod(chain, self.period)
        return block * self.block_hashes + int((self.hops[:r] + 1).sum())

    def chain_hops(self, chain) -> np.ndarray:
        return self.hops[np.asarray(chain) % self.period]

    def locate(self, lines: np.ndarray):
        """For chain line indices: (chain, link k within chain, hash index of the key, is_last)."""
        block, rem = np.divmod(lines.astype(np.int64), self.block_lines)
        r = np.searchsorted(self.line_prefix, rem, side="right") - 1
        link = rem - self.line_prefix[r]
        chain = block * self.period + r
        key = block * self.block_hashes + self.hash_prefix[r] + link
        return chain, link, key, link == self.hops[r] - 1


class Placement:
    """The bijection between prompt positions and line indices, with optional pinned lines."""

    def __init__(self, n_lines: int, key: bytes, pinned_lines=(), pinned_positions=()):
        self.n_lines = n_lines
        order = np.argsort(np.asarray(pinned_positions, dtype=np.int64), kind="stable")
        self.pin_pos = np.asarray(pinned_positions, dtype=np.int64)[order]
        self.pin_line = np.asarray(pinned_lines, dtype=np.int64)[order]
        self.pin_line_sorted = np.sort(self.pin_line)
        n_free = n_lines - len(self.pin_pos)
        self.perm = KeyedPermutation(max(n_free, 1), key, f"lines:{n_lines}")
        self.n_free = n_free

    def lines_at(self, positions: np.ndarray) -> np.ndarray:
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

    def _skip_pinned(self, free_rank: np.ndarray) -> np.ndarray:
        # The r-th unpinned line index: r plus the number of pinned indices at or below it.
        shifted = self.pin_line_sorted - np.arange(len(self.pin_line_sorted))
        return free_rank + np.searchsorted(shifted, free_rank, side="right")

    def positions_of(self, lines: np.ndarray) -> np.ndarray:
        """Prompt position of each line index (the inverse of lines_at)."""
        lines = np.asarray(lines, dtype=np.int64)
        out = np.empty(len(lines), dtype=np.int64)
        pinned = {int(l): int(p) for l, p in zip(self.pin_line, self.pin_pos)}
        for i, line in enumerate(lines.tolist()):
            if line in pinned:
                out[i] = pinned[line]
                continue
            rank = line - int(np.searchsorted(self.pin_line_sorted, line, side="left"))
            free_pos = self.perm.inverse_int(rank)
            out[i] = free_pos + self._pins_before_free(free_pos)
        return out

    def _pins_before_free(self, free_pos: int) -> int:
        # Free position f sits at prompt position f + k, k = pinned positions before it.
        k = 0
        while k < len(self.pin_pos) and self.pin_pos[k] <= free_pos + k:
            k += 1
        return k


def depth_positions(spec: Spec, n_lines: int, n_pinned: int, key: bytes) -> np.ndarray:
    """Distinct positions for pinned lines, drawn inside the window around spec.depth."""
    width = max(n_pinned, int(round(spec.depth_window * n_lines)))
    width = min(width, n_lines)
    center = spec.depth * (n_lines - 1)
    start = int(round(center - width / 2))
    start = min(max(start, 0), n_lines - width)
    chosen = KeyedPermutation(width, key, "depth").forward(np.arange(n_pinned, dtype=np.uint64))
    return start + chosen.astype(np.int64)
