"""One model's part of a bench run (a `Job`) and what every executor does the same way with it.

Owns `Job`, opening its backend, choosing the tokenizer its prompts are sized in, the RunConfig,
the check that a resumed run folder holds the same model, and its results.json. Executors differ
only in where queries run; these pieces keep their records identical.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from hashhop.backends import get_backend
from hashhop.bench.suites import FALLBACK_TOKENIZER, Grid
from hashhop.bench.sweep import ModelEntry
from hashhop.core.errors import StoreError
from hashhop.evaluate.cost import Prices, load_prices
from hashhop.evaluate.runner import RunConfig, max_tokens_for
from hashhop.evaluate.store import RunStore, now_iso, read_results
from hashhop.evaluate.summary import git_hash, metrics, prefix_cache, token_check, versions
from hashhop.generate.sample import Query
from hashhop.generate.tokenizers import get_tokenizer
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template

LOCAL_BACKENDS = ("ltm", "hf", "llamacpp")  # compute in-process: one process (or GPU actor) each
_SECRET = ("key", "token", "secret", "password")


@dataclass(frozen=True)
class Job:
    """Run `entry` on every cell of `grid`, into the run folder `run_dir`."""

    entry: ModelEntry
    grid: Grid
    tag: str  # recorded as cell["suite"] and in results.json
    run_dir: str
    template: Template = DEFAULT_TEMPLATE
    progress: bool = False
    tokenizer: str | None = None  # forced from the command line; else the grid's, else the rule below

    @property
    def local(self) -> bool:
        """A model computed in this machine's process (not a remote API)."""
        return self.entry.model.partition(":")[0] in LOCAL_BACKENDS

    @property
    def prices(self) -> Prices:
        return load_prices(self.entry.model, self.entry.price_in, self.entry.price_out)

    def run_config(self) -> RunConfig:
        e = self.entry
        return RunConfig(
            concurrency=e.concurrency,
            timeout=e.timeout,
            retries=e.retries,
            max_tokens=e.max_tokens,
            max_cost=e.max_cost,
            prices=self.prices,
            template=self.template,
            progress=self.progress,
        )


def max_completion(cell: dict, entry: ModelEntry) -> int:
    """The completion budget of one query of `cell` (what the runner asks for)."""
    q = Query(0, ("a",) * (cell["hops"] + 1), 0, cell["hops"], cell["cot"])
    return max_tokens_for(q, cell["hash_len"], entry.max_tokens)


def unit_estimate(job: Job, cell: dict) -> float:
    """Upper estimate of one unit's cost: every query at the cell's size and its completion budget."""
    return job.grid.queries * job.prices.cost(cell["tokens"], max_completion(cell, job.entry))


def open_backend(entry: ModelEntry):
    return get_backend(entry.model, **entry.backend_options())


def is_chat(backend) -> bool:
    """Whether the backend sends chat messages (their contents are what its tokenizer sees)."""
    return getattr(backend, "api", None) == "chat" or getattr(backend, "chat", None) is True


def sizing(job: Job, backend):
    """(tokenizer name, hashhop tokenizer or None, model counter or None, chat overhead).

    A forced tokenizer wins; else the model's own tokens when it can count them (harness lesson:
    size prompts in the tokens of the model under test); else the suite's fallback tokenizer.
    """
    forced = job.tokenizer or job.grid.tokenizer
    if forced:
        return forced, get_tokenizer(forced), None, 0
    if backend.count_tokens("a = b") is not None:
        return (f"model:{backend.name}", None, backend.count_tokens, int(getattr(backend, "chat_overhead", 0) or 0))
    return FALLBACK_TOKENIZER, get_tokenizer(FALLBACK_TOKENIZER), None, 0


def check_same_run(run_dir: str, model: str, tokenizer: str, tag: str) -> None:
    """A resumed run folder must hold the same model, sized in the same tokens, on the same grid."""
    if not os.path.exists(os.path.join(run_dir, "results.json")):
        return
    results = read_results(run_dir)
    config = results.get("config", {})
    if config.get("model") and config["model"] != model:
        raise StoreError(f"{run_dir} holds a run of {config['model']}, not {model}: choose another -o")
    if config.get("tokenizer") and config["tokenizer"] != tokenizer:
        raise StoreError(
            f"{run_dir} sized prompts in {config['tokenizer']}, this run in {tokenizer}: pass "
            f"--tokenizer {config['tokenizer']} or choose another -o"
        )
    if results.get("suite") and results["suite"] != tag:
        raise StoreError(f"{run_dir} holds a run of {results['suite']}, not {tag}: choose another -o")


def _redact(options: dict) -> dict:
    """Options as recorded: anything that looks like a credential is dropped (names of env vars stay)."""
    return {
        k: ("<redacted>" if any(s in k.lower() for s in _SECRET) and not k.endswith("_env") else v)
        for k, v in options.items()
    }


@dataclass
class Progress:
    """What results.json reports about a job while and after it runs."""

    started: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.monotonic)
    requests: int = 0
    stopped: str | None = None


def write_results(
    store: RunStore, job: Job, model_name: str, tokenizer: str, progress: Progress, partial: bool, executor: str
) -> None:
    """results.json of one job's run folder (atomic), lm-eval-like, with the suite tag and grid."""
    records = store.records
    wall = time.monotonic() - progress.t0
    e = job.entry
    config = {
        "model": model_name,
        "model_spec": e.model,
        "options": _redact(e.backend_options()),
        "tokenizer": tokenizer,
        "suite": job.tag,
        "grid": job.grid.to_dict(),
        "executor": executor,
        "concurrency": e.concurrency,
        "timeout": e.timeout,
        "retries": e.retries,
        "max_tokens": e.max_tokens,
        "price_in": e.price_in,
        "price_out": e.price_out,
        "max_cost": e.max_cost,
    }
    store.write_results(
        {
            "config": config,
            "suite": job.tag,
            "versions": versions(),
            "git_hash": git_hash(),
            "tokenizer": tokenizer,
            "template": job.template.to_dict(),
            "timing": {
                "started": progress.started,
                "updated": now_iso(),
                "wall_s": round(wall, 3),
                "requests": progress.requests,
                "requests_per_s": round(progress.requests / wall, 3) if wall else None,
                "prefix_cache": prefix_cache(records),
            },
            "cost": {
                "usd": round(sum(r.cost_usd or 0.0 for r in records), 6),
                "prompt_tokens": sum(r.prompt_tokens or 0 for r in records),
                "completion_tokens": sum(r.completion_tokens or 0 for r in records),
            },
            "token_check": token_check(records, store.samples),
            "metrics": metrics(records),
            "partial": partial,
            "stopped": progress.stopped,
        }
    )
