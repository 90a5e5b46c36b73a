"""The report's heatmaps: accuracy by hops (or by depth of the queried chain) x context length, one
panel per answer mode, every cell labelled with its number (colours: see plots.py)."""

from __future__ import annotations

from collections import defaultdict

from hashhop.generator.spec import format_size
from hashhop.report import plots


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def _heat(ax, cmap, grid_cells, rows, cols, row_label):
    """One annotated heatmap: rows x cols of Cell (missing: grey, no scored query: 'n/a')."""
    import numpy as np

    data = np.full((len(rows), len(cols)), np.nan)
    for (r, c), cell in grid_cells.items():
        if cell.accuracy is not None:
            data[rows.index(r), cols.index(c)] = cell.accuracy
    ax.set_facecolor("#e6e6e6")
    image = ax.imshow(data, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (r, c), cell in grid_cells.items():
        i, j = rows.index(r), cols.index(c)
        if cell.accuracy is None:
            ax.text(j, i, f"n/a\n{cell.n} not scored", ha="center", va="center", fontsize=9, color="#333")
            continue
        ax.text(
            j,
            i,
            f"{cell.accuracy:.0%}",
            ha="center",
            va="bottom",
            fontsize=11,
            fontweight="bold",
            color=_text_color(cmap(cell.accuracy)),
        )
        ax.text(j, i, f"n={cell.scored}", ha="center", va="top", fontsize=8, color=_text_color(cmap(cell.accuracy)))
    ax.set_xticks(range(len(cols)), [format_size(c) for c in cols])
    ax.set_yticks(range(len(rows)), [row_label(r) for r in rows])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return image


def _by_mode(cells):
    modes = defaultdict(list)
    for c in cells:
        modes[c.cot].append(c)
    return dict(sorted(modes.items(), key=lambda kv: str(kv[0])))


def heatmap_hops(label: str, cells) -> bytes:
    """Accuracy, hops (rows) x context length (columns), one panel per answer mode."""
    return _heatmap(label, cells, lambda c: c.hops, lambda h: f"{h} hop{'s' * (h != 1)}", 0.55, None)


def heatmap_depth(label: str, cells) -> bytes:
    """Accuracy, depth of the queried chain (rows, top of context first) x context length."""
    return _heatmap(label, cells, lambda c: c.depth, lambda d: f"{d:.0%}", 0.5, "depth of the query chain")


def _heatmap(label: str, cells, row_of, row_name, row_height: float, ylabel: str | None) -> bytes:
    """Rows chosen by `row_of(cell)` x context length, one panel per answer mode."""
    plt, cmap = plots._mpl()
    modes = _by_mode(cells)
    fig, axes = plt.subplots(
        1,
        len(modes),
        figsize=(
            1.0 + 3.2 * len(modes) + 0.5 * len({c.tokens for c in cells}),
            0.9 + row_height * len({row_of(c) for c in cells}),
        ),
        squeeze=False,
    )
    for ax, (cot, group) in zip(axes[0], modes.items()):
        rows, cols = sorted({row_of(c) for c in group}), sorted({c.tokens for c in group})
        image = _heat(ax, cmap, {(row_of(c), c.tokens): c for c in group}, rows, cols, row_name)
        ax.set_title(f"{label}: {plots._mode(cot)}")
        ax.set_xlabel("context length (tokens)")
    if ylabel:
        axes[0][0].set_ylabel(ylabel)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.04, pad=0.02, label="accuracy, strict")
    return plots._png(fig)
