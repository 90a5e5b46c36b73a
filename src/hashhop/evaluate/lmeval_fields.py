"""lm-evaluation-harness-compatible fields for results.json: `results`, `n-samples` and
`higher_is_better`, one task per cell, named like the lm-eval tasks in hashhop.integrations."""

from __future__ import annotations

from hashhop.evaluate.niah_score import NIAH_KINDS
from hashhop.evaluate.score import KINDS
from hashhop.evaluate.store import Record
from hashhop.generator.spec import format_size
from hashhop.prompt.cell import Cell

_GRADED = ("exact_match", "strict_match", "lenient_match", "credit", "hops_correct")


def task_name(cell: Cell) -> str:
    """`hashhop_[cot_]{hops}hop_{size}`, e.g. hashhop_2hop_1k; `niah_1k`, `niah_multikey_1k` for niah cells."""
    if cell.task != "hashhop":
        return f"{cell.task.replace('-', '_')}_{format_size(cell.tokens).lower()}"
    return f"hashhop_{'cot_' if cell.cot else ''}{cell.hops}hop_{format_size(cell.tokens).lower()}"


def _mean_stderr(values: list[float]) -> tuple[float, float]:
    n, mean = len(values), sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, (var / n) ** 0.5


def lm_eval_results(records: list[Record]) -> dict:
    """`METRIC,none` and `METRIC_stderr,none` over scored queries per task; failure kinds as
    `kind_KIND,none` (errors and over-length queries are not scored, as in hashhop's own metrics)."""
    by_task: dict[str, list[Record]] = {}
    for r in records:
        if r.status == "ok":
            by_task.setdefault(task_name(Cell.from_dict(r.cell)), []).append(r)
    results, n_samples, better = {}, {}, {}
    for task, rows in sorted(by_task.items()):
        kinds = _answer_kinds(task)
        values = {
            "exact_match": [float(r.correct) for r in rows],
            # records written before strict/lenient existed count by `correct` (record.hit)
            "strict_match": [float(r.correct if r.strict is None else r.strict) for r in rows],
            "lenient_match": [float(r.correct if r.lenient is None else r.lenient) for r in rows],
            "credit": [float(r.credit) for r in rows],
            "hops_correct": [float(r.hops_correct) for r in rows],
            **{f"kind_{k}": [float(r.kind == k) for r in rows] for k in kinds},
        }
        block: dict[str, str | float] = {"alias": task}
        for metric, vals in values.items():
            block[f"{metric},none"], block[f"{metric}_stderr,none"] = _mean_stderr(vals)
        results[task], n_samples[task] = block, {"original": len(rows), "effective": len(rows)}
        better[task] = {m: m in _GRADED or m == "kind_correct" for m in (*_GRADED, *[f"kind_{k}" for k in kinds])}
    return {"results": results, "n-samples": n_samples, "higher_is_better": better}


def _answer_kinds(task: str) -> tuple[str, ...]:
    """The failure kinds a task's answers can get (errors and over-length queries are not scored)."""
    kinds = NIAH_KINDS if task.startswith("niah") else KINDS
    return tuple(k for k in kinds if k not in ("over_length", "error"))
