"""The cost section: seconds and peak memory per query against context length, log-log, with the
fitted exponents.

A model whose time per query grows like length^1 reads the context in linear time; dense attention
grows like length^2. The exponent is the least-squares slope of log(mean seconds per query) against
log(context tokens), over the lengths from FIT_FROM tokens up (short contexts are dominated by fixed
costs), or over every length when fewer than two reach it. Seconds per query are the records'
latencies: with shared contexts, the first query of a context pays for reading it, so the mean
is (reading + answering) / queries. Memory is the largest `peak_memory_bytes` of a length's queries
(what the query that read the context added), where the backend measures it (in-process models).
"""

from __future__ import annotations

import math

FIT_FROM = 16_000  # tokens: below this, fixed per-query costs hide the growth


def fit_exponent(points: list[tuple[float, float]]) -> float | None:
    """Slope of log(y) against log(x) over (x, y) points with x, y > 0; None under two distinct x."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def series_points(length_cells, label: str) -> list[tuple[int, float]]:
    """(tokens, mean seconds per query) of one series, by length."""
    cells = [c for c in length_cells if c.series == label and c.latency_s is not None and c.scored]
    return sorted((c.tokens, c.latency_s) for c in cells)


def memory_points(length_cells, label: str) -> list[tuple[int, float]]:
    """(tokens, largest memory a query added, in bytes) of one series, by length, where measured."""
    cells = [c for c in length_cells if c.series == label and c.peak_memory_bytes and c.scored]
    return sorted((c.tokens, float(c.peak_memory_bytes)) for c in cells)


def fitted(points: list[tuple[int, float]]) -> float | None:
    """The exponent over the lengths from FIT_FROM up, or every length when fewer than two reach it."""
    long = [p for p in points if p[0] >= FIT_FROM]
    return fit_exponent([(float(x), y) for x, y in (long if len(long) >= 2 else points)])


def cost_rows(length_cells, labels) -> list[dict]:
    rows = []
    for label in labels:
        points, memory = series_points(length_cells, label), memory_points(length_cells, label)
        exponent, mem_exponent = fitted(points), fitted(memory)
        rows.append(
            {
                "series": label,
                "lengths": len(points),
                "seconds per query": ", ".join(f"{t:,}: {s:.3g}" for t, s in points),
                "time exponent": "-" if exponent is None else f"{exponent:.2f}",
                "peak memory per query (MB)": ", ".join(f"{t:,}: {m / 1e6:.3g}" for t, m in memory) or "-",
                "memory exponent": "-" if mem_exponent is None else f"{mem_exponent:.2f}",
            }
        )
    return rows


def has_curve(length_cells, labels) -> bool:
    return any(len(series_points(length_cells, label)) >= 2 for label in labels)


def figure(length_cells, labels) -> bytes:
    """Two log-log panels against context length, one line per series, the exponent in the legend:
    seconds per query, and peak memory per query where measured."""
    from hashhop.report.plots import OKABE_ITO, _mpl, _png

    plt, _ = _mpl()
    with_memory = any(len(memory_points(length_cells, label)) >= 2 for label in labels)
    fig, axes = plt.subplots(1, 2 if with_memory else 1, figsize=(11 if with_memory else 6, 3.6), squeeze=False)
    panels = [(series_points, "seconds per query", "time", 1.0)]
    if with_memory:
        panels.append((memory_points, "peak memory per query (MB)", "memory", 1e-6))
    for ax, (points_of, ylabel, what, unit) in zip(axes[0], panels):
        for i, label in enumerate(labels):
            points = points_of(length_cells, label)
            if len(points) < 2:
                continue
            exponent = fitted(points)
            name = label if exponent is None else f"{label} ({what} ∝ length^{exponent:.2f})"
            ax.loglog([p[0] for p in points], [p[1] * unit for p in points], marker="o", ms=4,
                      color=OKABE_ITO[i % len(OKABE_ITO)], label=name)  # fmt: skip
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
