"""One model's run (a `Job`): the grid or dataset it evaluates, how its model is called, what it records.

`hashhop eval` is a one-job run and `hashhop bench` one job per model; the executors (local, Ray)
run Jobs, so both commands share every step after parsing their flags. Owns `Job`, the config it
records in results.json, and the upper cost estimate of one unit (one context of one cell).
"""

from __future__ import annotations

from dataclasses import dataclass

from hashhop.backends import Backend, get_backend, runs_in_process
from hashhop.bench.model_entry import ModelEntry
from hashhop.bench.suites import Grid
from hashhop.evaluate.batch import BatchSettings
from hashhop.evaluate.cost import Prices, batch_prices, load_batch_discount, load_prices
from hashhop.evaluate.results import redact
from hashhop.evaluate.runner import RunConfig, answer_budget
from hashhop.prompt.cell import Cell
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template


@dataclass(frozen=True)
class Job:
    """Run `entry` on every cell of `grid` (or on the samples of `dataset`), into `run_dir`."""

    entry: ModelEntry
    grid: Grid  # with a dataset: only its `queries` and `samples` are unused, the rest is recorded
    tag: str | None  # the suite's tag, recorded as cell.suite and in results.json; None for an eval
    run_dir: str
    template: Template = DEFAULT_TEMPLATE
    progress: bool = False
    tokenizer: str | None = None  # forced from the command line; else the grid's, else the sizing rule
    dataset: str | None = (
        None  # a dataset file (hashhop's, Magic's, {prompt, answer}) evaluated as is, instead of the grid
    )
    skip_invalid: bool = False  # evaluate a dataset's valid samples, counting the invalid ones, instead of refusing it
    on_over_length: str = "record"  # or "stop": the first prompt that does not fit ends the run

    @property
    def local(self) -> bool:
        """A model computed in this machine's process (not a remote API), as its backend declares."""
        return runs_in_process(self.entry.model)

    @property
    def prices(self) -> Prices:
        return entry_prices(self.entry)

    def batch_settings(self) -> BatchSettings:
        return BatchSettings(poll=self.entry.batch_poll)

    def run_config(self) -> RunConfig:
        e = self.entry
        return RunConfig(
            concurrency=e.concurrency,
            timeout=e.timeout,
            retries=e.retries,
            backoff=e.backoff,
            max_tokens=e.max_tokens,
            on_over_length=self.on_over_length,
            max_cost=e.max_cost,
            prices=self.prices,
            template=self.template,
            progress=self.progress,
        )

    def cells(self, tokenizer: str) -> list[Cell]:
        return self.grid.cells(tokenizer, self.tag)

    def recorded_config(self, model_name: str, tokenizer: str, backend_options: dict, executor: str) -> dict:
        """results.json's `config`: what the run was asked. Settings only an eval can change (a dataset,
        a pricing file, --on-over-length stop, --backoff) are written when they are set."""
        e = self.entry
        config = {
            "model": model_name,
            "model_spec": e.model,
            "options": redact({**e.backend_options(), **backend_options}),
            "tokenizer": tokenizer,
            "suite": self.tag,
            "grid": self.grid.to_dict(),
            "executor": executor,
            "concurrency": e.concurrency,
            "timeout": e.timeout,
            "retries": e.retries,
            "max_tokens": e.max_tokens,
            "price_in": e.price_in,
            "price_out": e.price_out,
            "max_cost": e.max_cost,
        }
        extras = {
            "dataset": self.dataset,
            "pricing": e.pricing,
            "on_over_length": None if self.on_over_length == "record" else self.on_over_length,
            "backoff": None if e.backoff == ModelEntry.backoff else e.backoff,
            "batch": e.batch or None,  # written only for batch runs: a synchronous run's config is unchanged
            "batch_discount": load_batch_discount(e.model, e.batch_discount, e.pricing) if e.batch else None,
        }
        return {**config, **{k: v for k, v in extras.items() if v is not None}}


def unit_estimate(job: Job, cell: Cell) -> float:
    """Upper estimate of one unit's cost: every query at the cell's size and its answer budget."""
    budget = answer_budget(cell.hops, cell.cot, cell.hash_len, job.entry.max_tokens)
    return job.grid.queries * job.prices.cost(cell.tokens, budget)


def entry_prices(entry: ModelEntry) -> Prices:
    """What the model's queries are charged: its prices, at the batch discount when it runs in batches."""
    prices = load_prices(entry.model, entry.price_in, entry.price_out, entry.pricing)
    if entry.batch:
        return batch_prices(prices, load_batch_discount(entry.model, entry.batch_discount, entry.pricing))
    return prices


def open_backend(entry: ModelEntry) -> Backend:
    return get_backend(entry.model, **entry.backend_options())
