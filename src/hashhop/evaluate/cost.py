"""Prices and cost: USD per million prompt/completion tokens, from options or a pricing file.

A pricing file (TOML or JSON) maps model names to prices:
    ["openai:gpt-4o-mini"]            {"openai:gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    input = 0.15
    output = 0.6
The dry-run estimate counts the grid's prompt tokens (requested sizes are token-exact) and an
upper bound on completion tokens, without calling anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hashhop.core.errors import PricingError


@dataclass(frozen=True)
class Prices:
    """USD per million tokens; zero means free (a local model)."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float:
        return ((prompt_tokens or 0) * self.input + (completion_tokens or 0) * self.output) / 1e6

    @property
    def free(self) -> bool:
        return self.input == 0 and self.output == 0


def _read_table(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise PricingError(f"cannot read pricing file {path!r}: {exc.strerror}") from exc
    try:
        if path.endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise PricingError("TOML pricing files need Python 3.11+: use a JSON pricing file") from None
            return tomllib.loads(raw.decode())
        return json.loads(raw)
    except ValueError as exc:
        raise PricingError(
            f"pricing file {path!r} is not valid {'TOML' if path.endswith('.toml') else 'JSON'}: {exc}"
        ) from exc


def load_prices(
    model: str, price_in: float | None = None, price_out: float | None = None, pricing_file: str | None = None
) -> Prices:
    """Prices for `model`: explicit options win over the pricing file; missing means 0."""
    base = Prices()
    if pricing_file:
        table = _read_table(pricing_file)
        entry = table.get(model) or table.get(model.partition(":")[2])
        if entry is None:
            raise PricingError(f'no price for {model!r} in {pricing_file}: add ["{model}"] input=..., output=...')
        base = Prices(float(entry.get("input", 0.0)), float(entry.get("output", 0.0)))
    return Prices(
        base.input if price_in is None else float(price_in), base.output if price_out is None else float(price_out)
    )


def check_budget(max_cost: float | None, prices: Prices, model: str) -> None:
    """A --max-cost that could not work is bad input: negative, or set for a model with no prices
    (every query would cost $0, so the budget would never stop anything)."""
    if max_cost is None:
        return
    if max_cost < 0:
        raise PricingError("--max-cost must be 0 or more (USD)")
    if prices.free:
        raise PricingError(
            f"--max-cost needs prices for {model}: pass --price-in/--price-out or --pricing FILE "
            f"(without them every query costs $0)"
        )


@dataclass
class Budget:
    """--max-cost while a run goes: what was spent (earlier runs of the folder included) and what the
    requests in flight may still spend, reserved at their estimates. Something is sent only when
    both, plus its own estimate, stay within the limit; a limit of None never stops anything."""

    limit: float | None
    spent: float = 0.0
    reserved: float = 0.0

    @classmethod
    def of_records(cls, limit: float | None, records) -> Budget:
        """A budget that counts what these stored records cost."""
        return cls(limit, spent=sum(r.cost_usd or 0.0 for r in records))

    def take(self, estimate: float) -> bool:
        """Reserve `estimate`, unless that could cross the limit."""
        if self.limit is not None and self.spent + self.reserved + estimate > self.limit:
            return False
        self.reserved += estimate
        return True

    def release(self, estimate: float) -> None:
        self.reserved -= estimate

    def charge(self, cost: float) -> None:
        self.spent += cost

    def stop_reason(self, what: str) -> str:
        return f"max_cost: the next {what} could cross ${self.limit:.4f} (${self.spent:.4f} spent in this run folder)"


@dataclass(frozen=True)
class Estimate:
    queries: int
    prompt_tokens: int
    completion_tokens: int  # upper bound: max_tokens per query
    cost_usd: float

    def line(self) -> str:
        return (
            f"{self.queries} queries, {self.prompt_tokens:,} prompt tokens, up to {self.completion_tokens:,} "
            f"completion tokens, estimated cost ${self.cost_usd:.4f}"
        )


def estimate(cells: list[tuple[int, int, int]], prices: Prices) -> Estimate:
    """Estimate a grid: cells are (prompt tokens per query, queries, max completion tokens per query)."""
    queries = sum(q for _, q, _ in cells)
    prompt = sum(t * q for t, q, _ in cells)
    completion = sum(m * q for _, q, m in cells)
    return Estimate(queries, prompt, completion, prices.cost(prompt, completion))


# -- batch prices ------------------------------------------------------------------------------
BATCH_DISCOUNT = 0.5  # the OpenAI Batch API and Anthropic Message Batches both charge half


def batch_prices(prices: Prices, discount: float) -> Prices:
    """What a batch run is charged: the synchronous prices times `discount`. The one place batch pricing
    is applied (records, --max-cost, forecasts and dry runs all read the prices it returns)."""
    return Prices(prices.input * discount, prices.output * discount)


def load_batch_discount(model: str, given: float | None, pricing_file: str | None = None) -> float:
    """The batch discount of `model`: `given` (--batch-discount, a sweep's batch_discount), else the
    pricing file's `batch_discount` for the model, else BATCH_DISCOUNT."""
    discount = given
    if discount is None and pricing_file:
        table = _read_table(pricing_file)
        entry = table.get(model) or table.get(model.partition(":")[2]) or {}
        discount = entry.get("batch_discount")
    discount = BATCH_DISCOUNT if discount is None else float(discount)
    if not 0 < discount <= 1:
        raise PricingError(f"batch discount {discount:g} of {model} is not in (0, 1]: e.g. --batch-discount 0.5")
    return discount
