"""Effective context length (RULER's headline): the longest length whose accuracy stays >= a threshold.

"Stays" means every tested length up to it passes: a model that drops below the threshold at 8K
and recovers at 32K has an effective length under 8K. A length with no scored record (every query
over length or failed) ends the walk too: nothing there shows the model can do it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hashhop.generator.spec import format_size


@dataclass(frozen=True)
class Effective:
    """Effective length of one series at one hop count and answer mode."""

    series: str
    hops: int | None
    cot: bool | None
    threshold: float
    length: int | None  # longest passing length; None: the shortest tested length already fails
    lengths: tuple[int, ...]  # every tested length, ascending
    stopped_at: int | None  # first failing length; None: all pass
    reason: str  # why the walk stopped ("" when all pass)
    score: str = "strict"  # which accuracy it walks: strict (the headline), exact or lenient

    @property
    def all_pass(self) -> bool:
        return self.stopped_at is None

    @property
    def text(self) -> str:
        """`16K`, `≥ 64K` (passes everywhere it was tested) or `< 1K` (fails at the shortest)."""
        if self.length is None:
            return f"< {format_size(self.lengths[0])}" if self.lengths else "n/a"
        return f"≥ {format_size(self.length)}" if self.all_pass else format_size(self.length)


def _walk(cells, threshold: float, score: str) -> tuple[int | None, int | None, str]:
    passed = None
    for c in cells:
        acc = c.accuracy_of(score)
        if acc is None:
            return passed, c.tokens, f"no scored query at {format_size(c.tokens)}"
        if acc < threshold:
            return passed, c.tokens, f"{acc:.0%} at {format_size(c.tokens)}"
        passed = c.tokens
    return passed, None, ""


def effective_lengths(cells, threshold: float = 0.9, score: str = "strict") -> list[Effective]:
    """Effective lengths from cells grouped by (tokens, hops, cot), one per series/hops/cot, by the
    `score` accuracy (strict, the headline; exact; lenient)."""
    groups = defaultdict(list)
    for c in cells:
        groups[(c.series, c.hops, c.cot)].append(c)
    out = []
    for (series, hops, cot), group in groups.items():
        group.sort(key=lambda c: c.tokens)
        length, stopped, reason = _walk(group, threshold, score)
        tested = tuple(c.tokens for c in group)
        out.append(Effective(series, hops, cot, threshold, length, tested, stopped, reason, score))
    return out
