"""The problem spec: every parameter that determines a HashHop sample, frozen and validated.

A spec plus a sample index determines a sample byte for byte (FORMAT_VERSION pins the bytes).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hashhop.core.errors import SpecError
from hashhop.generator.alphabets import alphabet_chars

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

FORMAT_VERSION = 1
FORMATS = ("plain", "magic")
TASKS = ("hashhop", "niah", "niah-multikey")  # niah*: RULER-style haystacks (generator/niah.py)
# How each chain's links are ordered in the prompt: shuffled (the benchmark), or placed along the chain
# (forward: H1 = H2 above H2 = H3 ...) or against it (backward), on the same line slots (layout.py).
ORDERS = ("shuffled", "forward", "backward")
DEFAULT_ORDER = "shuffled"
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9}


def parse_size(text: str | int) -> int:
    """Parse `4K`, `1M`, `100M`, `1.5K` or `2000` into an integer count."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGbB]?)\s*", str(text))
    if not match:
        raise SpecError(f"bad size {text!r}: use a number with an optional K, M or G suffix, e.g. 4K or 1M")
    value = float(match.group(1)) * _SUFFIXES[match.group(2).upper()]
    if value != int(value):
        raise SpecError(f"bad size {text!r}: it is not a whole number")
    return int(value)


def format_size(n: int) -> str:
    """The shortest of `1M`, `4K`, `1500` that parses back to n."""
    for suffix, factor in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


@dataclass(frozen=True)
class Spec:
    """What to generate. `size` counts units of `tokenizer` (`chars` counts characters)."""

    size: int = 4000
    hops: int = 2
    queries: int = 1
    hash_len: int = 16
    alphabet: str = "letters"
    cot: bool = False
    format: str = "plain"
    tokenizer: str = "chars"
    seed: int = 0
    hop_mix: tuple[int, ...] = ()  # mixed hop counts: chain c has hop_mix[c % len]
    query_hops: int | None = None  # hops asked per query (<= the chain's); None: the whole chain
    mid_chain: bool = False  # start queries at a random link instead of the chain head
    depth: float | None = None  # place queried chains' links around this fraction of the context
    depth_window: float = 0.05  # width of that placement window, as a fraction of the context
    distractors: int = 0  # decoy lines per queried hash that share a long prefix/suffix with it
    filler: bool = True  # fill the remainder under a chain's size with unqueried single pairs
    task: str = "hashhop"  # or niah / niah-multikey; written in to_dict only when not hashhop
    order: str = DEFAULT_ORDER  # link order within each chain: shuffled, forward or backward (ORDERS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hop_mix", tuple(int(h) for h in self.hop_mix))
        _validate(self)

    @property
    def chain_hops(self) -> tuple[int, ...]:
        """The hop counts chains cycle through."""
        return self.hop_mix or (self.hops,)

    @property
    def max_hops(self) -> int:
        return max(self.chain_hops)

    def asked_hops(self, chain_hops: int) -> int:
        """Hops a query on a chain of `chain_hops` hops asks for."""
        return min(self.query_hops or chain_hops, chain_hops)

    def replace(self, **changes: Any) -> Spec:  # Any: each field has its own type
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = shallow_dict(self)
        d["hop_mix"] = list(self.hop_mix)
        if self.task == "hashhop":  # the default is left out: specs written before tasks keep their bytes
            del d["task"]
        if self.order == DEFAULT_ORDER:  # absent means shuffled: the bytes of every earlier spec stay as they were
            del d["order"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Spec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            names = ", ".join(repr(name) for name in unknown)  # repr: a name may hold a newline
            raise SpecError(f"unknown spec field(s) {names}: known fields are {', '.join(sorted(known))}")
        values = dict(d)
        if "hop_mix" in values:
            values["hop_mix"] = tuple(values["hop_mix"] or ())
        return cls(**values)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def _validate(s: Spec) -> None:
    for name in ("size", "hops", "queries", "hash_len", "seed", "distractors"):
        _check(
            isinstance(getattr(s, name), int) and not isinstance(getattr(s, name), bool),
            f"{name} must be an integer, got {getattr(s, name)!r}",
        )
    _check(s.hops >= 1, f"hops must be at least 1 (got {s.hops}): use --hops 1 or more")
    _check(s.queries >= 1, f"queries must be at least 1 (got {s.queries}): use --queries 1 or more")
    _check(s.hash_len >= 1, f"hash length must be at least 1 (got {s.hash_len})")
    _check(s.size >= 1, f"size must be positive (got {s.size})")
    _check(s.seed >= 0, f"seed must be non-negative (got {s.seed})")
    _check(s.distractors >= 0, f"distractors must be non-negative (got {s.distractors})")
    _check(s.format in FORMATS, f"unknown format {s.format!r}: use {' or '.join(FORMATS)}")
    _check(s.order in ORDERS, f"unknown order {s.order!r}: use {', '.join(ORDERS)}")
    _check(all(h >= 1 for h in s.hop_mix), f"every hop count in hop_mix must be at least 1 (got {list(s.hop_mix)})")
    if s.query_hops is not None:
        _check(s.query_hops >= 1, f"query_hops must be at least 1 (got {s.query_hops})")
        _check(s.query_hops <= s.max_hops, f"query_hops {s.query_hops} exceeds the longest chain ({s.max_hops} hops)")
    if s.depth is not None:
        _check(0.0 <= s.depth <= 1.0, f"depth must be a fraction in [0, 1] (got {s.depth})")
    _check(0.0 < s.depth_window <= 1.0, f"depth_window must be in (0, 1] (got {s.depth_window})")
    alphabet_chars(s.alphabet)
    _check(s.task in TASKS, f"unknown task {s.task!r}: use {', '.join(TASKS)}")
    if s.task != "hashhop":
        _check(s.hops == 1 and not s.cot, f"{s.task} asks one lookup per needle: use --hops 1 without --cot")
        return
    if s.distractors:
        _check(s.hash_len >= 4, "distractors need hashes of at least 4 symbols to share a long prefix or suffix")


def shallow_dict(obj: DataclassInstance) -> dict[str, Any]:
    """A dataclass's fields as a dict, values as they are: dataclasses.asdict deep-copies every value,
    a real cost on the eval hot path (records, scores, stored samples)."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}


@functools.cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
