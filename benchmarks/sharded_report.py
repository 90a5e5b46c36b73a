"""Tables and the log-log figure of benchmarks/sharded.py's --json outputs (docs/benchmarks.md, docs/model.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

FIT_FROM = 10**7  # tokens: the fitted slopes start here


def _rows(paths: list[str]) -> list[dict]:
    return [row for p in paths for row in json.loads(Path(p).read_text())]


def _tokens(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return str(n)


def _gb(b: float) -> str:
    return f"{b / 1e9:.2f}"


def _cells(row: dict) -> str:
    return " · ".join(f"{c['hops']}-hop {c['mode']} {c['correct']}/{c['queries']}" for c in row["cells"])


def table(paths: list[str]) -> str:
    """Markdown: scale rows (time, memory, accuracy) or state rows (bytes per segment, accuracy)."""
    rows = _rows(paths)
    if rows and "ranks" in rows[0]:
        out = [
            "| context (cl100k tokens) | segments | ranks | wall (s) | read context (s) | answer (s) | "
            "peak RSS per rank (GB) | total (GB) | key bytes / segment | exact match |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(rows, key=lambda r: (r["tokens"], r["ranks"])):
            rss = r["peak_rss_bytes"]
            out.append(
                f"| {_tokens(r['tokens'])} | {r['segments']:,} | {r['ranks']} | {r['wall_s']:.0f} | "
                f"{r['read_s']:.0f} | {r['answer_s']:.0f} | {', '.join(_gb(b) for b in rss)} | {_gb(sum(rss))} | "
                f"{r['key_bytes_per_segment']:.1f} | {_cells(r)} |"
            )
        return "\n".join(out)
    out = [
        "| context | decoys | reader | keys | state bytes / segment | seconds | exact match |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        keys = {16: "float16", 8: "int8", 4: "int4"}[r["key_bits"]]
        what = "Reader (ids, keys, text in RAM)" if r["reader"] == "reader" else "ShardedReader (text from file)"
        out.append(
            f"| {_tokens(r['tokens'])} | {r.get('distractors', 0)} | {what} | {keys} | {r['bytes_per_segment']} | {r['seconds']} | {_cells(r)} |"
        )
    return "\n".join(out)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    xs, ys = [math.log(x) for x, _ in points], [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def figure(paths: list[str], output: str) -> None:
    """Wall time and total peak RSS against context length, log-log, one line per rank count."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows = _rows(paths)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ranks in sorted({r["ranks"] for r in rows}):
        mine = sorted((r for r in rows if r["ranks"] == ranks), key=lambda r: r["tokens"])
        for ax, key in zip(axes, ("wall_s", "peak_rss_bytes"), strict=True):
            pts = [(r["tokens"], r[key] if key == "wall_s" else sum(r[key]) / 1e9) for r in mine]
            fit = [p for p in pts if p[0] >= FIT_FROM]  # below it, start-up and the model dominate
            k = f", slope {slope(fit):.2f} from 10M" if len(fit) > 1 else ""
            ax.plot(*zip(*pts, strict=True), "o-", label=f"{ranks} rank{'s' if ranks > 1 else ''}{k}")
    for ax, label in zip(axes, ("wall seconds (read + 64 questions)", "peak RSS, all ranks (GB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("context (cl100k tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Sequence-parallel reading: time and memory against context length")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
