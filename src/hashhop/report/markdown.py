"""report.md and the CSV files: the same tables as the HTML page, in plain text."""

from __future__ import annotations

import csv
import io
import re

from hashhop.report import coverage, invariance, tables


def csv_text(rows: list[dict]) -> str:
    """CSV of rows (the union of their columns, in first-seen order)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"
    # Untrusted text (model names) must not break the table or open an HTML tag in a Markdown renderer.
    text = str(value).replace("|", "\\|").replace("\n", " ").replace("&", "&amp;")
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


def md_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "_(none)_\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# The per-cell table's columns, in order.
CELL_COLUMNS = (
    "series",
    "tokens",
    "hops",
    "mode",
    "n",
    "scored",
    "strict",
    "accuracy",
    "ci95_lo",
    "ci95_hi",
    "accuracy_exact",
    "accuracy_lenient",
    "mean_credit",
)


def _head(data) -> list[str]:
    """The title, partial-run warnings, and the effective-length heading with what accuracy is."""
    opt = data.options
    out = [f"# {opt.title}\n"]
    for run in data.partial_runs:
        out.append(f"> **Partial run `{run.name}`**: {len(run.records)} records so far (no final results.json).\n")
    legacy = coverage.legacy_note(data)
    return [
        *out,
        "## Effective context length\n",
        f"{coverage.HEADLINE} Longest length whose accuracy stays at or above {opt.threshold:.0%} at every tested "
        "length up to it.\n",
        *([f"> {legacy}\n"] if legacy else []),
    ]


def markdown(data) -> str:
    """report.md: headline, per-run summary, every cell, comparisons and published figures."""
    out = _head(data)
    out += [
        md_table(
            tables.effective_rows(data.effective),
            ["series", "hops", "mode", "effective_length", "tested", "stopped_by"],
        ),
        "## Scores and coverage\n",
        coverage.NOTE + "\n",
        md_table(list(data.coverage), coverage.COLUMNS),
        md_table(tables.effective_rows(data.effective_scores), ["series", "hops", "mode", "score", "effective_length"]),
        "## Runs\n",
        md_table(tables.series_rows(data.series, data.totals)),
        "## Accuracy per cell (accuracy = strict, with its 95% Wilson interval; exact and lenient beside it; "
        "errors and over-length queries counted apart)\n",
        md_table(
            tables.cell_rows(data.cells),
            list(CELL_COLUMNS),
        ),
    ]
    if data.niah:
        out += ["## NIAH next to HashHop\n", *[f"- {r.sentence}" for r in data.niah], ""]
        out.append(md_table([row for r in data.niah for row in r.rows]))
    if data.cells:
        out += invariance_markdown(data.invariance)
    if data.differences:
        out += [
            f"## Compared with {data.labels[0]} (beyond_intervals: the 95% intervals do not overlap)\n",
            md_table(tables.compare_rows(data.differences)),
        ]
    if data.anchors:
        out += ["## Published figures (not measured here)\n", md_table(tables.anchor_rows(data.anchors))]
    return "\n".join(out)


def invariance_markdown(checks) -> list[str]:
    """The invariance section: one sentence per model, then accuracy by order and by depth."""
    return [
        "## Invariance to order and position\n",
        "".join(f"- **{_cell(c.series)}**: {c.verdict}.\n" for c in checks),
        md_table(invariance.rows(list(checks))),
    ]


def csv_files(data) -> dict[str, str]:
    """Suffix -> CSV text, one file per aggregate."""
    files = {
        "cells": tables.cell_rows(data.cells),
        "depth": tables.cell_rows(data.depth_cells),
        "effective": tables.effective_rows(data.effective),
        "effective_scores": tables.effective_rows(data.effective_scores),
        "coverage": list(data.coverage),
        "runs": tables.series_rows(data.series, data.totals),
        "compare": tables.compare_rows(data.differences),
        "invariance": invariance.rows(list(data.invariance)),
    }
    return {name: csv_text(rows) for name, rows in files.items() if rows}
