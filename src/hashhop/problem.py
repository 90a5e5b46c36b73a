"""A fully determined problem (spec, sample index, shape): random access to any prompt line.

Nothing is held but small tables (queries, decoys, pinned lines): `render(positions)` computes
the bytes of any prompt lines from (seed, position) alone, so a 100M-token prompt streams in
bounded memory and can be split across processes.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .hashes import HashSpace
from .keyed import KeyedPermutation, derive_key, mix64, subkeys
from .layout import ChainIndex, Placement, Shape, depth_positions
from .sample import Query
from .spec import FORMAT_VERSION, Spec
from .errors import SpecError

BATCH_LINES = 16384


class Problem:
    def __init__(self, spec: Spec, index: int, shape: Shape):
        self.spec, self.index, self.shape = spec, index, shape
        self.key = derive_key("hashhop", FORMAT_VERSION, spec.seed, index)
        self.hashes = HashSpace(spec.alphabet, spec.hash_len, derive_key(self.key.hex(), "hashes"))
        self.chains = ChainIndex(spec.chain_hops)
        if shape.n_chains < spec.queries:
            raise SpecError(f"{spec.queries} queries need at least {spec.queries} chains but the budget holds "
                            f"{shape.n_chains}: raise the size or lower --queries")
        self.n_chain_lines = self.chains.lines_before(shape.n_chains)
        self.decoy_base = self.chains.hashes_before(shape.n_chains)
        self.n_decoys = spec.distractors * sum(q.hops for q in self._bare_queries)
        self.fill_base = self.decoy_base + self.n_decoys + shape.fill_variant * 2 * shape.n_fill
        self.n_hashes_used = self.fill_base + 2 * shape.n_fill
        self.hashes.check_room(self.n_hashes_used)
        self.n_lines = self.n_chain_lines + self.n_decoys + shape.n_fill

    # -- queries -------------------------------------------------------------------------
    @cached_property
    def _query_chains(self) -> np.ndarray:
        perm = KeyedPermutation(self.shape.n_chains, derive_key(self.key.hex(), "queries", self.shape.n_chains))
        return perm.forward(np.arange(self.spec.queries, dtype=np.uint64)).astype(np.int64)

    @cached_property
    def _bare_queries(self) -> list[Query]:
        spec, out = self.spec, []
        (offset_key,) = subkeys(self.key, "offset", 1)
        for i, chain in enumerate(self._query_chains.tolist()):
            hops = int(self.chains.chain_hops(chain))
            asked = spec.asked_hops(hops)
            offset = 0
            if spec.mid_chain:
                z = mix64(np.array([chain], dtype=np.uint64) ^ np.uint64(offset_key))
                offset = int(z[0] % np.uint64(hops - asked + 1))
            first = self.chains.hashes_before(chain)
            chain_hashes = tuple(self.hashes.strings(np.arange(first, first + hops + 1)))
            out.append(Query(index=i, chain=chain_hashes, offset=offset, hops=asked, cot=spec.cot))
        return out

    @cached_property
    def queries(self) -> tuple[Query, ...]:
        """The queries, with the prompt positions of their links."""
        out = []
        for q, chain in zip(self._bare_queries, self._query_chains.tolist()):
            first_line = self.chains.lines_before(chain) + q.offset
            positions = self.placement.positions_of(np.arange(first_line, first_line + q.hops))
            out.append(Query(index=q.index, chain=q.chain, offset=q.offset, hops=q.hops, cot=q.cot,
                             positions=tuple(int(p) for p in positions), n_lines=self.n_lines))
        return tuple(out)

    # -- placement -----------------------------------------------------------------------
    @cached_property
    def placement(self) -> Placement:
        line_key = derive_key(self.key.hex(), "lines")
        if self.spec.depth is None:
            return Placement(self.n_lines, line_key)
        pinned = np.concatenate([
            np.arange(self.chains.lines_before(c), self.chains.lines_before(c + 1))
            for c in self._query_chains.tolist()])
        positions = depth_positions(self.spec, self.n_lines, len(pinned), derive_key(self.key.hex(), "depth"))
        return Placement(self.n_lines, line_key, pinned, positions)

    # -- decoys --------------------------------------------------------------------------
    @cached_property
    def decoy_digits(self) -> np.ndarray:
        """(n_decoys, L) symbols: each shares all but its first or last few symbols with a queried key."""
        from .decoys import make_decoys

        targets = [h for q in self._bare_queries for h in q.path[:-1]]
        return make_decoys(self, targets, self.spec.distractors)

    def is_used_hash(self, index: int) -> bool:
        in_fill = self.fill_base <= index < self.n_hashes_used
        return index < self.decoy_base + self.n_decoys or in_fill

    # -- rendering -----------------------------------------------------------------------
    @cached_property
    def n_chars(self) -> int:
        terminal = self.shape.n_chains + self.n_decoys + self.shape.n_fill
        quotes = 2 * terminal if self.spec.format == "magic" else 0
        return self.n_lines * (2 * self.spec.hash_len + 4) - 1 + quotes

    def render(self, start: int, stop: int) -> bytes:
        """Bytes of prompt lines [start, stop), each ending in a newline except the prompt's last."""
        from .render import render_lines

        return render_lines(self, start, stop)

    def chunks(self, batch: int = BATCH_LINES):
        """The prompt as text chunks that each end at a line boundary."""
        for start in range(0, self.n_lines, batch):
            yield self.render(start, min(start + batch, self.n_lines)).decode("ascii")

    def prompt(self) -> str:
        return "".join(self.chunks())
