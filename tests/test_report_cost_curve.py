"""The cost section's fit: seconds per query against context length, log-log."""

from dataclasses import dataclass

import pytest

from hashhop.report import cost_curve


@dataclass
class _Cell:
    series: str
    tokens: int
    latency_s: float | None
    scored: int = 4
    peak_memory_bytes: int | None = None


def test_a_known_power_law_gives_its_exponent():
    linear = [(t, 3e-6 * t) for t in (16_000, 64_000, 256_000, 1_000_000)]
    quadratic = [(t, 1e-10 * t * t) for t in (16_000, 64_000, 256_000)]
    assert cost_curve.fit_exponent(linear) == pytest.approx(1.0)
    assert cost_curve.fit_exponent(quadratic) == pytest.approx(2.0)


def test_one_length_gives_no_exponent():
    assert cost_curve.fit_exponent([(1000.0, 1.0), (1000.0, 2.0)]) is None


def test_short_lengths_are_left_out_of_the_fit_when_two_long_ones_exist():
    # A fixed cost dominates below FIT_FROM: 1K costs as much as 4K; from 16K up the growth is linear.
    points = [(1000, 1.0), (4000, 1.0), (16_000, 1.0), (64_000, 4.0), (256_000, 16.0)]
    assert cost_curve.fitted(points) == pytest.approx(1.0)


def test_rows_and_points_come_per_series_and_skip_unscored_lengths():
    cells = [_Cell("sparse", 1000, 0.1), _Cell("sparse", 16_000, 0.2), _Cell("sparse", 64_000, 0.8),
             _Cell("dense", 1000, 0.1), _Cell("dense", 64_000, None, scored=0)]  # fmt: skip
    assert cost_curve.series_points(cells, "dense") == [(1000, 0.1)]
    rows = {r["series"]: r for r in cost_curve.cost_rows(cells, ["sparse", "dense"])}
    assert rows["sparse"]["time exponent"] == "1.00" and rows["dense"]["time exponent"] == "-"
    assert cost_curve.has_curve(cells, ["dense"]) is False and cost_curve.has_curve(cells, ["sparse"]) is True


def test_memory_per_query_gets_its_own_points_and_exponent():
    cells = [_Cell("sparse", t, 1e-6 * t, peak_memory_bytes=300 * t) for t in (16_000, 64_000, 256_000)]
    cells += [_Cell("api", 16_000, 0.5), _Cell("api", 64_000, 0.6)]  # API models measure no memory
    assert cost_curve.memory_points(cells, "sparse") == [(16_000, 4.8e6), (64_000, 19.2e6), (256_000, 76.8e6)]
    rows = {r["series"]: r for r in cost_curve.cost_rows(cells, ["sparse", "api"])}
    assert rows["sparse"]["memory exponent"] == "1.00" and rows["sparse"]["peak memory per query (MB)"].startswith(
        "16,000: 4.8"
    )
    assert rows["api"]["memory exponent"] == "-" and rows["api"]["peak memory per query (MB)"] == "-"
