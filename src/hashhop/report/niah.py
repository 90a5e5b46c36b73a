"""The report's "NIAH next to HashHop" section: per model and length, the traditional needle test beside
HashHop, and a one-line reading per model ("passes NIAH to 128K, HashHop 2-hop to 16K").

Records carry their task in their cell (`task`, absent for HashHop). The HashHop figures of the
report are drawn from HashHop records only (`hashhop_series`); this module reads every task. Both
readings use the same effective-length rule (report/effective.py) at the report's threshold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from hashhop.evaluate.niah_score import NIAH_KINDS
from hashhop.generator.spec import format_size
from hashhop.prompt.cell import Cell as GridCell
from hashhop.report.aggregate import cells
from hashhop.report.effective import Effective, effective_lengths

TASK_NAMES = {"niah": "NIAH", "niah-multikey": "NIAH multikey"}


@dataclass(frozen=True)
class Reading:
    """One model's NIAH and HashHop lengths side by side."""

    label: str
    sentence: str  # the one-line reading
    rows: tuple[dict, ...]  # accuracy per length: one column per task (HashHop per hop count)
    kinds: tuple[dict, ...]  # failure kinds of its niah answers, one row per task


def task_of(record: dict) -> str:
    return GridCell.from_dict(record.get("cell")).task


def hashhop_series(series) -> list:
    """The series with their HashHop records only (the report's HashHop figures); a series holding
    only niah records is left out of them."""
    out = []
    for s, rows in series:
        kept = [r for r in rows if task_of(r) == "hashhop"]
        if kept or not rows:
            out.append((s, kept))
    return out


def _by_task(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[task_of(r)].append(r)
    return out


def _lengths(s, tasks: dict[str, list[dict]], threshold: float) -> list[tuple[str, Effective, list]]:
    """(name, effective length, cells) of each niah task, then of HashHop at each hop count."""
    out = []
    for task, name in TASK_NAMES.items():
        if tasks.get(task):
            grid = cells([(s, tasks[task])], by=("tokens",))
            out.append((name, effective_lengths(grid, threshold)[0], grid))
    if tasks.get("hashhop"):
        grid = cells([(s, tasks["hashhop"])], by=("tokens", "hops"))
        for e in sorted(effective_lengths(grid, threshold), key=lambda e: e.hops or 0):
            out.append((f"HashHop {e.hops}-hop", e, [c for c in grid if c.hops == e.hops]))
    return out


def sentence(label: str, lengths: list[tuple[str, Effective]]) -> str:
    """`model: passes NIAH to 128K, HashHop 1-hop to 32K, HashHop 2-hop to 16K; fails HashHop 4-hop at 1K`."""
    passes = [f"{name} to {format_size(e.length)}" for name, e in lengths if e.length is not None]
    fails = [f"{name} at {format_size(e.lengths[0])}" for name, e in lengths if e.length is None and e.lengths]
    parts = (["passes " + ", ".join(passes)] if passes else []) + (["fails " + ", ".join(fails)] if fails else [])
    return f"{label}: " + "; ".join(parts)


def _rows(label: str, lengths: list[tuple[str, Effective, list]]) -> tuple[dict, ...]:
    table: dict[int, dict] = {}
    for name, _, grid in lengths:
        for c in grid:
            row = table.setdefault(c.tokens, {"series": label, "tokens": c.tokens})
            row[name] = "n/a" if c.accuracy is None else f"{c.accuracy:.0%} (n={c.scored})"
    return tuple(table[t] for t in sorted(table))


def _kinds(label: str, tasks: dict[str, list[dict]]) -> tuple[dict, ...]:
    out = []
    for task, name in TASK_NAMES.items():
        counts = Counter(r.get("kind") for r in tasks.get(task, ()))
        if counts:
            out.append({"series": label, "task": name, "n": sum(counts.values()), **{k: counts[k] for k in NIAH_KINDS}})
    return tuple(out)


def readings(series, threshold: float) -> tuple[Reading, ...]:
    """One Reading per series that holds niah records (none: the section is left out)."""
    out = []
    for s, rows in series:
        tasks = _by_task(rows)
        if not any(tasks.get(task) for task in TASK_NAMES):
            continue
        lengths = _lengths(s, tasks, threshold)
        line = sentence(s.label, [(name, e) for name, e, _ in lengths])
        out.append(Reading(s.label, line, _rows(s.label, lengths), _kinds(s.label, tasks)))
    return tuple(out)
