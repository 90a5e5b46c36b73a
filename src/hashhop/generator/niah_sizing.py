"""Sizing a haystack to a budget, the way generator/sizing.py sizes HashHop problems.

Calibrate units per filler sentence on a rendered sample, solve the number of sentences, count the
real prompt chunk by chunk, correct by the measured error, and (for budgets small enough to count
repeatedly) step one sentence at a time to the closest count. Characters are counted like any
tokenizer (sentences differ in length). The final count is measured, never estimated.
"""

from __future__ import annotations

from collections.abc import Callable

from hashhop.core.errors import SpecError
from hashhop.generator.layout import Shape
from hashhop.generator.niah import Haystack, needle_count
from hashhop.generator.sizing import CALIBRATION_LINES, EXACT_SEARCH_LIMIT, TOLERANCE
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import Tokenizer, count_chunks, get_tokenizer

CORRECTIONS = 6
STEP_LIMIT = 8  # sentences stepped one at a time towards the budget

HaystackCounter = Callable[[Haystack], int]


def _haystack(spec: Spec, index: int, n_fill: int) -> Haystack:
    return Haystack(spec, index, Shape(needle_count(spec), max(0, n_fill)))


def _calibrate(spec: Spec, index: int, tokenizer: Tokenizer) -> float:
    probe = _haystack(spec.replace(depth=None), index, CALIBRATION_LINES)
    return max(count_chunks(tokenizer, probe.chunks()) / probe.n_lines, 1e-3)


def plan_haystack(spec: Spec, index: int = 0, counter: HaystackCounter | None = None) -> tuple[Haystack, int]:
    """The haystack of sample `index` sized to `spec.size` units, and its measured size.

    `counter(haystack) -> int` replaces the serial count of whole prompts (workers use it)."""
    tokenizer = get_tokenizer(spec.tokenizer)

    def count(h: Haystack) -> int:
        return counter(h) if counter is not None else count_chunks(tokenizer, h.chunks())

    per_line = _calibrate(spec, index, tokenizer)
    smallest = count(_haystack(spec, index, 0))
    if smallest > spec.size:
        raise SpecError(
            f"a budget of {spec.size} {spec.tokenizer} is too small for {needle_count(spec)} needle(s) "
            f"(the smallest haystack is {smallest}): raise the size or lower --queries"
        )
    haystack = _haystack(spec, index, round((spec.size - smallest) / per_line))
    measured = count(haystack)
    for _ in range(CORRECTIONS):
        error = spec.size - measured
        if abs(error) <= spec.size * TOLERANCE or abs(error) < per_line / 2:
            break
        haystack = _haystack(spec, index, haystack.shape.n_fill + round(error / per_line))
        measured = count(haystack)
    if measured != spec.size and measured <= EXACT_SEARCH_LIMIT:
        haystack, measured = _step(spec, index, haystack, measured, count)
    return haystack, measured


def _step(spec: Spec, index: int, haystack: Haystack, measured: int, count: HaystackCounter) -> tuple[Haystack, int]:
    """Add or drop one sentence at a time while that brings the count closer to the budget."""
    best = (abs(spec.size - measured), haystack, measured)
    direction = 1 if measured < spec.size else -1
    n_fill = haystack.shape.n_fill
    for _ in range(STEP_LIMIT):
        n_fill += direction
        if n_fill < 0:
            break
        candidate = _haystack(spec, index, n_fill)
        c = count(candidate)
        if abs(spec.size - c) < best[0]:
            best = (abs(spec.size - c), candidate, c)
        if (c >= spec.size) == (direction > 0):  # crossed the budget: further steps move away
            break
    return best[1], best[2]
