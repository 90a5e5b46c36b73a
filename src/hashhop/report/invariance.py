"""The invariance section: does a model's accuracy depend on the order or the position of the links?

HashHop shuffles the pairs so that neither order nor recency tells a model where the next link is.
For each series this pools scored queries by link order (Cell.order; queries of two hops or more,
since one link has no order) and by depth (aggregate.depth_of), gives each level's accuracy (strict,
the headline) with its 95% Wilson interval, the spread (best minus worst level) and a chi-square test
of homogeneity across the levels (a levels x {right, wrong} table, levels - 1 degrees of freedom). A p-value under
ALPHA is called a dependence: the model uses the cues HashHop removes. docs/report.md says more.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from hashhop.evaluate.record import hit
from hashhop.evaluate.score import wilson_interval
from hashhop.prompt.cell import Cell as GridCell
from hashhop.report.aggregate import depth_of

ALPHA = 0.01  # two tests per model: a stricter level than 0.05 keeps false alarms across models rare


@dataclass(frozen=True)
class Level:
    """The scored queries at one level of a factor (an order, or a depth)."""

    value: str
    scored: int
    correct: int  # strict passes (the headline)

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.scored)


@dataclass(frozen=True)
class Factor:
    """Accuracy across the levels of one factor, best-to-worst spread, and the homogeneity test."""

    name: str  # "order" or "depth"
    levels: tuple[Level, ...]

    @property
    def tested(self) -> bool:
        return len(self.levels) > 1

    @property
    def best(self) -> Level:
        return max(self.levels, key=lambda lv: lv.accuracy)

    @property
    def worst(self) -> Level:
        return min(self.levels, key=lambda lv: lv.accuracy)

    @property
    def spread(self) -> float:
        return self.best.accuracy - self.worst.accuracy if self.levels else 0.0

    @property
    def p_value(self) -> float:
        return homogeneity_p([(lv.correct, lv.scored) for lv in self.levels])

    @property
    def depends(self) -> bool:
        return self.tested and self.p_value < ALPHA

    def contrast(self) -> str:
        """`forward 100% vs backward 12%, p < 0.001`: the best and worst level and the test."""
        best, worst = self.best, self.worst
        prefix = "" if self.name == "order" else "depth "
        return (
            f"{prefix}{best.value} {best.accuracy:.0%} vs {prefix}{worst.value} {worst.accuracy:.0%}, "
            f"{format_p(self.p_value)}"
        )


@dataclass(frozen=True)
class Invariance:
    """One series' invariance check: accuracy by order and by depth."""

    series: str
    order: Factor
    depth: Factor

    @property
    def verdict(self) -> str:
        """One plain sentence: dependence beyond the noise, or none (and what could not be tested)."""
        found = [f for f in (self.order, self.depth) if f.depends]
        if found:
            what = " and ".join(f"on {'order' if f.name == 'order' else 'position'} ({f.contrast()})" for f in found)
            return f"accuracy depends {what}: this model uses the cues HashHop removes"
        tested = [f for f in (self.order, self.depth) if f.tested]
        if not tested:
            return "one order and one depth only: nothing to compare"
        words = " or ".join("order" if f.name == "order" else "position" for f in tested)
        untested = "".join(f" (one {f.name} only)" for f in (self.order, self.depth) if not f.tested)
        return f"no dependence on {words} beyond the noise{untested}"


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def homogeneity_p(counts: list[tuple[int, int]]) -> float:
    """p-value of Pearson's chi-square test that every (correct, scored) level has one accuracy.

    No variation at all (every query right, or every one wrong) is perfectly homogeneous: p = 1.
    """
    counts = [(k, n) for k, n in counts if n]
    total_n, total_k = sum(n for _, n in counts), sum(k for k, _ in counts)
    if len(counts) < 2 or total_k in (0, total_n):
        return 1.0
    rate = total_k / total_n
    statistic = sum((k - n * rate) ** 2 / (n * rate * (1 - rate)) for k, n in counts)
    return chi2_sf(statistic, len(counts) - 1)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with df degrees of freedom: the regularized upper incomplete gamma
    Q(df/2, x/2), by its series below a + 1 and its continued fraction above (Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    a, z = df / 2, x / 2
    scale = math.exp(-z + a * math.log(z) - math.lgamma(a))
    if z < a + 1:
        term = total = 1 / a
        n = a
        while term > total * 1e-15:
            n += 1
            term *= z / n
            total += term
        return max(0.0, 1 - total * scale)
    tiny = 1e-300
    b, c, d = z + 1 - a, 1 / tiny, 1 / (z + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = 1 / (an * d + b or tiny)
        c = b + an / c or tiny
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return min(1.0, scale * h)


def _factor(name: str, groups: dict) -> Factor:
    levels = [Level(value, sum(n for _, n in v), sum(k for k, _ in v)) for value, v in groups.items()]
    return Factor(name, tuple(sorted((lv for lv in levels if lv.scored), key=lambda lv: lv.value)))


def invariance(label: str, rows: list[dict]) -> Invariance:
    """Pool one series' scored records by order (two hops or more) and by depth."""
    by_order: dict[str, list[tuple[int, int]]] = defaultdict(list)
    by_depth: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in rows:
        if r.get("status") != "ok":
            continue  # errors and over-length queries are neither right nor wrong
        cell, passed = GridCell.from_dict(r.get("cell")), (int(hit(r, "strict")), 1)  # the headline: strict
        if cell.hops > 1:
            by_order[cell.order].append(passed)
        by_depth[f"{depth_of(r):g}"].append(passed)
    return Invariance(label, _factor("order", by_order), _factor("depth", by_depth))


def invariances(series) -> list[Invariance]:
    """One Invariance per series (model in a run), in the report's order."""
    return [invariance(s.label, rows) for s, rows in series]


def rows(checks: list[Invariance]) -> list[dict]:
    """Table rows: one per series, factor and level, with the factor's spread and p-value."""
    out = []
    for check in checks:
        for factor in (check.order, check.depth):
            for lv in factor.levels:
                lo, hi = lv.interval
                out.append(
                    {
                        "series": check.series,
                        "factor": factor.name,
                        "level": lv.value,
                        "scored": lv.scored,
                        "accuracy": round(lv.accuracy, 4),
                        "ci95_lo": round(lo, 4),
                        "ci95_hi": round(hi, 4),
                        "spread": round(factor.spread, 4),
                        "p_value": round(factor.p_value, 4) if factor.tested else None,
                    }
                )
    return out
