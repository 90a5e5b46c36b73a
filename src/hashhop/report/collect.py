"""Everything a report shows, computed once from the runs (no plotting, no writing)."""

from __future__ import annotations

from dataclasses import dataclass

from hashhop.report.aggregate import cells, series_of, totals
from hashhop.report.anchors import load_anchors
from hashhop.report.compare import compare
from hashhop.report.coverage import coverage_rows
from hashhop.report.diagnose import pick_failures
from hashhop.report.effective import effective_lengths
from hashhop.report.invariance import invariances
from hashhop.report.niah import hashhop_series, readings
from hashhop.report.runs import load_runs


@dataclass(frozen=True)
class ReportOptions:
    threshold: float = 0.9  # effective length: accuracy at or above this
    anchors: bool = False  # plot and list the published figures
    show_paths: bool = False  # keep absolute paths in model names and errors
    diagrams: int = 6  # failed queries drawn as chain diagrams
    title: str = "HashHop report"


@dataclass(frozen=True)
class ReportData:
    runs: tuple
    series: tuple  # (Series, records)
    labels: tuple[str, ...]
    cells: tuple  # by tokens x hops x mode
    length_cells: tuple  # by tokens, hops and modes pooled
    depth_cells: tuple  # by tokens x mode x depth
    totals: tuple
    effective: tuple  # by the headline score (strict)
    effective_scores: tuple  # by the exact and the lenient score
    coverage: tuple  # report/coverage.py rows: per cell, then per series overall
    differences: tuple
    diagrams: tuple
    anchors: tuple
    invariance: tuple  # one invariance.Invariance per series: accuracy by order and by depth
    options: ReportOptions
    niah: tuple = ()  # report/niah.py Readings: NIAH next to HashHop, per model (runs with niah cells)

    @property
    def partial_runs(self) -> list:
        return [r for r in self.runs if r.partial]


def collect(run_paths, options: ReportOptions = ReportOptions()) -> ReportData:
    runs = load_runs(run_paths)
    every_task = series_of(runs, options.show_paths)
    series = hashhop_series(every_task)  # the HashHop figures; niah records have their own section
    grid = cells(series)
    labels = tuple(s.label for s, _ in series)
    samples = {r.name: r.samples for r in runs}
    overall = totals(series)
    return ReportData(
        runs=tuple(runs),
        series=tuple(series),
        labels=labels,
        cells=tuple(grid),
        length_cells=tuple(cells(series, by=("tokens",))),
        depth_cells=tuple(cells(series, by=("tokens", "cot", "depth"))),
        totals=tuple(overall),
        effective=tuple(effective_lengths(grid, options.threshold)),
        effective_scores=tuple(e for k in ("exact", "lenient") for e in effective_lengths(grid, options.threshold, k)),
        coverage=tuple(coverage_rows(series, [*grid, *overall], samples)),
        differences=tuple(compare(grid, labels)),
        diagrams=tuple(pick_failures(series, samples, options.diagrams)),
        anchors=tuple(load_anchors()) if options.anchors else (),
        invariance=tuple(invariances(series)),
        options=options,
        niah=readings(every_task, options.threshold),
    )
