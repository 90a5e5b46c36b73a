"""The report's figures, drawn with matplotlib (the `report` extra) into PNG bytes for inlining.

Colours: accuracy uses a red-to-green map whose ends differ in lightness and blue content (dark red
vs a lighter blue-green; plain red/green maps like RdYlGn collapse for deuteranopes), so it stays
readable with red-green colour blindness; every heatmap cell is also labelled with its number. Series and failure kinds use the Okabe-Ito palette.
"""

from __future__ import annotations

import io

from hashhop.core.errors import require
from hashhop.generator.spec import format_size
from hashhop.report.aggregate import FAILURES, KIND_LABELS

ACCURACY_COLORS = ("#67001f", "#b2182b", "#e8804f", "#f7e3a1", "#b4dfcf", "#5cbba7", "#1b9e8a")
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
KIND_COLORS = dict(
    zip(FAILURES, ("#E69F00", "#56B4E9", "#CC79A7", "#D55E00", "#F0E442", "#999999", "#6A3D9A", "#0072B2", "#000000"))
)
DPI = 110


def _mpl():
    """matplotlib with the file-only backend (no display needed), or the install hint."""
    matplotlib = require("matplotlib", "report")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    # text.parse_math off: a model name like "m$x^$" must print as is, not break mathtext
    plt.rcParams.update(
        {
            "text.parse_math": False,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "hashhop",
            "figure.dpi": DPI,
        }
    )
    return plt, LinearSegmentedColormap.from_list("hashhop_accuracy", ACCURACY_COLORS)


def accuracy_cmap():
    return _mpl()[1]


def _png(fig) -> bytes:
    plt = _mpl()[0]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _mode(cot) -> str:
    return {True: "chain of thought", False: "skip steps"}.get(cot, "all modes")


def _log_x(ax, lengths):
    """Log axis labelled at the measured lengths, or at powers of ten when those would crowd."""
    import math

    ax.set_xscale("log")
    ticks = sorted(set(lengths))
    if len(ticks) > 6 or (len(ticks) > 1 and max(b / a for a, b in zip(ticks, ticks[1:])) > 30):
        lo, hi = math.floor(math.log10(ticks[0])), math.ceil(math.log10(ticks[-1]))
        ticks = [10**e for e in range(lo, hi + 1)]
    ax.set_xticks(ticks, [format_size(int(t)) for t in ticks])
    ax.minorticks_off()


def curves(cells, labels, anchors=()) -> bytes:
    """Accuracy vs context length with 95% bands, one panel per hop count, every series on it."""
    plt, _ = _mpl()
    hops = sorted({c.hops for c in cells})
    fig, axes = plt.subplots(1, len(hops), figsize=(max(7.5, 0.6 + 4.4 * len(hops)), 3.6), squeeze=False, sharey=True)
    for ax, h in zip(axes[0], hops):
        for i, label in enumerate(labels):
            for cot in (False, True):
                pts = sorted(
                    (c for c in cells if c.series == label and c.hops == h and c.cot == cot and c.accuracy is not None),
                    key=lambda c: c.tokens,
                )
                if pts:
                    _accuracy_line(ax, pts, OKABE_ITO[i % len(OKABE_ITO)], cot, _wrap(f"{label}, {_mode(cot)}"))
        _anchor_points(ax, [a for a in anchors if a.hops == h])
        _log_x(
            ax, [c.tokens for c in cells if c.hops == h] + [p.context for a in anchors if a.hops == h for p in a.points]
        )
        ax.set_title(f"{h} hop{'s' * (h != 1)}")
        ax.set_xlabel("context length (log scale)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy, strict (95% band)")
    _shared_legend(fig, axes[0])
    return _png(fig)


def _accuracy_line(ax, pts, color: str, cot: bool, label: str) -> None:
    """One series' accuracy against length with its 95% band: solid skip steps, dashed chain of thought."""
    x = [c.tokens for c in pts]
    ax.fill_between(x, [c.interval[0] for c in pts], [c.interval[1] for c in pts], color=color, alpha=0.15, lw=0)
    style, marker = ("--", "s") if cot else ("-", "o")
    ax.plot(
        x,
        [c.accuracy for c in pts],
        style,
        marker=marker,
        ms=5 if cot else 4,
        mfc="white" if cot else color,
        color=color,
        label=label,
    )


def _shared_legend(fig, axes) -> None:
    """One legend under the panels with every series any panel drew, in first-seen order."""
    handles, names = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for hd, nm in zip(*ax.get_legend_handles_labels()):
            if nm not in names:
                handles.append(hd), names.append(nm)
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False, fontsize=9)


def _wrap(text: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _anchor_points(ax, anchors):
    """Published points: grey, hollow, dashed, labelled 'published' (never mistaken for ours)."""
    markers = "s^Dv*P"
    for i, a in enumerate(anchors):
        pts = sorted(a.points, key=lambda p: p.context)
        if not pts:
            continue
        xs, ys = [p.context for p in pts], [p.accuracy for p in pts]
        xerr = [[p.context - p.context_lo for p in pts], [p.context_hi - p.context for p in pts]]
        yerr = [[p.accuracy - p.accuracy_lo for p in pts], [p.accuracy_hi - p.accuracy for p in pts]]
        ax.errorbar(
            xs,
            ys,
            xerr=xerr,
            yerr=yerr,
            fmt=":" + markers[i % len(markers)],
            color="#555555",
            mfc="white",
            ms=6,
            capsize=2,
            lw=1.2,
            label=_wrap(f"published, not measured here: {a.short_label}"),
        )


def anchors_figure(cells, labels, anchors) -> bytes:
    """Every published curve with numbers, beside this report's series (all hops, per mode)."""
    plt, _ = _mpl()
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    for i, label in enumerate(labels):
        for h, cot in sorted({(c.hops, c.cot) for c in cells if c.series == label}, key=str):
            pts = sorted(
                (c for c in cells if c.series == label and c.hops == h and c.cot == cot and c.accuracy is not None),
                key=lambda c: c.tokens,
            )
            if pts:
                ax.plot(
                    [c.tokens for c in pts],
                    [c.accuracy for c in pts],
                    "-" if not cot else "--",
                    marker="o",
                    ms=3,
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    label=_wrap(f"{label}, {h} hop{'s' * (h != 1)}, {_mode(cot)} (this report)"),
                )
    _anchor_points(ax, anchors)
    lengths = [c.tokens for c in cells] + [p.context for a in anchors for p in a.points]
    _log_x(ax, lengths)  # explicit labels: the default ones need mathtext, which is off
    ax.set_xlim(min(lengths) / 1.5, max(lengths) * 1.5)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.set_xlabel("context length (log scale; published units vary: see the table)")
    ax.set_ylabel("accuracy, strict")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return _png(fig)


def failures(cells, labels) -> bytes:
    """Share of queries per failure kind, stacked per context length, one panel per series."""
    plt, _ = _mpl()
    fig, axes = plt.subplots(1, len(labels), figsize=(0.8 + 3.6 * len(labels), 3.2), squeeze=False, sharey=True)
    for ax, label in zip(axes[0], labels):
        group = sorted((c for c in cells if c.series == label), key=lambda c: c.tokens)
        x = list(range(len(group)))
        bottom = [0.0] * len(group)
        for kind in FAILURES:
            share = [c.count(kind) / c.n if c.n else 0.0 for c in group]
            ax.bar(
                x,
                share,
                bottom=bottom,
                color=KIND_COLORS[kind],
                label=KIND_LABELS[kind],
                width=0.7,
                edgecolor="white",
                lw=0.5,
            )
            bottom = [b + s for b, s in zip(bottom, share)]
        ax.set_xticks(x, [format_size(c.tokens) for c in group])
        ax.set_title(label)
        ax.set_xlabel("context length (tokens)")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("share of queries that failed")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False, fontsize=9)
    return _png(fig)


def usage(cells, labels) -> bytes:
    """Mean latency, completion tokens and total cost per context length, per series."""
    plt, _ = _mpl()
    panels = [
        ("latency_s", "mean latency (s)"),
        ("completion_tokens", "mean completion tokens"),
        ("cost_usd", "cost (USD, total)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.0), squeeze=False)
    for ax, (field, title) in zip(axes[0], panels):
        for i, label in enumerate(labels):
            pts = sorted(
                (c for c in cells if c.series == label and getattr(c, field) is not None), key=lambda c: c.tokens
            )
            if pts:
                ax.plot(
                    [c.tokens for c in pts],
                    [getattr(c, field) for c in pts],
                    marker="o",
                    ms=4,
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    label=label,
                )
        _log_x(ax, [c.tokens for c in cells])
        ax.set_title(title)
        ax.set_xlabel("context length (tokens)")
        ax.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(3, max(1, len(names))),
        frameon=False,
        fontsize=9,
    )
    return _png(fig)
