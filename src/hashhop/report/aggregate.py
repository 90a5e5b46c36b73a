"""Pure tables from records: per-cell accuracy with 95% Wilson intervals, failure counts, usage.

Accuracy counts only scored records (status `ok`): a failed API call (`error`) or a prompt that
did not fit the model (`over_length`) is neither right nor wrong, so it is left out of the rate
and shown beside it as its own count, never dropped silently.

Three scores per cell (docs/scoring.md), strict <= exact <= lenient: `strict` (the answer first, in
the requested format: the headline, which `accuracy`, the interval, the effective length and the
figures use), `exact` (a record's `correct`, the parser's exact match) and `lenient` (the answer
anywhere in the reply, as MRCR v2's scorer). A record written before strict existed counts by its
`correct` (`record.hit`); `legacy` counts such scored records, so the report can say so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from hashhop.evaluate.record import hit, predates_strict
from hashhop.evaluate.score import KINDS, wilson_interval
from hashhop.prompt.cell import Cell as GridCell
from hashhop.report.privacy import redact

FAILURES = KINDS[1:]
KIND_LABELS = {
    "correct": "correct",
    "stopped_early": "stopped early",
    "went_too_far": "went too far",
    "other_chain": "other chain",
    "hallucinated": "hallucinated",
    "partial_hash": "partial hash",
    "no_answer": "no answer",
    "cut_off": "cut off",
    "over_length": "over length",
    "error": "error",
}
DEPTH_BINS = 5  # unrequested depths are binned into fifths of the context


@dataclass(frozen=True)
class Series:
    """One curve of the report: a model in a run."""

    run: str
    model: str
    label: str
    partial: bool


@dataclass(frozen=True)
class Cell:
    """Aggregate of the records of one series at one grid point (None: pooled over that axis)."""

    series: str
    tokens: int
    hops: int | None
    cot: bool | None
    depth: float | None
    n: int  # every record, scored or not
    scored: int  # status ok
    correct: int  # exact match (records' `correct`)
    credit: float | None
    kinds: tuple[int, ...]  # counts in KINDS order
    n_tokens: float | None  # mean measured context size
    prompt_tokens: float | None
    completion_tokens: float | None
    latency_s: float | None
    latency_p95_s: float | None
    cost_usd: float
    peak_memory_bytes: int | None = None  # the largest any query of the cell added (in-process models)
    strict: int = 0  # the headline
    lenient: int = 0
    legacy: int = 0  # scored records written before the strict score: counted by `correct`

    @property
    def accuracy(self) -> float | None:
        """Strict accuracy, the headline."""
        return self.strict / self.scored if self.scored else None

    def accuracy_of(self, score: str) -> float | None:
        """Accuracy by `strict` (the headline), `exact` or `lenient` (docs/scoring.md)."""
        hits = {"exact": self.correct, "strict": self.strict, "lenient": self.lenient}[score]
        return hits / self.scored if self.scored else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the headline (strict) accuracy."""
        return wilson_interval(self.strict, self.scored)

    def count(self, kind: str) -> int:
        return self.kinds[KINDS.index(kind)]


def series_of(runs, show_paths: bool = False) -> list[tuple[Series, list[dict]]]:
    """Records split into series; a model seen in several runs is labelled `model [run]`."""
    runs_per_model = defaultdict(set)
    for run in runs:
        for model in run.models:
            runs_per_model[model].add(run.name)
    out = []
    for run in runs:
        for model in run.models:
            label = redact(model, show_paths)
            if len(runs_per_model[model]) > 1:
                label = f"{label} [{run.name}]"
            rows = [r for r in run.records if r.get("model", "?") == model]
            out.append((Series(run.name, model, label, run.partial), rows))
    return out


def depth_of(record: dict) -> float:
    """The depth a record counts under: the requested depth, else its bin's centre."""
    requested = GridCell.from_dict(record.get("cell")).depth
    if requested is not None:
        return round(float(requested), 3)
    d = min(max(float(record.get("query_depth") or 0.0), 0.0), 1.0)
    b = min(int(d * DEPTH_BINS), DEPTH_BINS - 1)
    return round((b + 0.5) / DEPTH_BINS, 3)


class _Sums:
    """Running count and sum of the non-null values of one field."""

    __slots__ = ("n", "total")

    def __init__(self):
        self.n, self.total = 0, 0.0

    def add(self, v):
        if v is not None:
            self.n += 1
            self.total += v

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


def _p95(values: list) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)] if values else None


USAGE = ("n_tokens", "prompt_tokens", "completion_tokens", "latency_s")


def _cell(label: str, key: tuple, rows: list[dict]) -> Cell:
    """One pass over the rows (reports of 100K+ records stay a small multiple of parsing them)."""
    tokens, hops, cot, depth = key
    counts = dict.fromkeys(KINDS, 0)
    scored = legacy = 0
    hits = dict.fromkeys(("strict", "correct", "lenient"), 0)
    credit, usage, latencies, cost = _Sums(), {f: _Sums() for f in USAGE}, [], 0.0
    for r in rows:
        kind = r.get("kind")
        if kind in counts:
            counts[kind] += 1
        if r.get("status") == "ok":
            scored += 1
            for score in hits:
                hits[score] += hit(r, score)
            legacy += predates_strict(r)
            credit.add(r.get("credit"))
        for f in USAGE:
            usage[f].add(r.get(f))
        latencies += [r["latency_s"]] if r.get("latency_s") is not None else []
        cost += r.get("cost_usd") or 0.0
    return Cell(
        series=label,
        tokens=tokens,
        hops=hops,
        cot=cot,
        depth=depth,
        n=len(rows),
        scored=scored,
        correct=hits["correct"],
        credit=credit.mean,
        kinds=tuple(counts.values()),
        **{f: usage[f].mean for f in USAGE},  # n_tokens, prompt_tokens, completion_tokens, latency_s
        latency_p95_s=_p95(latencies),
        cost_usd=cost,
        strict=hits["strict"],
        lenient=hits["lenient"],
        legacy=legacy,
        peak_memory_bytes=max((r.get("peak_memory_bytes") or 0 for r in rows), default=0) or None,
    )


def cells(series, by=("tokens", "hops", "cot")) -> list[Cell]:
    """One Cell per series and grid point over the axes in `by` (the others pooled), sorted."""
    out = []
    for s, rows in series:
        groups = defaultdict(list)
        for r in rows:
            c = GridCell.from_dict(r.get("cell"))  # as any hashhop since 0.1.0 wrote it
            key = (
                c.tokens,
                c.hops or None if "hops" in by else None,
                c.cot if "cot" in by else None,
                depth_of(r) if "depth" in by else None,
            )
            groups[key].append(r)
        for key in sorted(groups, key=lambda k: tuple((v is None, v or 0) for v in k)):
            out.append(_cell(s.label, key, groups[key]))
    return out


def totals(series) -> list[Cell]:
    """One Cell per series, pooled over the whole grid (tokens 0)."""
    return [_cell(s.label, (0, None, None, None), rows) for s, rows in series]
