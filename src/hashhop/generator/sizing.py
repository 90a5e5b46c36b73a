"""Choosing how many chains (and filler pairs) fill a budget exactly.

Characters: line lengths are fixed, so the shape is solved by arithmetic: the prompt lands within
half a line of the budget. Tokens: calibrate tokens-per-line on a rendered sample, solve, count the
real prompt chunk by chunk, correct, and (for prompts small enough to count repeatedly) pick among
filler variants the one that lands closest; the final count is measured, never estimated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import NoReturn

from hashhop.core.errors import SpecError
from hashhop.generator.layout import ChainIndex, Shape
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import Tokenizer, count_chunks, get_tokenizer

TOLERANCE = 0.005  # the produced prompt is within 0.5% of the requested token count
EXACT_SEARCH_LIMIT = 65_536  # below this many tokens, counting is cheap enough to search for exact
CALIBRATION_LINES = 4096

TokenCounter = Callable[[Problem], int]  # token count of a whole prompt (a parallel one, say)


def shape_for_lines(spec: Spec, n_lines: float) -> Shape:
    """The shape with about `n_lines` lines: as many whole chains as fit, the rest filler pairs."""
    chains = ChainIndex(spec.chain_hops)
    decoy_lines = spec.distractors * spec.queries * spec.max_hops  # upper bound, small
    room = max(0.0, n_lines - decoy_lines)
    n = int(room // chains.block_lines) * chains.period
    while chains.lines_before(n + 1) <= room:
        n += 1
    n = max(n, spec.queries)
    fill = max(0, int(round(room - chains.lines_before(n)))) if spec.filler else 0
    return Shape(n, fill)


def _too_small(spec: Spec, got: int) -> NoReturn:
    raise SpecError(
        f"a budget of {spec.size} {spec.tokenizer} is too small for {spec.queries} chain(s) of "
        f"{spec.max_hops} hop(s) (the smallest prompt is {got}): raise the size or lower hops/queries"
    )


def plan_chars(spec: Spec, index: int) -> Problem:
    """Most whole chains that fit, then the filler pairs that bring it within half a line."""
    lo, hi = spec.queries, max(spec.queries, spec.size // (2 * spec.hash_len + 4) + 1)
    if _chars(spec, index, lo, 0) > spec.size:
        _too_small(spec, _chars(spec, index, lo, 0))
    while lo < hi:  # binary search: the most chains whose prompt is at most the budget
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _chars(spec, index, mid, 0) <= spec.size else (lo, mid - 1)
    base = Problem(spec, index, Shape(lo, 0))
    if not spec.filler:
        return base
    fill_line = 2 * spec.hash_len + 4 + (2 if spec.format == "magic" else 0)
    return Problem(spec, index, Shape(lo, int(round((spec.size - base.n_chars) / fill_line))))


def _chars(spec: Spec, index: int, n_chains: int, n_fill: int) -> int:
    return Problem(spec, index, Shape(n_chains, n_fill)).n_chars


def measure(problem: Problem, tokenizer: Tokenizer) -> int:
    return count_chunks(tokenizer, problem.chunks())


def plan_tokens(spec: Spec, index: int, counter: TokenCounter | None = None) -> tuple[Problem, int]:
    tokenizer = get_tokenizer(spec.tokenizer)
    count_big = counter or (lambda p: measure(p, tokenizer))  # e.g. a parallel counter
    per_line = _calibrate(spec, index, tokenizer)
    problem = Problem(spec, index, shape_for_lines(spec, spec.size / per_line))
    count = count_big(problem)
    for _ in range(6):  # correct by the measured error until within tolerance
        error = spec.size - count
        if abs(error) <= spec.size * TOLERANCE or abs(error) < per_line / 2:
            break
        problem = Problem(spec, index, _shift(spec, problem.shape, error / per_line))
        count = count_big(problem)
    if count != spec.size and count <= EXACT_SEARCH_LIMIT and spec.filler:
        problem, count = _tune_fill(spec, index, problem, count, tokenizer)
    if count > spec.size * (1 + TOLERANCE) and problem.shape.n_chains <= spec.queries and problem.shape.n_fill == 0:
        _too_small(spec, count)
    return problem, count


def _calibrate(spec: Spec, index: int, tokenizer: Tokenizer) -> float:
    probe = Problem(
        spec.replace(depth=None, distractors=0), index, shape_for_lines(spec.replace(distractors=0), CALIBRATION_LINES)
    )
    lines = min(probe.n_lines, CALIBRATION_LINES)
    return max(tokenizer.count(probe.render(0, lines).decode("ascii")) / lines, 1e-3)


def _shift(spec: Spec, shape: Shape, lines: float) -> Shape:
    chains = ChainIndex(spec.chain_hops)
    total = chains.lines_before(shape.n_chains) + shape.n_fill + math.floor(lines + 0.5)
    decoys = spec.distractors * spec.queries * spec.max_hops
    return (
        shape_for_lines(spec, max(total, 1) + decoys)
        if spec.filler
        else Shape(max(spec.queries, shape.n_chains + int(round(lines / (chains.block_lines / chains.period)))), 0)
    )


def _tune_fill(spec: Spec, index: int, problem: Problem, count: int, tokenizer: Tokenizer) -> tuple[Problem, int]:
    """Small budgets, where one line is more than the tolerance: trade up to two chains for filler
    pairs, then choose each filler pair among FILL_CHOICES so the token count lands on the budget.
    Every candidate is measured whole; the closest one wins."""
    best = (abs(spec.size - count), problem, count)
    for shape in _candidate_shapes(spec, problem.shape):
        base = Problem(spec, index, shape)
        base_count = measure(base, tokenizer)
        variant = _choose_fill(base, tokenizer, spec.size - base_count)
        candidate = Problem(spec, index, Shape(shape.n_chains, shape.n_fill, variant))
        c = measure(candidate, tokenizer) if variant else base_count
        if abs(spec.size - c) < best[0]:
            best = (abs(spec.size - c), candidate, c)
        if best[0] == 0:
            break
    return best[1], best[2]


def _candidate_shapes(spec: Spec, shape: Shape) -> Iterator[Shape]:
    chains = ChainIndex(spec.chain_hops)
    for traded in range(3):
        n = shape.n_chains - traded
        if n < spec.queries:
            return
        freed = chains.lines_before(shape.n_chains) - chains.lines_before(n)
        for delta in (0, -1, 1):
            if shape.n_fill + freed + delta >= 1:
                yield Shape(n, shape.n_fill + freed + delta)


def _choose_fill(problem: Problem, tokenizer: Tokenizer, missing: int) -> int:
    """A fill_variant whose per-line token changes add up as close to `missing` as possible
    (a small dynamic programme over the first filler lines and their FILL_CHOICES pairs)."""
    from hashhop.generator.problem import FILL_CHOICES

    lines = min(problem.shape.n_fill, 12)
    reach = {0: 0}  # token change -> variant reaching it
    for f in range(lines):
        costs = [_fill_line_tokens(problem, f, choice, tokenizer) for choice in range(FILL_CHOICES)]
        step: dict[int, int] = {}
        for total, variant in reach.items():
            for choice, cost in enumerate(costs):
                step.setdefault(total + cost - costs[0], variant + choice * FILL_CHOICES**f)
        reach = step
    return reach[min(reach, key=lambda total: (abs(missing - total), total))]


def _fill_line_tokens(problem: Problem, f: int, choice: int, tokenizer: Tokenizer) -> int:
    from hashhop.generator.problem import FILL_CHOICES

    key = problem.fill_base + 2 * (f * FILL_CHOICES + choice)
    k, v = problem.hashes.strings([key, key + 1])
    quote = "'" if problem.spec.format == "magic" else ""
    return tokenizer.count(f"{k} = {quote}{v}{quote}\n")


def plan(spec: Spec, index: int = 0, counter: TokenCounter | None = None) -> tuple[Problem, int]:
    """The sized problem for sample `index` of `spec`, and its measured size in spec.tokenizer units.

    `counter(problem) -> int` replaces the serial token count of whole prompts (workers use it).
    """
    if spec.tokenizer == "chars":
        problem = plan_chars(spec, index)
        return problem, problem.n_chars
    return plan_tokens(spec, index, counter)
