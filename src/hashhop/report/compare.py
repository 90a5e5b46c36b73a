"""Comparing series cell by cell: each against the first, flagging differences beyond the intervals.

Accuracy here is the headline, strict (docs/scoring.md). A difference counts as real only when the
two 95% Wilson intervals do not overlap, a conservative test: small runs show their differences but
do not get them highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    """One grid point measured in both the baseline and another series."""

    tokens: int
    hops: int | None
    cot: bool | None
    baseline: str
    other: str
    base_hits: int  # strict (the headline)
    base_scored: int
    other_hits: int
    other_scored: int
    delta: float  # other - baseline accuracy (strict)
    beyond_intervals: bool  # the two 95% intervals are disjoint


def compare(cells, labels) -> list[Difference]:
    """Every grid point shared by labels[0] and a later label, in grid order."""
    if len(labels) < 2:
        return []
    index = {(c.series, c.tokens, c.hops, c.cot): c for c in cells if c.scored}
    base = labels[0]
    out = []
    for other in labels[1:]:
        for (series, tokens, hops, cot), b in index.items():
            o = index.get((other, tokens, hops, cot))
            if series != base or o is None:
                continue
            (blo, bhi), (olo, ohi) = b.interval, o.interval
            out.append(
                Difference(
                    tokens,
                    hops,
                    cot,
                    base,
                    other,
                    b.strict,
                    b.scored,
                    o.strict,
                    o.scored,
                    o.accuracy - b.accuracy,
                    ohi < blo or olo > bhi,
                )
            )
    out.sort(key=lambda d: (d.other, d.tokens, d.hops or 0, bool(d.cot)))
    return out
