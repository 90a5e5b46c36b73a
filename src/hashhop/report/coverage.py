"""The report's coverage section: per series and cell, how many queries were attempted and scored,
why the others were not (errors, over length, cut off by the token budget), the noise floor (the
`random` backend's expected accuracy on the same contexts, computed from the stored recipes without
calling anything, evaluate/coverage.py), and every score side by side (strict: the headline, exact,
lenient).
"""

from __future__ import annotations

from collections import defaultdict

from hashhop.evaluate.coverage import cell_noise_floor
from hashhop.prompt.cell import Cell as GridCell
from hashhop.report import html
from hashhop.report.tables import effective_rows, mode

COLUMNS = [
    "series",
    "tokens",
    "hops",
    "mode",
    "attempted",
    "scored",
    "errors",
    "over_length",
    "cut_off",
    "coverage",
    "noise_floor",
    "accuracy",
    "accuracy_exact",
    "accuracy_lenient",
]


def _floors(series, samples_by_run: dict) -> dict:
    """(series label, tokens, hops, cot) -> noise floor of that cell's queries."""
    out = {}
    for s, rows in series:
        groups = defaultdict(list)
        for r in rows:
            c = GridCell.from_dict(r.get("cell"))
            groups[(c.tokens, c.hops or None, c.cot)].append(r)
        samples = samples_by_run.get(s.run, {})
        out.update({(s.label, *key): cell_noise_floor(group, samples) for key, group in groups.items()})
    return out


def _num(x, digits: int = 4):
    return None if x is None else round(float(x), digits)


def coverage_rows(series, cells, samples_by_run: dict) -> list[dict]:
    """One row per aggregate cell (tokens x hops x mode) of `cells`."""
    floors = _floors(series, samples_by_run)
    rows = []
    for c in cells:
        cut_off = c.count("cut_off")
        scored = c.scored - cut_off  # a reply the budget ended is not a graded answer
        rows.append(
            {
                "series": c.series,
                "tokens": c.tokens,
                "hops": c.hops,
                "mode": mode(c.cot),
                "attempted": c.n,
                "scored": scored,
                "errors": c.count("error"),
                "over_length": c.count("over_length"),
                "cut_off": cut_off,
                "coverage": _num(scored / c.n) if c.n else None,
                "noise_floor": floors.get((c.series, c.tokens, c.hops, c.cot)),
                "accuracy": _num(c.accuracy),  # strict, the headline
                "accuracy_exact": _num(c.accuracy_of("exact")),
                "accuracy_lenient": _num(c.accuracy_of("lenient")),
            }
        )
    return rows


HEADLINE = "accuracy = strict: the answer, in the requested format, is the first thing in the reply."
NOTE = (
    f"{HEADLINE} Beside it, exact: the parser's reading of the answer wherever the reply marks it (the headline "
    "of reports before strict scoring); lenient: the right hash (chain of thought: the right walk in order) "
    "anywhere in the reply, as MRCR v2's scorer; strict ≤ exact ≤ lenient. Scored: graded replies; errors, "
    "over-length prompts and replies cut off by the token budget are counted apart (coverage = scored / "
    "attempted). Noise floor: the expected accuracy of the random backend on the same contexts (one random hash "
    "of the context per hash asked), computed from the stored recipes. Rows with tokens 0 pool a whole series."
)


def legacy_note(data) -> str:
    """A sentence when some series hold scored records written before the strict score, else ''."""
    old = [f"{t.series} ({t.legacy} of {t.scored})" for t in data.totals if t.legacy]
    if not old:
        return ""
    return (
        f"Records written before the strict score existed count with their exact score: {', '.join(old)}. "
        "Run `hashhop score RUN` to score them strictly."
    )


def coverage_section(data) -> tuple[str, str]:
    """(heading, HTML) of the scores-and-coverage section."""
    effective = effective_rows(data.effective_scores)
    columns = ["series", "hops", "mode", "score", "effective_length", "tested", "stopped_by"]
    return (
        "Scores and coverage",
        f'<p class="note">{html.esc(NOTE)}</p>'
        + html.table(list(data.coverage), COLUMNS)
        + "<details><summary>effective length by the exact and the lenient score</summary>"
        + html.table(effective, columns)
        + "</details>",
    )
