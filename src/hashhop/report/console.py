"""The headline `hashhop bench` prints when it ends: effective length per model and hop count, the
overall accuracy by each score (strict: the headline; exact; lenient), the coverage, and how time
per query grows with context length (the fitted exponent of report/cost_curve.py)."""

from __future__ import annotations


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def console_headline(data) -> str:
    """Effective context length per model and hop count (columns: cot, skip), and overall accuracy."""
    opt = data.options
    lines = [
        f"effective context length (longest length with accuracy >= {opt.threshold:.0%} at every length up to it; "
        f"accuracy = strict):",
        f"{'model':<24} {'hops':>4} {'cot':>10} {'skip':>10}",
    ]
    by_key = {(e.series, e.hops, e.cot): e.text for e in data.effective}
    for label in data.labels:
        hops = sorted({h for s, h, _ in by_key if s == label and h is not None})
        for i, h in enumerate(hops):
            lines.append(
                f"{label if i == 0 else '':<24} {h:>4} {by_key.get((label, h, True), '-'):>10} "
                f"{by_key.get((label, h, False), '-'):>10}"
            )
    for t in data.totals:
        cut_off = t.count("cut_off")
        lines.append(
            f"{t.series}: overall accuracy (strict) {_pct(t.accuracy)} (exact {_pct(t.accuracy_of('exact'))}, "
            f"lenient {_pct(t.accuracy_of('lenient'))}) over {t.scored} scored queries ({t.n} recorded; "
            f"{t.count('error')} errors, {t.count('over_length')} over length, {cut_off} cut off"
            + (f"; {t.legacy} scored before strict scoring, counted by exact)" if t.legacy else ")")
        )
    return "\n".join(lines + _cost_lines(data))


def _cost_lines(data) -> list[str]:
    """Time per query against context length: the fitted exponent (1: linear, 2: quadratic) per model."""
    from hashhop.report import cost_curve

    out = []
    for label in data.labels:
        points = cost_curve.series_points(data.length_cells, label)
        exponent = cost_curve.fitted(points)
        if exponent is not None:
            span = f"{points[0][0]:,}-{points[-1][0]:,} tokens"
            memory = cost_curve.fitted(cost_curve.memory_points(data.length_cells, label))
            grows = "" if memory is None else f", peak memory as length^{memory:.2f}"
            out.append(f"{label}: seconds per query grow as length^{exponent:.2f}{grows} ({span} scored)")
    return out
