"""The report's tables as plain rows (lists of dicts with fixed columns), shared by CSV, Markdown and HTML.

Numbers stay numbers here (fractions, not percents); each writer formats them.
"""

from __future__ import annotations

from hashhop.generator.spec import format_size
from hashhop.report.aggregate import KINDS, wilson_interval


def mode(cot) -> str:
    return {True: "cot", False: "skip"}.get(cot, "all")


def _num(x, digits: int = 4):
    return None if x is None else round(float(x), digits)


def cell_rows(cells) -> list[dict]:
    """Every aggregate cell: counts per kind, accuracy (strict, the headline) with its interval, exact
    and lenient beside it, usage."""
    rows = []
    for c in cells:
        lo, hi = c.interval
        row = {"series": c.series, "tokens": c.tokens, "hops": c.hops, "mode": mode(c.cot)}
        if c.depth is not None:
            row["depth"] = c.depth
        row.update(
            {
                "n": c.n,
                "scored": c.scored,
                "strict": c.strict,
                "accuracy": _num(c.accuracy),
                "ci95_lo": _num(lo) if c.scored else None,
                "ci95_hi": _num(hi) if c.scored else None,
                "mean_credit": _num(c.credit),
                "correct": c.correct,
                "accuracy_exact": _num(c.accuracy_of("exact")),
                "accuracy_lenient": _num(c.accuracy_of("lenient")),
            }
        )
        row.update({f"n_{k}": c.count(k) for k in KINDS})
        row.update(
            {
                "mean_context_tokens": _num(c.n_tokens, 1),
                "mean_prompt_tokens": _num(c.prompt_tokens, 1),
                "mean_completion_tokens": _num(c.completion_tokens, 1),
                "mean_latency_s": _num(c.latency_s, 3),
                "p95_latency_s": _num(c.latency_p95_s, 3),
                "cost_usd": _num(c.cost_usd, 6),
            }
        )
        rows.append(row)
    return rows


def effective_rows(effective) -> list[dict]:
    return [
        {
            "series": e.series,
            "hops": e.hops,
            "mode": mode(e.cot),
            "score": e.score,
            "threshold": e.threshold,
            "effective_length": e.text,
            "effective_tokens": e.length,
            "all_pass": e.all_pass,
            "tested": " ".join(format_size(t) for t in e.lengths),
            "stopped_by": e.reason,
        }
        for e in effective
    ]


def _ci(k: int, n: int) -> str:
    lo, hi = wilson_interval(k, n)
    return f"{lo:.2f}-{hi:.2f}"


def compare_rows(differences) -> list[dict]:
    return [
        {
            "tokens": d.tokens,
            "hops": d.hops,
            "mode": mode(d.cot),
            "baseline": d.baseline,
            "other": d.other,
            "baseline_accuracy": _num(d.base_hits / d.base_scored),
            "baseline_ci95": _ci(d.base_hits, d.base_scored),
            "baseline_n": d.base_scored,
            "other_accuracy": _num(d.other_hits / d.other_scored),
            "other_ci95": _ci(d.other_hits, d.other_scored),
            "other_n": d.other_scored,
            "delta": _num(d.delta),
            "beyond_intervals": d.beyond_intervals,
        }
        for d in differences
    ]


def series_rows(series, totals) -> list[dict]:
    by_label = {t.series: t for t in totals}
    out = []
    for s, _rows in series:
        t = by_label[s.label]
        lo, hi = t.interval
        out.append(
            {
                "series": s.label,
                "run": s.run,
                "status": "partial" if s.partial else "complete",
                "records": t.n,
                "scored": t.scored,
                "strict": t.strict,
                "accuracy": _num(t.accuracy),
                "ci95_lo": _num(lo) if t.scored else None,
                "ci95_hi": _num(hi) if t.scored else None,
                "correct": t.correct,
                "accuracy_exact": _num(t.accuracy_of("exact")),
                "accuracy_lenient": _num(t.accuracy_of("lenient")),
                "scored_before_strict": t.legacy,
                "errors": t.count("error"),
                "over_length": t.count("over_length"),
                "cut_off": t.count("cut_off"),
                "cost_usd": _num(t.cost_usd, 6),
            }
        )
    return out


def anchor_rows(anchors) -> list[dict]:
    return [
        {"who": a.who, "model": a.model, "task": a.task, "context": a.context, "accuracy": a.accuracy} for a in anchors
    ]


def run_details(run, show_paths: bool = False) -> list[dict]:
    """What results.json says about how a run was made (template, tokenizer, versions, timing)."""
    from hashhop.report.privacy import redact

    res = run.results or {}
    timing, config, versions = res.get("timing") or {}, res.get("config") or {}, res.get("versions") or {}
    template = res.get("template") if isinstance(res.get("template"), dict) else {}
    fields = [
        ("model", config.get("model")),
        ("tokenizer", res.get("tokenizer") or config.get("tokenizer")),
        ("hashhop", versions.get("hashhop")),
        ("git hash", res.get("git_hash")),
        ("started", timing.get("started")),
        ("updated", timing.get("updated")),
        ("wall s", timing.get("wall_s")),
        ("stopped", res.get("stopped")),
    ]
    fields += [(f"template: {k}", v) for k, v in (template or {}).items()]
    return [{"field": k, "value": redact(str(v), show_paths)} for k, v in fields if v not in (None, "", {})]
