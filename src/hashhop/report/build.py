"""`hashhop report`: runs in; one self-contained HTML page, report.md and CSVs out (atomic writes)."""

from __future__ import annotations

from pathlib import Path

from hashhop.core.errors import OutputError
from hashhop.core.files import write_atomic
from hashhop.report import cost_curve, coverage, html, invariance, tables
from hashhop.report.aggregate import KINDS
from hashhop.report.chainview import diagrams_html
from hashhop.report.collect import ReportOptions, collect
from hashhop.report.coverage import coverage_section
from hashhop.report.markdown import csv_files, markdown

KIND_COLUMNS = ["series", "tokens", "n"] + [f"n_{k}" for k in KINDS]
USAGE_COLUMNS = [
    "series",
    "tokens",
    "hops",
    "mode",
    "n",
    "mean_context_tokens",
    "mean_prompt_tokens",
    "mean_completion_tokens",
    "mean_latency_s",
    "p95_latency_s",
    "cost_usd",
]


def _heatmaps(data) -> str:
    from hashhop.report import heatmaps

    out = []
    for label in data.labels:
        group = [c for c in data.cells if c.series == label]
        out.append(
            html.figure(
                heatmaps.heatmap_hops(label, group),
                f"Accuracy of {label} at each context length (columns, {html.lengths_text(group)} tokens) "
                f"and hop count (rows), one panel per answer mode (chain of thought: every hash on the "
                f"way; skip steps: only the last). Each cell: share of scored queries answered exactly, "
                f"and their number n. Grey: not run; n/a: no scored query (over length or errors).",
            )
        )
    return "".join(out)


def _depth_maps(data) -> str:
    from hashhop.report import heatmaps

    out = []
    for label in data.labels:
        group = [c for c in data.depth_cells if c.series == label]
        out.append(
            html.figure(
                heatmaps.heatmap_depth(label, group),
                f"Accuracy of {label} by depth of the queried chain (rows: where its links sit, 0% = top "
                f"of the context; requested depths, or fifths of the context when none was requested) "
                f"and context length (columns), all hop counts pooled.",
            )
        )
    return "".join(out)


def _curves_figure(data, plots) -> str:
    anchors_note = " Grey hollow markers are published figures, not measured here." if data.anchors else ""
    return html.figure(
        plots.curves(data.cells, data.labels, data.anchors),
        "Accuracy against context length (log scale), one panel per hop count; solid: skip steps, dashed: chain "
        "of thought; the shaded band is the 95% Wilson interval." + anchors_note,
    )


def _failures_figure(data, plots) -> str:
    return html.figure(
        plots.failures(data.length_cells, data.labels),
        "Share of all queries at each context length that failed, split by failure kind (all hop counts and "
        "modes pooled); the gap above a bar is the share answered correctly.",
    ) + html.table(tables.cell_rows(data.length_cells), KIND_COLUMNS)


def _usage_figure(data, plots) -> str:
    return (
        html.figure(
            plots.usage(data.length_cells, data.labels),
            "Per context length: mean latency per query, mean completion tokens, and total cost (USD; 0 for local "
            "models), all hop counts and modes pooled; the table gives every cell.",
        )
        + "<details><summary>tokens, latency and cost of every cell</summary>"
        + html.table(tables.cell_rows(data.cells), USAGE_COLUMNS)
        + "</details>"
    )


def _cost_curve(data) -> str:
    return html.figure(
        cost_curve.figure(data.length_cells, data.labels),
        "Seconds and peak memory per query against context length (memory where the model measures it: "
        "in-process models), both axes logarithmic: a slope of 1 is linear cost, 2 is quadratic (dense "
        f"attention). Exponents are fitted from {cost_curve.FIT_FROM:,} tokens up; with shared contexts the first "
        "query of a context pays for reading it, and memory is the largest any query of a length added.",
    ) + html.table(cost_curve.cost_rows(data.length_cells, data.labels))


def _anchors_figure(data, plots) -> str:
    return html.figure(
        plots.anchors_figure(data.cells, data.labels, data.anchors),
        "Published HashHop results (grey, hollow, dotted; from other papers and repositories, NOT measured by this "
        "report) beside this report's runs. Tasks and units differ: several count characters, not tokens.",
    ) + html.table(tables.anchor_rows(data.anchors))


def _figure_sections(data, plots) -> list[tuple[str, str]]:
    out = [
        ("Accuracy vs context length", _curves_figure(data, plots)),
        ("Accuracy by context length and hops", _heatmaps(data)),
        ("Accuracy by depth of the query chain", _depth_maps(data)),
        ("Why answers failed", _failures_figure(data, plots)),
        (
            "Failed queries, hop by hop",
            '<p class="note">The true chain from the start hash; ✗ marks the hop where '
            "the answer left it. The strip is the whole context (top of the prompt on the left): green ticks are the "
            "chain's links, red is where the model's hash sits.</p>" + diagrams_html(data.diagrams),
        ),
        ("Cost, tokens and latency", _usage_figure(data, plots)),
    ]
    if cost_curve.has_curve(data.length_cells, data.labels):
        out.append(("Cost per query against context length", _cost_curve(data)))
    if data.anchors:
        out.append(("Published figures (not measured here)", _anchors_figure(data, plots)))
    return out


def _headline(data) -> tuple[str, str]:
    threshold = data.options.threshold
    legacy = coverage.legacy_note(data)
    return (
        f"Effective context length (accuracy ≥ {threshold:.0%})",
        html.headline(data) + f'<p class="note">{html.esc(coverage.HEADLINE)} The longest context length whose '
        f"accuracy stays at or above {threshold:.0%} at every tested length up to it (RULER's definition); “≥” means "
        f"it passed at every length tested, “&lt;” that it failed at the shortest. Hover a cell for what stopped "
        f"it.</p>" + (f'<p class="note">{html.esc(legacy)}</p>' if legacy else ""),
    )


def _body(data, figures: bool) -> list[tuple[str, str]]:
    """The measured sections: figures (when drawn) or the failed chains alone, or a note that nothing is yet."""
    if not data.cells and data.niah:
        return []  # niah runs only: their section says it all
    if not data.cells:
        note = '<p class="note">The runs hold no finished query yet: run the report again once some are recorded.</p>'
        return [("No records yet", note)]
    if figures:
        from hashhop.report import plots

        return _figure_sections(data, plots)
    return [("Failed queries, hop by hop", diagrams_html(data.diagrams))]


def _invariance(data) -> tuple[str, str]:
    """Accuracy by link order and by depth, and one sentence per model on whether either matters."""
    verdicts = "".join(f"<p><b>{html.esc(c.series)}</b>: {html.esc(c.verdict)}.</p>" for c in data.invariance)
    note = (
        '<p class="note">HashHop shuffles the pairs so that neither the order of a chain\'s links nor their '
        "position tells a model where the next link is. Each level pools every scored query at that link order "
        "(two hops or more: one link has no order) or depth (requested, else fifths of the context), with its 95% "
        "Wilson interval; spread: best minus worst level; p: chi-square test that every level has one accuracy. "
        f"A dependence is called at p &lt; {invariance.ALPHA:g}.</p>"
    )
    return "Invariance to order and position", verdicts + html.table(invariance.rows(list(data.invariance))) + note


def _comparison(data) -> tuple[str, str]:
    return (
        f"Compared with {data.labels[0]}",
        '<p class="note">Highlighted rows: the two 95% intervals do not '
        "overlap (a difference beyond the noise of the sample sizes).</p>"
        + html.table(
            tables.compare_rows(data.differences), row_class=lambda r: "beyond" if r["beyond_intervals"] else ""
        ),
    )


def _cache_notes(data) -> str:
    """One line per run whose provider reported prompt caching: the cached share of its input tokens and
    the money saved against uncached prices (results.json `cost.cache`)."""
    lines = []
    for run in data.runs:
        cost = (run.results or {}).get("cost") or {}
        cache = cost.get("cache")
        if not cache or cache.get("cached_share") is None:
            continue
        saved = f", ${cache['saved_usd']:.4f} saved against uncached prices" if "saved_usd" in cache else ""
        lines.append(
            f"<p><b>{html.esc(run.name)}</b>: {cache['cached_share']:.0%} of input tokens read from the provider's "
            f"prompt cache{saved} (${cost.get('usd', 0.0):.4f} billed).</p>"
        )
    return "".join(lines)


def _appendix(data) -> list[tuple[str, str]]:
    """How each run was made (with its prompt-cache saving), and every cell's numbers."""
    runs = _cache_notes(data) + "".join(
        f"<details><summary>{html.esc(run.name)}{' (partial)' if run.partial else ''}</summary>"
        f"{html.table(tables.run_details(run, data.options.show_paths))}</details>"
        for run in data.runs
    )
    cells = (
        "<details><summary>accuracy, intervals, credit and counts of every cell</summary>"
        + html.table(tables.cell_rows(data.cells))
        + "</details>"
    )
    return [("How the runs were made", runs), ("Every cell", cells)]


def _niah(data) -> tuple[str, str]:
    """NIAH next to HashHop: each model's reading, its accuracy per length and task, its niah failures."""
    threshold = data.options.threshold
    lines = "".join(f"<li>{html.esc(r.sentence)}</li>" for r in data.niah)
    rows = [row for r in data.niah for row in r.rows]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    kinds = [row for r in data.niah for row in r.kinds]
    return (
        "NIAH next to HashHop",
        f"<ul>{lines}</ul>"
        + f'<p class="note">Effective lengths (accuracy ≥ {threshold:.0%} at every tested length up to it) of '
        "the needle-in-a-haystack tasks (one lookup of a sentence with a semantic cue) and of HashHop (random "
        "hashes, k hops) in the same harness and the same tokens. Accuracy per length and task:</p>"
        + html.table(rows, columns)
        + '<p class="note">Why NIAH answers failed (distractor: another needle\'s value; partial: a garbled '
        "copy of the value; hallucinated: a number nowhere in the haystack; no answer: no number):</p>"
        + html.table(kinds),
    )


def sections(data, figures: bool = True) -> list[tuple[str, str]]:
    """(heading, HTML) of every section, figures drawn when `figures`."""
    out = [_headline(data), coverage_section(data), *_body(data, figures)]
    if data.niah:
        out.insert(1, _niah(data))
    if data.cells:
        out.append(_invariance(data))
    if len(data.labels) > 1:
        out.append(_comparison(data))
    return out + _appendix(data)


def _write_atomic(path: Path, text: str) -> None:
    """Replace one report file whole (not fsync'd: a report is redrawn from the runs at will)."""
    try:
        write_atomic(str(path), text, sync=False)
    except OSError as exc:
        raise OutputError(f"cannot write {path.name}: {exc.strerror}: choose another -o path") from exc


def write_report(run_paths, out: str | Path, options: ReportOptions | None = None, figures: bool = True) -> list[Path]:
    """Write OUT (HTML), OUT's stem + .md, and one CSV per aggregate; returns the paths written."""
    out = Path(out)
    if not out.parent.is_dir():
        raise OutputError(f"folder {out.parent} does not exist: create it or choose another -o path")
    data = collect(run_paths, options or ReportOptions())
    page = html.page(data, sections(data, figures))  # drawn before anything is written: all or nothing
    files = {out: page, out.with_suffix(".md"): markdown(data)}
    for name, text in csv_files(data).items():
        files[out.with_name(f"{out.stem}.{name}.csv")] = text
    for path, text in files.items():
        _write_atomic(path, text)
    return list(files)
