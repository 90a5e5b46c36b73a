"""The report's invariance section (report/invariance.py): it can say both "no dependence" and "depends"."""

from __future__ import annotations

import math
import time
import types

import pytest

from hashhop import backends
from hashhop.backends.base import Backend, Completion, Request
from hashhop.cli import main
from hashhop.generator.lines import index_context, walk
from hashhop.report.collect import collect
from hashhop.report.invariance import chi2_sf, homogeneity_p, invariance

SWEEP = """
name = "order"
[grid]
lengths = ["1K"]
hops = [1, 2]
cot = "skip"
depth = [0.2, 0.8]
order = ["forward", "backward"]
samples = 2
queries = 4
tokenizer = "chars"

[[models]]
model = "oracle"

[[models]]
model = "downward"
"""


class DownwardReader(Backend):
    """Reads the context once, top to bottom: it follows a link only when the next key lies below the
    current one, so it answers right on forward chains and gives up on backward ones (a recency user)."""

    name = "downward"

    async def generate(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        row_of = {line.partition(" = ")[0]: i for i, line in enumerate(request.context.split("\n"))}
        path = walk(index_context(request.context), request.start, request.hops)
        keys = [row_of.get(h, -1) for h in path[:-1]]
        downward = keys == sorted(keys) and len(path) == request.hops + 1
        return Completion(text=path[-1] if downward else "", latency_s=time.perf_counter() - t0, model=self.name)


@pytest.fixture(scope="module")
def report_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("invariance")
    (root / "order.toml").write_text(SWEEP)
    plugin = types.SimpleNamespace(load=lambda: lambda model="", **options: DownwardReader())
    patch = pytest.MonkeyPatch()
    patch.setattr(backends, "_entry_points", lambda: {"downward": plugin})
    try:
        assert main(["bench", "--sweep", str(root / "order.toml"), "--no-figures", "-o", str(root / "runs")]) == 0
    finally:
        patch.undo()
    data = collect([str(root / "runs" / "oracle"), str(root / "runs" / "downward")])
    return {check.series: check for check in data.invariance}, root


def test_a_model_that_reads_only_downward_depends_on_order(report_data):
    checks, _ = report_data
    reader = checks["downward"]
    assert [(lv.value, lv.correct, lv.scored) for lv in reader.order.levels] == [
        ("backward", 0, 16),
        ("forward", 16, 16),
    ]
    assert reader.order.depends and not reader.depth.depends
    assert reader.verdict == (
        "accuracy depends on order (forward 100% vs backward 0%, p < 0.001): this model uses the cues HashHop removes"
    )


def test_the_oracle_shows_no_dependence(report_data):
    checks, _ = report_data
    assert checks["oracle"].verdict == "no dependence on order or position beyond the noise"
    assert checks["oracle"].order.spread == 0 and checks["oracle"].depth.spread == 0


def test_the_section_is_in_the_report_files(report_data):
    _, root = report_data
    md = (root / "runs" / "report.md").read_text()
    assert "## Invariance to order and position" in md
    assert "- **downward**: accuracy depends on order (forward 100% vs backward 0%, p < 0.001)" in md
    assert "Invariance to order and position" in (root / "runs" / "report.html").read_text()
    assert (root / "runs" / "report.invariance.csv").read_text().startswith("series,factor,level,scored,accuracy")


def test_one_hop_queries_count_by_depth_but_not_by_order():
    rows = [
        {"status": "ok", "correct": True, "cell": {"hops": 1, "depth": 0.5, "order": "backward"}},
        {"status": "ok", "correct": False, "cell": {"hops": 2, "depth": 0.5}},
        {"status": "error", "correct": False, "cell": {"hops": 2, "depth": 0.5}},
    ]
    check = invariance("m", rows)
    assert [(lv.value, lv.scored) for lv in check.order.levels] == [("shuffled", 1)]
    assert [(lv.value, lv.scored) for lv in check.depth.levels] == [("0.5", 2)]
    assert check.verdict == "one order and one depth only: nothing to compare"


@pytest.mark.parametrize(
    "x, df, expected",
    [(3.841459, 1, 0.05), (6.634897, 1, 0.01), (5.991465, 2, 0.05), (7.814728, 3, 0.05), (13.2767, 4, 0.01)],
)
def test_chi_square_tail_matches_the_tables(x, df, expected):
    assert math.isclose(chi2_sf(x, df), expected, rel_tol=1e-5)


def test_chi_square_tail_with_two_and_four_degrees_of_freedom_has_its_closed_form():
    for x in (0.1, 1.0, 4.0, 30.0):  # both branches: the series below df/2 + 1, the continued fraction above
        assert math.isclose(chi2_sf(x, 2), math.exp(-x / 2), rel_tol=1e-9)
        assert math.isclose(chi2_sf(x, 4), math.exp(-x / 2) * (1 + x / 2), rel_tol=1e-9)


def test_homogeneity_of_equal_rates_is_not_rejected_and_of_far_rates_is():
    assert homogeneity_p([(50, 100), (50, 100)]) == 1.0
    assert homogeneity_p([(100, 100), (100, 100)]) == 1.0  # no variation at all
    assert homogeneity_p([(90, 100), (10, 100)]) < 1e-6
    # 60/100 vs 40/100: expected 50 per cell, chi-square 4 x 10^2 / 50 = 8 on one degree of freedom
    assert math.isclose(homogeneity_p([(60, 100), (40, 100)]), chi2_sf(8.0, 1), rel_tol=1e-12)
    assert math.isclose(chi2_sf(8.0, 1), 0.0046777, rel_tol=1e-4)
