"""The traditional long-context test in the same harness: a RULER-style needle in a haystack.

A `Haystack` is to the `niah` and `niah-multikey` tasks what `Problem` is to HashHop: a fully
determined (spec, index, shape) with random access to any prompt line. Lines are plain filler
sentences drawn from a vocabulary shipped in the package (data/niah_words.json) and needle lines
`The special magic number for KEY is: VALUE.`; every choice is keyed by the seed. Line indices are
grouped: needles first (queried ones, then distractors), then filler; a keyed Placement maps them
to prompt positions, and with a depth the queried needles are pinned around it (layout.py).

`niah`: one needle per query. `niah-multikey`: each queried needle also gets `distractors` (default
3) needles with other keys, every other one a near miss sharing the key's first word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import numpy as np

from hashhop.core.errors import SpecError
from hashhop.generator.keyed import KeyedPermutation, derive_key, mix64_int, subkeys
from hashhop.generator.layout import Placement, Shape, depth_positions
from hashhop.generator.sample import Query
from hashhop.generator.spec import FORMAT_VERSION, Spec

NEEDLE = "The special magic number for {key} is: {value}."
NEEDLE_PATTERN = re.compile(r"The special magic number for ([a-z]+-[a-z]+) is: (\d+)\.")
VALUE_DIGITS = 7  # RULER's values: 7-digit numbers
MULTIKEY_DISTRACTORS = 3  # distractor needles per queried needle when the spec asks for none
BATCH_LINES = 4096


@dataclass(frozen=True)
class Vocabulary:
    """The shipped word lists and sentence templates (data/niah_words.json)."""

    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]  # slot name in the templates -> its words
    key_first: tuple[str, ...]
    key_second: tuple[str, ...]


@cache
def vocabulary() -> Vocabulary:
    text = resources.files("hashhop").joinpath("data/niah_words.json").read_text(encoding="utf-8")
    d = json.loads(text)
    slots = {name: tuple(d[name]) for name in ("adj", "noun", "verb", "place", "time")}
    return Vocabulary(tuple(d["templates"]), slots, tuple(d["key_first"]), tuple(d["key_second"]))


def filler_sentence(key: int, f: int) -> str:
    """Filler sentence number `f`: a template and its words, chosen by 64-bit mixes of (key, f)."""
    vocab = vocabulary()
    z = mix64_int(key ^ mix64_int(f + 1))
    template = vocab.templates[z % len(vocab.templates)]
    words = {}
    for i, (slot, choices) in enumerate(vocab.slots.items()):
        words[slot] = choices[mix64_int(z + i + 1) % len(choices)]
    return template.format(**words)


def needle_pairs(context: str) -> dict[str, str]:
    """KEY -> VALUE of every needle sentence in a context (for backends that read it like a model)."""
    return dict(NEEDLE_PATTERN.findall(context))


def distractors_per_needle(spec: Spec) -> int:
    if spec.task != "niah-multikey":
        return 0
    return spec.distractors or MULTIKEY_DISTRACTORS


def needle_count(spec: Spec) -> int:
    return spec.queries * (1 + distractors_per_needle(spec))


class Haystack:
    """Shape: n_chains counts needles, n_fill filler sentences (fill_variant is unused)."""

    def __init__(self, spec: Spec, index: int, shape: Shape) -> None:
        self.spec, self.index, self.shape = spec, index, shape
        self.key = derive_key("niah", FORMAT_VERSION, spec.seed, index, spec.task)
        vocab = vocabulary()
        if shape.n_chains > len(vocab.key_first) * len(vocab.key_second):
            raise SpecError(f"{shape.n_chains} needles exceed the {len(vocab.key_first) * len(vocab.key_second)} keys")
        self.n_needles = shape.n_chains
        self.n_lines = self.n_needles + shape.n_fill
        self._fill_key = subkeys(self.key, "fill", 1)[0]

    # -- needles ---------------------------------------------------------------------------
    @cached_property
    def needle_keys(self) -> tuple[str, ...]:
        """Distinct keys: queried needles first, then distractors; distractor j belongs to query j % queries
        and, in every other round (j // queries even), shares that query's first word (a near miss)."""
        vocab, n = vocabulary(), self.n_needles
        perm = KeyedPermutation(len(vocab.key_first) * len(vocab.key_second), derive_key(self.key.hex(), "keys"))
        pairs = [divmod(k, len(vocab.key_second)) for k in perm.forward_ints(range(n))]
        taken = set(pairs)
        queries = self.spec.queries
        for j in range(n - queries):
            near = (pairs[j % queries][0], pairs[queries + j][1])
            if (j // queries) % 2 == 0 and near not in taken:  # same first word as the queried key, another second
                taken.discard(pairs[queries + j])
                pairs[queries + j] = near
                taken.add(near)
        return tuple(f"{vocab.key_first[a]}-{vocab.key_second[b]}" for a, b in pairs)

    @cached_property
    def needle_values(self) -> tuple[str, ...]:
        """Distinct 7-digit numbers, one per needle."""
        low = 10 ** (VALUE_DIGITS - 1)
        perm = KeyedPermutation(9 * low, derive_key(self.key.hex(), "values"))
        return tuple(str(low + v) for v in perm.forward_ints(range(self.n_needles)))

    @cached_property
    def value_needle(self) -> dict[str, int]:
        """Needle number of each value."""
        return {v: i for i, v in enumerate(self.needle_values)}

    def needle_position(self, needle: int) -> int:
        return self.placement.position_of(needle)

    @cached_property
    def queries(self) -> tuple[Query, ...]:
        return tuple(
            Query(
                index=q,
                chain=(self.needle_keys[q], self.needle_values[q]),
                offset=0,
                hops=1,
                cot=False,
                positions=(self.needle_position(q),),
                n_lines=self.n_lines,
            )
            for q in range(self.spec.queries)
        )

    # -- placement and rendering ------------------------------------------------------------
    @cached_property
    def placement(self) -> Placement:
        line_key = derive_key(self.key.hex(), "lines")
        if self.spec.depth is None:
            return Placement(self.n_lines, line_key)
        pinned = np.arange(self.spec.queries, dtype=np.int64)
        positions = depth_positions(self.spec, self.n_lines, len(pinned), derive_key(self.key.hex(), "depth"))
        return Placement(self.n_lines, line_key, pinned, positions)

    def line_text(self, line: int) -> str:
        if line < self.n_needles:
            return NEEDLE.format(key=self.needle_keys[line], value=self.needle_values[line])
        return filler_sentence(self._fill_key, line - self.n_needles)

    def render(self, start: int, stop: int) -> bytes:
        """Bytes of prompt lines [start, stop), each ending in a newline except the prompt's last."""
        if stop <= start:
            return b""
        lines = self.placement.lines_at(np.arange(start, stop, dtype=np.int64)).tolist()
        text = "\n".join(self.line_text(line) for line in lines)
        return (text if stop == self.n_lines else text + "\n").encode("ascii")

    def chunks(self, batch: int = BATCH_LINES) -> Iterator[str]:
        for start in range(0, self.n_lines, batch):
            yield self.render(start, min(start + batch, self.n_lines)).decode("ascii")

    def prompt(self) -> str:
        return "".join(self.chunks())

    @cached_property
    def n_chars(self) -> int:
        return sum(len(chunk) for chunk in self.chunks())
