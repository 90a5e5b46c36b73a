"""Costs on the command line: the cache price flags `eval` and `bench` share, and the dry run of
`hashhop bench` with its forecast (evaluate/forecast.py) per model."""

from __future__ import annotations

import argparse
import sys

from hashhop.bench.job import entry_prices
from hashhop.bench.model_entry import ModelEntry
from hashhop.bench.suites import FALLBACK_TOKENIZER
from hashhop.bench.sweep import Sweep
from hashhop.evaluate.cost import estimate
from hashhop.evaluate.forecast import forecast
from hashhop.evaluate.runner import answer_budget
from hashhop.generator.spec import format_size
from hashhop.prompt.cell import Cell


def cache_price_flags(p: argparse.ArgumentParser) -> None:
    """Prices of cached input tokens (USD per million), defaulting to factors of --price-in."""
    p.add_argument(
        "--price-cached",
        type=float,
        metavar="USD",
        help="per million cached input tokens read (default 0.1x --price-in)",
    )
    p.add_argument("--price-cache-read", type=float, metavar="USD", help="the same, Anthropic's name (wins)")
    p.add_argument(
        "--price-cache-write",
        type=float,
        metavar="USD",
        help="per million tokens written to Anthropic's cache (default 1.25x --price-in)",
    )


def forecast_lines(cells: list[Cell], samples: int, queries: int, entry: ModelEntry, share: bool) -> list[str]:
    """The forecast of a grid for one model: contexts with and without sharing, tokens and cost with
    the provider's cache, at batch prices when the model runs in batches (entry_prices)."""
    prices = entry_prices(entry)  # at the batch discount when the model runs in batches
    shared = forecast(cells, samples, queries, prices, entry.model, True)
    apart = forecast(cells, samples, queries, prices, entry.model, False)
    chosen = shared if share else apart
    return [
        f"  contexts: {shared.distinct:,} distinct context tokens with shared contexts, {apart.distinct:,} "
        f"without; {chosen.sent:,} prompt tokens sent either way ({'shared' if share else 'not shared'} in this run)",
        f"  forecast with caching{' and batch prices' if entry.batch else ''}: {chosen.line()}",
        f"  without sharing: ${apart.cost_usd:.4f} with caching, ${apart.uncached_usd:.4f} uncached",
    ]


def _cell_table(cells: list[Cell], per_cell: int, file) -> None:
    print(
        f"{'tokens':>8} {'hops':>4} {'mode':>4} {'depth':>5} {'seed':>4} {'hash':>4} {'alphabet':>8} "
        f"{'queries':>7} {'prompt tokens':>14}",
        file=file,
    )
    for c in cells:
        depth = "-" if c.depth is None else f"{c.depth:g}"
        print(
            f"{format_size(c.tokens):>8} {c.hops:>4} {'cot' if c.cot else 'skip':>4} {depth:>5} "
            f"{c.seed:>4} {c.hash_len:>4} {c.alphabet:>8} {per_cell:>7} {c.tokens * per_cell:>14,}",
            file=file,
        )


def dry_run(sweep: Sweep, tokenizer: str | None, file=None) -> int:
    """Print every cell with its token counts, and the cost estimate and forecast per model. Calls nothing."""
    file = file or sys.stdout
    g = sweep.grid
    unit = tokenizer or g.tokenizer or f"the model's own tokens (or {FALLBACK_TOKENIZER})"
    cells = g.cells(tokenizer or g.tokenizer or "model", sweep.tag)
    print(
        f"dry run of {sweep.tag}, nothing called: {len(cells)} cells x {g.samples} sample(s) x {g.queries} "
        f"queries, sized in {unit}",
        file=file,
    )
    per_cell = g.samples * g.queries
    _cell_table(cells, per_cell, file)
    total = 0.0
    for m in sweep.models:
        est = estimate(
            [(c.tokens, per_cell, answer_budget(c.hops, c.cot, c.hash_len, m.max_tokens)) for c in cells],
            entry_prices(m),
        )
        total += est.cost_usd
        note = f" (key variable {m.missing_key()} is not set)" if m.missing_key() else ""
        if m.max_cost is not None and est.cost_usd > m.max_cost:
            note += f"; over its max_cost ${m.max_cost:.4f}: the run would stop early"
        print(
            f"{m.model}{f' ({m.name})' if m.name else ''}: {est.line()}{' at batch prices' if m.batch else ''}{note}",
            file=file,
        )
        for line in forecast_lines(cells, g.samples, g.queries, m, sweep.share_contexts):
            print(line, file=file)
    if len(sweep.models) > 1:
        print(f"total estimated cost ${total:.4f}", file=file)
    return 0
