"""Coverage accounting: how many queries of a run were scored, why the others were not, and the
noise floor (what chance alone scores) of each cell.

Owns `coverage`, `noise_floor`, `cell_noise_floor` and `shortfall` (the check behind
`--min-coverage`). A query is attempted when it is recorded; it is scored when the model's reply was
graded in full: status `ok` and not `cut_off` (a reply the token budget ended). Errors, over-length
prompts and cut-off replies are counted apart, so `attempted = scored + errors + over_length + cut_off`.

The noise floor is the `random` backend's expected accuracy, computed exactly from the stored recipes
without calling anything: that backend answers each of the `hops` (chain of thought) or 1 (skip
steps) hashes it writes uniformly from the context's distinct hashes, so a query is answered exactly
with probability (1 / hashes in the context) ** hashes written. The count of distinct hashes comes
from the recipe (chain hashes, decoy keys and values, filler keys and values: all distinct by
construction), not from rendering the context (tests/test_coverage.py checks it against the random
backend's own pool). Only generated HashHop problems have a floor: a NIAH haystack's answers are
numbers, not hashes drawn from the context, and an external context has no recipe to count from, so
theirs is None (never a wrong number).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from hashhop.core.errors import HashhopError
from hashhop.evaluate.store import read_results
from hashhop.generator.build import problem_of
from hashhop.generator.external import EXTERNAL_KEY
from hashhop.generator.problem import Problem
from hashhop.generator.sample import Query, Sample


def coverage(rows: Iterable[dict]) -> dict:
    """attempted, scored, errors, over_length, cut_off and coverage (scored / attempted, None if none)."""
    counts = {"attempted": 0, "scored": 0, "errors": 0, "over_length": 0, "cut_off": 0}
    for row in rows:
        counts["attempted"] += 1
        status = row.get("status", "ok")
        if status == "ok":
            counts["cut_off" if row.get("kind") == "cut_off" else "scored"] += 1
        else:  # an error, or a status this version does not know: never scored
            counts["over_length" if status == "over_length" else "errors"] += 1
    attempted = counts["attempted"]
    return {**counts, "coverage": counts["scored"] / attempted if attempted else None}


def context_hashes(problem: Problem) -> int:
    """Distinct hashes in the problem's context: chain hashes, 2 per decoy line, 2 per filler line."""
    return problem.decoy_base + 2 * problem.n_decoys + 2 * problem.shape.n_fill


def noise_floor(problem: object, query: Query) -> float | None:
    """The random backend's expected exact-match accuracy on `query`; None unless `problem` is a
    generated HashHop Problem (a NIAH haystack, an external context)."""
    if not isinstance(problem, Problem):
        return None
    written = query.hops if query.cot else 1
    return (1.0 / context_hashes(problem)) ** written


def cell_noise_floor(rows: Iterable[dict], samples: Mapping[str, Mapping]) -> float | None:
    """Mean noise floor over the rows' queries, from the stored recipes (`samples`: sample id -> its
    samples.jsonl entry or its bare recipe); None when no row's recipe can be rebuilt."""
    problems: dict[str, tuple[Sample, Problem] | None] = {}
    floors = []
    for row in rows:
        sid = str(row.get("sample_id"))
        if sid not in problems:
            problems[sid] = _rebuild(samples.get(sid))
        built = problems[sid]
        index = row.get("query_index")
        if built is not None and isinstance(index, int) and 0 <= index < len(built[0].queries):
            floor = noise_floor(built[1], built[0].queries[index])
            if floor is not None:
                floors.append(floor)
    return sum(floors) / len(floors) if floors else None


def _rebuild(entry: Mapping | None) -> tuple[Sample, Problem] | None:
    """The sample and problem of a samples.jsonl entry ({"sample": recipe, ...}) or of a bare recipe;
    None for an external sample or a NIAH haystack (no noise floor: see the module's note)."""
    recipe = entry.get("sample", entry) if isinstance(entry, Mapping) else None
    if not isinstance(recipe, Mapping) or EXTERNAL_KEY in recipe:
        return None
    try:
        sample = Sample.from_dict(recipe)
        if sample.spec.task != "hashhop":
            return None
        problem = problem_of(sample)
        return (sample, problem) if isinstance(problem, Problem) else None
    except (HashhopError, KeyError, TypeError, ValueError):
        return None  # a sample this version cannot rebuild: no floor, rather than a wrong one


COVERAGE_EXIT = 3  # the exit status of a run that scored too few queries (bad input exits 2)
BENCH_MIN_COVERAGE = 0.9  # bench's default minimum (eval has none)


def check_fraction(value: float | None, what: str = "--min-coverage") -> float | None:
    """A coverage minimum is a fraction in [0, 1] (None: no minimum)."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise HashhopError(f"{what} must be a fraction between 0 and 1, e.g. {what} 0.9")
    return value


def shortfall(metrics: Mapping, min_coverage: float | None) -> str | None:
    """Why a run fails --min-coverage (one line), or None when it passes or no minimum is set."""
    if min_coverage is None:
        return None
    cov = (metrics.get("overall") or {}).get("coverage") or {}
    attempted, scored = cov.get("attempted", 0), cov.get("scored", 0)
    share = scored / attempted if attempted else 0.0
    if share >= min_coverage:
        return None
    return (
        f"coverage {share:.1%} is below --min-coverage {min_coverage:g}: {scored} of {attempted} queries scored "
        f"({cov.get('errors', 0)} errors, {cov.get('over_length', 0)} over length, {cov.get('cut_off', 0)} cut off)"
    )


def run_shortfalls(run_dirs: Mapping[str, str], min_coverage: float | None) -> list[str]:
    """One line per run folder (model -> folder) whose results.json falls short of `min_coverage`."""
    out = []
    for model, run_dir in run_dirs.items():
        results = read_results(run_dir) if os.path.exists(os.path.join(run_dir, "results.json")) else {}
        short = shortfall(results.get("metrics") or {}, min_coverage)
        if short:
            out.append(f"{model}: {short}")
    return out
