"""A fully determined problem (spec, sample index, shape): random access to any prompt line.

Nothing is held but small tables (queries, decoys, pinned lines): `render(positions)` computes
the bytes of any prompt lines from (seed, position) alone, so a 100M-token prompt streams in
bounded memory and can be split across processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from hashhop.core.errors import SpecError
from hashhop.generator.hashes import SMALL, Digits, HashSpace
from hashhop.generator.keyed import KeyedPermutation, derive_key, mix64_int, subkeys
from hashhop.generator.layout import ChainOrder, I64Array, Placement, Shape, chain_index, depth_positions
from hashhop.generator.sample import Query
from hashhop.generator.spec import FORMAT_VERSION, Spec


@dataclass(frozen=True)
class HashLocation:
    """Where a hash string lives in a problem. role: chain, decoy_key, decoy_value, fill."""

    role: str
    chain: int | None  # chain number (role == "chain")
    link: int  # index of the hash inside its chain (0 = head); 0 for other roles
    key_line: int | None  # prompt position of the line where it is the key, if any
    value_line: int | None  # prompt position of the line where it is the value, if any


BATCH_LINES = 16384
FILL_CHOICES = 8  # each filler pair can be any of 8 hash pairs: the sizing step picks by token count
LOCATE_MEMO = 4096  # strings whose location a problem remembers: scoring asks about the same few often


class _Unseen(Enum):
    """The sentinel of the locate memo: an enum member, so a type checker can tell it from a location."""

    UNSEEN = 0


_UNSEEN = _Unseen.UNSEEN


class Problem:
    def __init__(self, spec: Spec, index: int, shape: Shape) -> None:
        self.spec, self.index, self.shape = spec, index, shape
        self.key = derive_key("hashhop", FORMAT_VERSION, spec.seed, index)
        self.hashes = HashSpace(spec.alphabet, spec.hash_len, derive_key(self.key.hex(), "hashes"))
        self.chains = chain_index(spec.chain_hops)
        if shape.n_chains < spec.queries:
            raise SpecError(
                f"{spec.queries} queries need at least {spec.queries} chains but the budget holds "
                f"{shape.n_chains}: raise the size or lower --queries"
            )
        self.n_chain_lines = self.chains.lines_before(shape.n_chains)
        self.decoy_base = self.chains.hashes_before(shape.n_chains)
        self.hashes.check_room(self.decoy_base + 2 * shape.n_fill * FILL_CHOICES)  # before any hash is drawn
        # Only the queries' hop counts are needed here: their hashes are drawn on first use, so
        # rebuilding a problem to score it (generate.problem_of) draws none.
        self.n_decoys = spec.distractors * sum(self._query_hops) if spec.distractors else 0
        self.fill_base = self.decoy_base + self.n_decoys
        self.n_hashes_used = self.fill_base + 2 * shape.n_fill * FILL_CHOICES
        self.hashes.check_room(self.n_hashes_used)
        self.n_lines = self.n_chain_lines + self.n_decoys + shape.n_fill
        self._located: dict[str, HashLocation | None] = {}

    # -- queries -------------------------------------------------------------------------
    @cached_property
    def _query_chains(self) -> I64Array:
        perm = KeyedPermutation(self.shape.n_chains, derive_key(self.key.hex(), "queries", self.shape.n_chains))
        n = self.spec.queries
        chains = perm.forward_ints(range(n)) if n <= SMALL else perm.forward(np.arange(n, dtype=np.uint64))
        return np.asarray(chains, dtype=np.uint64).astype(np.int64)

    @property
    def _query_hops(self) -> list[int]:
        """Hops asked by each query."""
        return [self.spec.asked_hops(self.chains.hops_of(c)) for c in self._query_chains.tolist()]

    @cached_property
    def _bare_queries(self) -> list[Query]:
        spec, chains = self.spec, self._query_chains.tolist()
        hops = [self.chains.hops_of(c) for c in chains]
        firsts = [self.chains.hashes_before(c) for c in chains]
        # One HashSpace call for every queried chain: per-call overhead, not hash count, dominates here.
        strings = self.hashes.strings([i for f, h in zip(firsts, hops) for i in range(f, f + h + 1)])
        out, at = [], 0
        for i, (chain, h) in enumerate(zip(chains, hops)):
            asked = spec.asked_hops(h)
            out.append(
                Query(
                    index=i,
                    chain=tuple(strings[at : at + h + 1]),
                    offset=self._offset(chain, h, asked),
                    hops=asked,
                    cot=spec.cot,
                )
            )
            at += h + 1
        return out

    def _offset(self, chain: int, hops: int, asked: int) -> int:
        """Where a query on `chain` starts: 0, or a keyed random link with mid_chain."""
        if not self.spec.mid_chain:
            return 0
        return mix64_int(chain ^ self._offset_key) % (hops - asked + 1)

    @cached_property
    def _offset_key(self) -> int:
        return subkeys(self.key, "offset", 1)[0]

    @cached_property
    def queries(self) -> tuple[Query, ...]:
        """The queries, with the prompt positions of their links."""
        out = []
        for q, chain in zip(self._bare_queries, self._query_chains.tolist()):
            first_line = self.chains.lines_before(chain) + q.offset
            positions = tuple(self._pos(line) for line in range(first_line, first_line + q.hops))
            out.append(
                Query(
                    index=q.index,
                    chain=q.chain,
                    offset=q.offset,
                    hops=q.hops,
                    cot=q.cot,
                    positions=positions,
                    n_lines=self.n_lines,
                )
            )
        return tuple(out)

    # -- placement -----------------------------------------------------------------------
    @cached_property
    def placement(self) -> Placement | ChainOrder:
        """Where each line goes; with an order other than shuffled, chains' links are reordered on their slots."""
        if self.spec.order == "shuffled":
            return self._shuffled_placement
        return ChainOrder(self._shuffled_placement, self.chains, self.n_chain_lines, self.spec.order == "backward")

    @cached_property
    def _shuffled_placement(self) -> Placement:
        line_key = derive_key(self.key.hex(), "lines")
        if self.spec.depth is None:
            return Placement(self.n_lines, line_key)
        pinned = np.concatenate(
            [
                np.arange(self.chains.lines_before(c), self.chains.lines_before(c + 1))
                for c in self._query_chains.tolist()
            ]
        )
        positions = depth_positions(self.spec, self.n_lines, len(pinned), derive_key(self.key.hex(), "depth"))
        return Placement(self.n_lines, line_key, pinned, positions)

    # -- decoys --------------------------------------------------------------------------
    @cached_property
    def decoy_digits(self) -> Digits:
        """(n_decoys, L) symbols: each shares all but its first or last few symbols with a queried key."""
        from hashhop.generator.decoys import make_decoys

        targets = [h for q in self._bare_queries for h in q.path[:-1]]
        return make_decoys(self, targets, self.spec.distractors)

    @cached_property
    def _decoy_rows(self) -> dict[str, int]:
        """Decoy string -> its row in decoy_digits: one dict lookup instead of a scan per string."""
        rows: dict[str, int] = {}
        for i, row in enumerate(self.hashes.table[self.decoy_digits]):
            rows.setdefault(row.tobytes().decode(), i)
        return rows

    def fill_choice(self, fill: ArrayLike) -> I64Array:
        """Which of its FILL_CHOICES hash pairs each filler line uses: digit f of fill_variant."""
        fill = np.asarray(fill, dtype=np.int64)
        out = np.zeros(len(fill), dtype=np.int64)
        variant, f = self.shape.fill_variant, 0
        while variant:  # only the first few filler lines ever get a non-zero choice
            variant, digit = divmod(variant, FILL_CHOICES)
            out[fill == f] = digit
            f += 1
        return out

    def _fill_choice_of(self, f: int) -> int:
        """fill_choice of one filler line, in pure Python."""
        variant = self.shape.fill_variant
        for _ in range(f):
            if not variant:  # past the variant's last digit: the loop ends after a few steps
                return 0
            variant //= FILL_CHOICES
        return variant % FILL_CHOICES

    def fill_pair(self, fill: ArrayLike) -> I64Array:
        """Hash index of the key of each filler line (its value is the next index)."""
        fill = np.asarray(fill, dtype=np.int64)
        keys: I64Array = self.fill_base + 2 * (fill * FILL_CHOICES + self.fill_choice(fill))
        return keys

    def is_used_hash(self, index: int) -> bool:
        if index < self.decoy_base + self.n_decoys:
            return True
        if not self.fill_base <= index < self.n_hashes_used:
            return False
        f, choice = divmod((index - self.fill_base) // 2, FILL_CHOICES)
        return self._fill_choice_of(f) == choice

    # -- lookups -------------------------------------------------------------------------
    def locate_hash(self, s: str) -> HashLocation | None:
        """Where hash `s` appears in the prompt, or None if it is not one of the problem's hashes.

        Uses the inverse of the hash injection: O(1) memory even for a 100M-token prompt. Answers
        are remembered (up to LOCATE_MEMO strings): scoring asks about the same strings, such as
        a model's favourite made-up hash, once per query.
        """
        found = self._located.get(s, _UNSEEN)
        if found is not _UNSEEN:
            return found
        found = self._locate(s)
        if len(self._located) < LOCATE_MEMO:  # bounded: a run of distinct strings cannot grow it
            self._located[s] = found  # HashLocation is frozen: sharing it is safe
        return found

    def _locate(self, s: str) -> HashLocation | None:
        hashes = self.hashes
        if not hashes.is_hash_shaped(s):
            return None
        if self.n_decoys:
            row = self._decoy_rows.get(s)
            if row is not None:
                return HashLocation("decoy_key", None, 0, self._pos(self.n_chain_lines + row), None)
        index = hashes.index_of_str(s)
        if index is None or not self.is_used_hash(index):
            return None
        if index < self.decoy_base:
            return self._locate_chain_hash(index)
        if index < self.decoy_base + self.n_decoys:
            return HashLocation("decoy_value", None, 0, None, self._pos(self.n_chain_lines + index - self.decoy_base))
        pair, is_value = divmod(index - self.fill_base, 2)
        f = pair // FILL_CHOICES
        line = self.n_chain_lines + self.n_decoys + f
        return HashLocation(
            "fill", None, is_value, None if is_value else self._pos(line), self._pos(line) if is_value else None
        )

    def _locate_chain_hash(self, index: int) -> HashLocation:
        chain, link = self.chains.locate_hash_index(index)
        hops = self.chains.hops_of(chain)
        first_line = self.chains.lines_before(chain)
        key_line = self._pos(first_line + link) if link < hops else None
        value_line = self._pos(first_line + link - 1) if link > 0 else None
        return HashLocation("chain", chain, link, key_line, value_line)

    def _pos(self, line: int) -> int:
        return self.placement.position_of(line)

    def chain_number(self, query_index: int) -> int:
        """The chain a query walks."""
        return int(self._query_chains[query_index])

    # -- rendering -----------------------------------------------------------------------
    @cached_property
    def n_chars(self) -> int:
        terminal = self.shape.n_chains + self.n_decoys + self.shape.n_fill
        quotes = 2 * terminal if self.spec.format == "magic" else 0
        return self.n_lines * (2 * self.spec.hash_len + 4) - 1 + quotes

    def render(self, start: int, stop: int) -> bytes:
        """Bytes of prompt lines [start, stop), each ending in a newline except the prompt's last."""
        from hashhop.generator.render import render_lines

        return render_lines(self, start, stop)

    def chunks(self, batch: int = BATCH_LINES) -> Iterator[str]:
        """The prompt as text chunks that each end at a line boundary."""
        for start in range(0, self.n_lines, batch):
            yield self.render(start, min(start + batch, self.n_lines)).decode("ascii")

    def prompt(self) -> str:
        return "".join(self.chunks())
