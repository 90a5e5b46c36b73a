"""The Harness section of docs/benchmarks.md, from the rows benchmarks/harness.py measured: the send
rate and end-to-end tables, the per-request overhead, and the targets (at least 3x lm-eval end to end
at concurrency 64, under 1 ms of overhead per request at concurrency 1)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from harness_lmeval import LMEVAL_PACKAGES  # benchmarks/ is on sys.path when run as a script

TARGET_RATIO = 3.0  # hashhop / lm-eval, end to end at concurrency 64
TARGET_OVERHEAD_MS = 1.0  # hashhop minus the raw client, per request at concurrency 1


def _cell(row: dict, name: str, key: str, fmt: str = "{:.0f}") -> str:
    return fmt.format(row[name][key]) if name in row else "-"


def _ratio(row: dict, key: str, mine: str = "hashhop") -> str:
    return f"{row[mine][key] / row['lmeval'][key]:.2f}x" if "lmeval" in row else "-"


def markdown(rows: list[dict], n: int, machine: str, small: int, per_context: int, chars: int, note: str = "") -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        "## Harness",
        "",
        f"`python benchmarks/harness.py --requests {n}`, {date}, {machine}. One instant-answer "
        f"OpenAI-compatible stub in its own process; every harness sends the same {n} chat prompts "
        f"({per_context} queries on each {chars}-character context). Versions: {_versions()}.",
        "",
        *_send_rate(rows),
        "",
        *_end_to_end(rows, small),
        "",
        *_verdicts(rows),
    ]
    if note:
        lines += ["", note.strip()]
    return "\n".join(lines) + "\n"


def _send_rate(rows: list[dict]) -> list[str]:
    lines = [
        "**Send rate**: requests/s counted at the stub from the first request to the last, so everything "
        "a harness does before its first request or after its last is left out. hashhop (dataset) reads "
        "prebuilt samples, as lm-eval reads its task file; hashhop (grid) also generates and sizes each "
        "context on the fly; both run in this process and score and store every answer as it comes. "
        "lm-eval builds all its requests before sending the first and scores after the last.",
        "",
        "| concurrency | raw client | hashhop (dataset) | hashhop (grid) | lm-eval | dataset / lm-eval |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {_cell(r, 'raw', 'req_per_s')} | {_cell(r, 'hashhop', 'req_per_s')} | "
            f"{_cell(r, 'hashhop_grid', 'req_per_s')} | {_cell(r, 'lmeval', 'req_per_s')} | "
            f"{_ratio(r, 'req_per_s')} |"
        )
    return lines


def _end_to_end(rows: list[dict], small: int) -> list[str]:
    lines = [
        "**End to end**, each tool as a user runs it in its own process (`hashhop eval --dataset FILE` "
        f"and lm-eval's `simple_evaluate` on a task file): requests/s = (requests - {small}) / (wall time "
        f"of the full run - wall time of a {small}-request run), so the fixed startup (interpreter, "
        "imports, task setup; the best of two small runs, shown) is taken out and every per-request cost "
        "is kept: reading the task, building requests, sending, scoring and writing results.",
        "",
        "| concurrency | hashhop eval req/s | lm-eval req/s | hashhop / lm-eval | startup s (hashhop, lm-eval) | "
        "wall s (hashhop, lm-eval) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {_cell(r, 'cli', 'e2e_req_per_s')} | {_cell(r, 'lmeval', 'e2e_req_per_s')} | "
            f"{_ratio(r, 'e2e_req_per_s', 'cli')} | {_cell(r, 'cli', 'startup_s', '{:.1f}')}, "
            f"{_cell(r, 'lmeval', 'startup_s', '{:.1f}')} | {_cell(r, 'cli', 'wall_s', '{:.1f}')}, "
            f"{_cell(r, 'lmeval', 'wall_s', '{:.1f}')} |"
        )
    return lines


def _versions() -> str:
    from importlib import metadata

    mine = f"hashhop {metadata.version('hashhop')} (aiohttp {metadata.version('aiohttp')})"
    return f"{mine}; {LMEVAL_PACKAGES[0].replace('[api]==', ' ')} `local-chat-completions` (aiohttp)"


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _verdicts(rows: list[dict]) -> list[str]:
    """Per-request overhead at concurrency 1, and the throughput target end to end at 64."""
    out = []
    one = next((r for r in rows if r["concurrency"] == 1), None)
    if one:
        floor = one["raw"]["interval_ms"]
        names = (("hashhop (dataset)", "hashhop"), ("hashhop (grid)", "hashhop_grid"), ("lm-eval", "lmeval"))
        parts = [f"{name} {one[key]['interval_ms'] - floor:.2f} ms" for name, key in names if key in one]
        overhead = one["hashhop"]["interval_ms"] - floor
        out.append(
            f"Per-request overhead at concurrency 1 (time between requests at the stub minus the raw "
            f"client's {floor:.3f} ms): {', '.join(parts)}. Target under {TARGET_OVERHEAD_MS:g} ms: "
            f"{_met(overhead < TARGET_OVERHEAD_MS)}."
        )
        if "lmeval" in one:
            out.append(
                f"End to end at concurrency 1, each request costs hashhop {1000 / one['cli']['e2e_req_per_s']:.2f} ms "
                f"and lm-eval {1000 / one['lmeval']['e2e_req_per_s']:.2f} ms of wall time."
            )
    top = next((r for r in rows if r["concurrency"] == 64 and "lmeval" in r), None)
    if top:
        send = top["hashhop"]["req_per_s"] / top["lmeval"]["req_per_s"]
        e2e = top["cli"]["e2e_req_per_s"] / top["lmeval"]["e2e_req_per_s"]
        out.append(
            f"Throughput at concurrency 64, target at least {TARGET_RATIO:g}x lm-eval end to end: "
            f"{e2e:.2f}x ({_met(e2e >= TARGET_RATIO)}); send rate {send:.2f}x."
        )
    return out


def write_section(path: str, section: str) -> None:
    """Replace the `## Harness` section of the file (or append it), leaving the others alone."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find("## Harness\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
