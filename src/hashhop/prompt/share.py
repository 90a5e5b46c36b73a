"""Shared contexts: the cells of a grid that differ only in hops and answer mode are asked on one
context, sized once, whose chains are as long as the longest hop count asked.

A query for h hops on a chain of H links takes its first h links (`Spec.query_hops`), so its path,
answer and scoring are exact; the context's bytes do not depend on hops asked or on the mode, so
each cell's sample has the same prompt (`prompt_sha256`) and the provider's prefix cache serves
every query after the first. Each cell keeps its own sample (its own id, spec and queries), stored
as a recipe like any other: records and reports per cell are unchanged, and a resumed run rebuilds
the same context from the stored recipes.
"""

from __future__ import annotations

import dataclasses
import json

from hashhop.generator.build import make_problem
from hashhop.generator.layout import Shape
from hashhop.generator.sample import Sample
from hashhop.prompt.cell import Cell


def context_key(cell: Cell) -> str:
    """The coordinates that determine a context: all but hops and mode."""
    coords = {k: v for k, v in cell.as_dict.items() if k not in ("hops", "cot")}
    return json.dumps(coords, sort_keys=True, separators=(",", ":"))


def group_cells(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped by context, groups in the order of their first cell, cells in grid order. Only
    HashHop cells share (a needle-in-a-haystack cell asks one hop in one mode)."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        key = context_key(cell) if cell.task == "hashhop" else cell.key
        groups.setdefault(key, []).append(cell)
    return list(groups.values())


def sizing_cell(group: list[Cell]) -> Cell:
    """The cell the shared context is sized for: the longest hop count, and chain of thought when it is
    asked (the longest question), so that no cell's whole prompt exceeds the requested size."""
    longest = max(c.hops for c in group)
    return dataclasses.replace(group[0], hops=longest, cot=any(c.cot for c in group))


def variant(shared: Sample, hops: int, cot: bool) -> Sample:
    """The sample of one (hops, mode) cell on the shared context: same prompt and shape, queries for
    `hops` hops from each queried chain's head."""
    longest = shared.spec.hops
    spec = shared.spec.replace(cot=cot, query_hops=None if hops == longest else hops)
    problem = make_problem(spec, shared.index, Shape(shared.n_chains, shared.n_fill, shared.fill_variant))
    return dataclasses.replace(shared, spec=spec, queries=problem.queries)
