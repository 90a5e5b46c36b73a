"""The cost forecast of `--dry-run`: tokens sent, distinct context tokens (with and without shared
contexts), and what a provider's prompt cache reads and writes, priced with `price_tokens`.

The model of the providers (docs/evaluation.md, "What a run costs"): the first query of a context
pays it in full (Anthropic: writes it to the cache); every later query on the same context reads
the prefix from the cache: Anthropic reads all of it (a `cache_control` breakpoint ends the context
block), OpenAI-compatible servers read it in 128-token blocks once a prompt holds 1,024 tokens.
What follows the context (the question) is never cached; completions are forecast at the expected
answer (the hashes asked for), not the answer budget, so the forecast is an expectation, not a bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashhop.evaluate.cost import Prices, price_tokens
from hashhop.prompt.cell import Cell
from hashhop.prompt.share import group_cells

MIN_CACHED = 1024  # shortest prompt a provider caches (OpenAI; Anthropic's Sonnet-class models)
OPENAI_BLOCK = 128  # OpenAI caches the prefix in steps of this many tokens
QUESTION_TOKENS = 48  # the question and framing after the context: never cached (an estimate)


def cache_style(model: str) -> str | None:
    """How the model's backend caches prompts: `anthropic`, `openai`, or None (no provider cache)."""
    backend = model.partition(":")[0]
    return backend if backend in ("anthropic", "openai") else None


def expected_answer_tokens(hops: int, cot: bool, hash_len: int) -> int:
    """The answer a correct model gives: one hash (skip steps) or `hops` of them joined by ' = '; a
    random hash costs about one token per two symbols."""
    hashes = hops if cot else 1
    return 4 + hashes * (hash_len // 2 + 2)


def cached_prefix(prompt_tokens: int, style: str | None) -> int:
    """Tokens of a repeated prompt the provider reads from its cache."""
    prefix = max(prompt_tokens - QUESTION_TOKENS, 0)
    if style is None or prompt_tokens < MIN_CACHED:
        return 0
    return prefix if style == "anthropic" else prefix // OPENAI_BLOCK * OPENAI_BLOCK


@dataclass(frozen=True)
class Forecast:
    """What a grid sends and costs for one model."""

    queries: int
    sent: int  # prompt tokens sent, all queries
    distinct: int  # context tokens of the distinct contexts
    cached: int  # prompt tokens read from the provider's cache
    written: int  # prompt tokens written to it (Anthropic)
    output: int  # expected completion tokens
    cost_usd: float
    uncached_usd: float  # the same requests at uncached prices

    def line(self) -> str:
        share = self.cached / self.sent if self.sent else 0.0
        return (
            f"{self.queries} queries, {self.sent:,} prompt tokens sent ({self.cached:,} cached, {share:.0%}; "
            f"{self.written:,} written to the cache), {self.distinct:,} distinct context tokens, "
            f"~{self.output:,} completion tokens: forecast ${self.cost_usd:.4f} (${self.uncached_usd:.4f} uncached)"
        )


def forecast(
    cells: list[Cell], samples: int, queries: int, prices: Prices, model: str, share: bool, discount: float = 1.0
) -> Forecast:
    """The forecast of `cells` x `samples` contexts x `queries` for `model`; with `share`, the cells
    that differ only in hops and mode share their contexts. `discount` is a batch API's price factor."""
    style = cache_style(model)
    groups = group_cells(cells) if share else [[cell] for cell in cells]
    rows: list[tuple[int, int, int, int, int, int]] = []  # queries, sent, distinct, cached, written, output
    for group in groups:
        asked = [cell for cell in group for _ in range(queries)]  # one context's queries, warm-up first
        distinct = max(max(c.tokens for c in group) - QUESTION_TOKENS, 0)
        for _ in range(samples):
            rows.append((0, 0, distinct, 0, 0, 0))
            rows.extend(_query(cell, style, first=i == 0) for i, cell in enumerate(asked))
    n, sent, distinct_total, cached, written, output = (sum(column) for column in zip(*rows)) if rows else (0,) * 6
    cost = uncached = 0.0
    for _, tokens, _, read, write, out in rows:
        cost += price_tokens(prices, tokens, read, write, out, discount)
        uncached += price_tokens(prices, tokens, 0, 0, out, discount)
    return Forecast(n, sent, distinct_total, cached, written, output, cost, uncached)


def _query(cell: Cell, style: str | None, first: bool) -> tuple[int, int, int, int, int, int]:
    """One query's row: the first on its context writes the prefix (Anthropic), the later ones read it."""
    prefix = cached_prefix(cell.tokens, style)
    read = 0 if first else prefix
    write = prefix if first and style == "anthropic" else 0
    return (1, cell.tokens, 0, read, write, expected_answer_tokens(cell.hops, cell.cot, cell.hash_len))
