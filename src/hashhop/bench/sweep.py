"""Sweep files: a custom bench grid (TOML, or YAML when PyYAML is installed) and the models to run on it.

Owns `Sweep` (a Grid, its recorded tag, the models) and `load_sweep(path)`; the models are
`ModelEntry`s (bench/model_entry.py), the values are checked by bench/sweep_values.py. Every problem in
a file is a one-line `SweepError` naming the file, the key and the fix; unknown keys list the known ones.
The format, with an example, is in docs/bench.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hashhop.bench.model_entry import ModelEntry, model_entry
from hashhop.bench.suites import Grid, get_suite
from hashhop.bench.sweep_values import cots, depths, ints, lengths, parse_text, reject_unknown, strings
from hashhop.core.errors import HashhopError, SweepError

TOP_KEYS = ("name", "suite", "grid", "models", "share_contexts", "min_coverage")
GRID_KEYS = (
    "lengths",
    "hops",
    "cot",
    "depth",
    "order",
    "seeds",
    "hash_len",
    "alphabet",
    "format",
    "samples",
    "queries",
    "tokenizer",
    "task",
)


@dataclass(frozen=True)
class Sweep:
    name: str
    tag: str  # recorded in every cell: a suite's `name@version`, or `sweep:NAME`
    grid: Grid
    models: tuple[ModelEntry, ...]
    path: str | None = None
    share_contexts: bool = False  # a suite's default (on), else off; the file's share_contexts key wins
    min_coverage: float | None = None  # the file's `min_coverage`; None: bench's default

    def check_env(self) -> None:
        """Every named key variable is set (checked before anything is called)."""
        for m in self.models:
            m.check_env(f"{self.path}: " if self.path else "")


# -- reading -------------------------------------------------------------------------------
def _grid(where: str, table: dict, base: Grid | None) -> Grid:
    reject_unknown(where, table, GRID_KEYS)
    changes: dict = {}
    parsers = {
        "lengths": ("lengths", lambda v: lengths(where, v)),
        "hops": ("hops", lambda v: ints(where, "hops", v, 1)),
        "cot": ("cot", lambda v: cots(where, v)),
        "depth": ("depths", lambda v: depths(where, v)),
        "order": ("orders", lambda v: strings(where, "order", v)),  # checked by Grid: shuffled, forward, backward
        "seeds": ("seeds", lambda v: ints(where, "seeds", v, 0)),
        "hash_len": ("hash_lens", lambda v: ints(where, "hash_len", v, 1)),
        "alphabet": ("alphabets", lambda v: strings(where, "alphabet", v)),
        "samples": ("samples", lambda v: ints(where, "samples", v, 1)[0]),
        "queries": ("queries", lambda v: ints(where, "queries", v, 1)[0]),
        "format": ("format", lambda v: strings(where, "format", v)[0]),
        "tokenizer": ("tokenizer", lambda v: strings(where, "tokenizer", v)[0]),
        "task": ("tasks", lambda v: strings(where, "task", v)),  # checked against TASKS by Grid
    }
    for key, value in table.items():
        name, parse = parsers[key]
        changes[name] = parse(value)
    if base is None:
        missing = [k for k in ("lengths", "hops") if k not in table]
        if missing:
            raise SweepError(
                f'{where}: missing {" and ".join(missing)}: give them, or start from a suite with suite = "quick"'
            )
    try:
        grid = (base or Grid(lengths=changes.pop("lengths"), hops=changes.pop("hops"))).replace(**changes)
        for alphabet in grid.alphabets:  # validated now, not halfway through a run
            from hashhop.generator.alphabets import alphabet_chars

            alphabet_chars(alphabet)
    except HashhopError as exc:
        raise SweepError(f"{where}: {exc}") from exc
    return grid


def parse_sweep(data: dict, path: str = "sweep") -> Sweep:
    """A Sweep from a parsed file; `path` names it in errors."""
    reject_unknown(path, data, TOP_KEYS)
    name = data.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not isinstance(name, str):
        raise SweepError(f"{path}: bad name {name!r}: use a string")
    base = tag = None
    default_share = False  # a grid of one's own: each cell its own contexts, unless the file says otherwise
    if "suite" in data:
        if not isinstance(data["suite"], str):
            raise SweepError(f'{path}: bad suite {data["suite"]!r}: use a suite name such as "quick"')
        try:
            suite = get_suite(data["suite"])
        except HashhopError as exc:
            raise SweepError(f"{path}: {exc}") from exc
        base, tag, default_share = suite.grid, suite.tag, suite.share_contexts
    grid_table = data.get("grid", {})
    if not isinstance(grid_table, dict):
        raise SweepError(f"{path}: [grid] must be a table of lengths, hops, ...")
    grid = _grid(f"{path} [grid]", grid_table, base)
    if tag is None or grid != base:
        tag = f"sweep:{name}"  # a grid of its own: never confused with a shipped suite's numbers
    models = _models(path, data)
    share = data.get("share_contexts", default_share)
    if not isinstance(share, bool):
        raise SweepError(f"{path}: bad share_contexts {share!r}: use true or false")
    return Sweep(
        name=name,
        tag=tag,
        grid=grid,
        models=models,
        path=path,
        share_contexts=share,
        min_coverage=_min_coverage(path, data),
    )


def _models(path: str, data: dict) -> tuple[ModelEntry, ...]:
    """The file's [[models]], each with a run folder of its own."""
    items = data.get("models", [])
    if not isinstance(items, list):
        raise SweepError(f'{path}: models must be a list: [[models]] tables or model = ["oracle"]')
    models = tuple(model_entry(f"{path} models[{i}]", item) for i, item in enumerate(items))
    folders = [m.folder for m in models]
    if len(set(folders)) != len(folders):
        raise SweepError(
            f'{path}: two models would share the run folder {_first_dup(folders)!r}: give one a name = "..."'
        )
    return models


def _min_coverage(path: str, data: dict) -> float | None:
    """`min_coverage = 0.9`: a fraction between 0 and 1 (bench exits non-zero below it)."""
    value = data.get("min_coverage")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SweepError(f"{path}: bad min_coverage {value!r}: use a fraction between 0 and 1, e.g. 0.9")
    return float(value)


def _first_dup(items: list[str]) -> str:
    seen = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return ""


def load_sweep(path: str) -> Sweep:
    """Read and validate a sweep file (TOML, or YAML with PyYAML)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SweepError(f"cannot read sweep file {path!r}: {exc.strerror}; check the path") from exc
    return parse_sweep(parse_text(path, raw), path)
