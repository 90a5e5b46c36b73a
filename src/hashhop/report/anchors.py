"""Published HashHop figures (package data copied from the reference table), to plot beside runs.

They are marked everywhere as published, not measured here: tasks, units (tokens vs characters)
and sample counts differ between sources, so they are context for a run, not a baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class AnchorPoint:
    """One published measurement; ranges keep both ends (lo == hi for a single value)."""

    context_lo: int
    context_hi: int
    accuracy_lo: float  # fraction, 0..1
    accuracy_hi: float

    @property
    def context(self) -> float:
        return (self.context_lo * self.context_hi) ** 0.5  # geometric middle: the axis is log-scale

    @property
    def accuracy(self) -> float:
        return (self.accuracy_lo + self.accuracy_hi) / 2


@dataclass(frozen=True)
class Anchor:
    """One row of the published table."""

    who: str
    model: str
    task: str
    context: str
    accuracy: str
    hops: int | None
    unit: str
    points: tuple[AnchorPoint, ...]

    @property
    def label(self) -> str:
        return f"{self.model} ({self.who})"

    @property
    def short_label(self) -> str:
        """For legends: the model, the source's name and year, and the unit when it is characters."""
        who = self.who.split(" README")[0]
        unit = ", characters" if self.unit.startswith("characters") else ""
        return f"{self.model} ({who}{unit})"


def _span(value) -> tuple[float, float]:
    return (value[0], value[1]) if isinstance(value, list) else (value, value)


def _point(pair) -> AnchorPoint:
    (c_lo, c_hi), (a_lo, a_hi) = _span(pair[0]), _span(pair[1])
    return AnchorPoint(int(c_lo), int(c_hi), a_lo / 100, a_hi / 100)


def load_anchors() -> list[Anchor]:
    """Every published row, those without numbers included (they appear in the table only)."""
    text = resources.files("hashhop").joinpath("data/published_results.json").read_text(encoding="utf-8")
    rows = json.loads(text)["rows"]
    return [
        Anchor(
            r["who"],
            r["model"],
            r["task"],
            r["context"],
            r["accuracy"],
            r.get("hops"),
            r["unit"],
            tuple(_point(p) for p in r["points"]),
        )
        for r in rows
    ]
