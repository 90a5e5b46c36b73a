"""Named, versioned evaluation grids shipped with hashhop (`quick`, `standard`, `magic`, `invariance`, `extreme`).

Owns `Grid` (the coordinates a bench run crosses: lengths x hops x cot x depth x order x seeds x hash
length x alphabet, plus samples and queries per cell) and `Suite` (a named, versioned Grid). A suite's
`name@version` is written into every cell (`Cell.suite`) and into results.json, so numbers from
two runs are only compared when they come from the same grid. Changing a shipped grid in any way
that changes its cells MUST bump its version.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from hashhop.core.errors import SpecError, SuiteError
from hashhop.generator.spec import DEFAULT_ORDER, FORMATS, ORDERS, TASKS, format_size, parse_size
from hashhop.prompt.cell import Cell

# The crossed coordinates of a Grid, in the order cells() crosses them (orders after depths).
AXES = ("lengths", "hops", "cot", "depths", "orders", "seeds", "hash_lens", "alphabets")

# Models that cannot count their own tokens are sized in this tokenizer (recorded in each cell).
FALLBACK_TOKENIZER = "tiktoken:cl100k_base"


@dataclass(frozen=True)
class Grid:
    """The cells of a bench run and how many contexts/queries each gets."""

    lengths: tuple[int, ...]  # whole-prompt sizes, in the cell's tokenizer
    hops: tuple[int, ...]
    cot: tuple[bool, ...] = (True, False)
    depths: tuple[float | None, ...] = (None,)  # None: chains placed anywhere
    seeds: tuple[int, ...] = (0,)
    hash_lens: tuple[int, ...] = (16,)
    alphabets: tuple[str, ...] = ("letters",)
    format: str = "plain"
    samples: int = 1  # contexts per cell
    queries: int = 1  # queries per context
    tokenizer: str | None = None  # forced tokenizer; None: the model's own if it counts, else FALLBACK
    filler: bool = True  # False: whole chains only, as in Magic's reference layout
    orders: tuple[str, ...] = (DEFAULT_ORDER,)  # link order within chains (Spec.order)
    tasks: tuple[str, ...] = ("hashhop",)  # niah tasks take one cell per length, depth and seed

    def __post_init__(self):
        for name in (*AXES, "tasks"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise SpecError(f"grid {name} is empty: give at least one value")
        if self.format not in FORMATS:
            raise SpecError(f"unknown format {self.format!r}: use {' or '.join(FORMATS)}")
        bad = [o for o in self.orders if o not in ORDERS]
        if bad:
            raise SpecError(f"unknown order {bad[0]!r}: use {', '.join(ORDERS)}")
        if self.samples < 1 or self.queries < 1:
            raise SpecError(f"samples and queries must be at least 1 (got {self.samples}, {self.queries})")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise SpecError(f"unknown task {unknown[0]!r}: use {', '.join(TASKS)}")

    def replace(self, **changes) -> Grid:
        return dataclasses.replace(self, **changes)

    def cells(self, tokenizer: str, suite: str | None = None) -> list[Cell]:
        """Every cell, in a fixed order (short contexts first, so early results come fast; at each length,
        the tasks in the grid's order)."""
        return [
            cell
            for tokens in sorted(self.lengths)
            for task in self.tasks
            for cell in self._cells(tokens, task, tokenizer, suite)
        ]

    def _cells(self, tokens: int, task: str, tokenizer: str, suite: str | None) -> list[Cell]:
        if task != "hashhop":  # one lookup per needle: hops, modes, hash lengths and alphabets do not apply
            return [
                Cell(tokens, tokenizer, 1, False, depth, seed, format=self.format, suite=suite or None, task=task)
                for depth, seed in itertools.product(self.depths, self.seeds)
            ]
        axes = itertools.product(*(getattr(self, name) for name in AXES[1:]))
        return [
            Cell(
                tokens,
                tokenizer,
                hops,
                cot,
                depth,
                seed,
                hash_len,
                alphabet,
                self.format,
                self.filler,
                suite or None,
                order=order,
            )
            for hops, cot, depth, order, seed, hash_len, alphabet in axes
        ]

    @property
    def n_cells(self) -> int:
        hashhop = len(self.hops) * len(self.cot) * len(self.orders) * len(self.hash_lens) * len(self.alphabets)
        per_length = sum(hashhop if task == "hashhop" else 1 for task in self.tasks)
        return len(self.lengths) * len(self.depths) * len(self.seeds) * per_length

    @property
    def n_queries(self) -> int:
        return self.n_cells * self.samples * self.queries

    def to_dict(self) -> dict:
        """The grid as results.json records it; `orders` and `tasks` only when not the default alone, so the recorded grid
        of every earlier run (which a resume compares) stays as it was."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        if self.orders == (DEFAULT_ORDER,):
            del out["orders"]
        if self.tasks == ("hashhop",):  # likewise the default task
            del out["tasks"]
        return out

    def describe(self) -> str:
        """One line: `1K..16K x hops 1/2/4 x cot+skip x 1 seed, 2 samples x 4 queries (240 queries)`."""
        lengths = sorted(self.lengths)
        span = format_size(lengths[0]) + (f"..{format_size(lengths[-1])}" if len(lengths) > 1 else "")
        modes = "+".join("cot" if c else "skip" for c in self.cot)
        parts = [
            f"{span} ({len(lengths)} lengths)",
            f"hops {'/'.join(map(str, self.hops))}",
            modes,
            f"{len(self.seeds)} seed{'s' * (len(self.seeds) != 1)}",
        ]
        if self.depths != (None,):
            parts.append(f"depths {'/'.join(f'{d:g}' for d in self.depths if d is not None)}")
        if self.orders != (DEFAULT_ORDER,):
            parts.append(f"order {'/'.join(self.orders)}")
        if self.hash_lens != (16,) or self.alphabets != ("letters",):
            parts.append(f"hash {'/'.join(map(str, self.hash_lens))} {'/'.join(self.alphabets)}")
        if self.format != "plain":
            parts.append(f"{self.format} format")
        if self.tasks != ("hashhop",):
            parts.insert(0, "tasks " + "/".join(self.tasks))
        return " x ".join(parts) + f", {self.samples} sample(s) x {self.queries} queries ({self.n_queries} queries)"


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    grid: Grid
    # One context for the cells that differ only in hops and mode (prompt/share.py): the default of every
    # shipped suite since version 2; `hashhop bench --no-share-contexts` turns it off.
    share_contexts: bool = True

    @property
    def tag(self) -> str:
        """What results record: `quick@3`."""
        return f"{self.name}@{self.version}"


def _sizes(*texts: str) -> tuple[int, ...]:
    return tuple(parse_size(t) for t in texts)


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "quick",
            # 2: shared contexts (one per cell group, chains as long as the longest hop count);
            # 3: 1K-1M cl100k tokens, one sample: the built-in model and its dense twin in two minutes
            3,
            "a first look in a few minutes on 2 CPU cores (the default): 1K-1M cl100k tokens",
            Grid(
                _sizes("1K", "4K", "16K", "64K", "256K", "1M"),
                (1, 2, 4),
                samples=1,
                queries=4,
                tokenizer=FALLBACK_TOKENIZER,
            ),  # fmt: skip
        ),
        Suite(
            "standard",
            2,  # 2: shared contexts (one per cell group, chains as long as the longest hop count)
            "the standard grid: 1K..128K tokens, hops 1/2/4/8, chain of thought and skip, 3 seeds",
            Grid(
                _sizes("1K", "2K", "4K", "8K", "16K", "32K", "64K", "128K"),
                (1, 2, 4, 8),
                seeds=(0, 1, 2),
                samples=2,
                queries=4,
            ),
        ),
        # Magic's reference layout and parameters (MultiHopEval.make_one: sizes in characters,
        # 16-char hashes, 5 queries per context), for comparison with published numbers.
        Suite(
            "magic",
            2,  # 2: shared contexts (one per cell group, chains as long as the longest hop count)
            "Magic's reference layout: sizes in characters, 16-char hashes, 5 queries per context",
            Grid(
                _sizes("1K", "10K", "100K", "200K", "500K", "1M"),
                (1, 2, 4),
                format="magic",
                samples=2,
                queries=5,
                tokenizer="chars",
                filler=False,
            ),
        ),
        # Order x depth, everything else fixed: does accuracy depend on the cues shuffling removes?
        # 240 queries of 2+ hops per order and 216 per depth: a 95% interval of a few points at 100%.
        Suite(
            "invariance",
            2,  # 2: shared contexts (one per cell group, chains as long as the longest hop count)
            "order x depth: is accuracy independent of link order and position (the report's invariance section)",
            Grid(
                _sizes("2K", "8K", "32K"),
                (1, 2, 4),
                cot=(False,),
                depths=(0.0, 0.25, 0.5, 0.75, 1.0),
                orders=ORDERS,
                samples=2,
                queries=4,
            ),
        ),
        Suite(
            "extreme",
            2,  # 2: shared contexts (one per cell group, chains as long as the longest hop count)
            "very long contexts, up to 100M tokens (hours, and memory for the prompt)",
            Grid(_sizes("128K", "1M", "10M", "100M"), (1, 2), cot=(False,), samples=1, queries=4),
        ),
        # The traditional test beside HashHop, in the same harness and the same tokens: where a model's
        # NIAH (retrieval) length and its HashHop (multi-hop) length part ways.
        Suite(
            "niah-vs-hashhop",
            2,  # 2: shared contexts (one per cell group, chains as long as the longest hop count)
            "NIAH and NIAH multikey beside HashHop skip steps (hops 1/2/4), 1K..128K tokens",
            Grid(
                _sizes("1K", "2K", "4K", "8K", "16K", "32K", "64K", "128K"),
                (1, 2, 4),
                cot=(False,),
                samples=2,
                queries=4,
                tasks=("niah", "niah-multikey", "hashhop"),
            ),
        ),
    )
}


def get_suite(name: str) -> Suite:
    """The shipped suite `name` (`quick`, or `quick@2` to insist on a version)."""
    base, _, version = name.partition("@")
    suite = SUITES.get(base)
    if suite is None:
        raise SuiteError(f"unknown suite {name!r}: use one of {', '.join(SUITES)} (or --sweep FILE for your own grid)")
    if version and version != str(suite.version):
        raise SuiteError(
            f"suite {base} is at version {suite.version}, not {version}: install the hashhop release "
            f"that shipped {name}, or use {suite.tag}"
        )
    return suite


def list_suites() -> str:
    """A table of the shipped suites, for `hashhop bench --list-suites` and the docs."""
    width = max(len(s.tag) for s in SUITES.values())
    return "\n".join(f"{s.tag:<{width}} {s.description}\n{'':{width}} {s.grid.describe()}" for s in SUITES.values())
