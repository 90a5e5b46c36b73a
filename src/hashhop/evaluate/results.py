"""results.json: the one writer of a run folder's summary, for `eval` and `bench` alike.

Owns `RunTally` (what a run counted while it ran: requests, the stop reason, how far rate limits
cut concurrency), `redact` (options as recorded), `check_same_run` (a resumed folder holds the
same model, tokenizer and grid) and `write_results`. Its fields are hashhop's own (config, timing,
cost, metrics, ...) and lm-evaluation-harness's where they overlap (results, n-samples, ...).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from hashhop import __version__
from hashhop.core.errors import StoreError
from hashhop.evaluate.cost import Prices
from hashhop.evaluate.lmeval_fields import lm_eval_results
from hashhop.evaluate.record import now_iso
from hashhop.evaluate.store import RunStore, read_results
from hashhop.evaluate.summary import git_hash, metrics, prefix_cache, provider_cache, token_check, versions
from hashhop.prompt.template import Template

_SECRET = ("key", "token", "secret", "password")


def redact(options: dict) -> dict:
    """Options as recorded: anything that looks like a credential is masked (names of env vars stay)."""
    return {
        k: ("<redacted>" if any(s in k.lower() for s in _SECRET) and not k.endswith("_env") else v)
        for k, v in options.items()
    }


@dataclass
class RunTally:
    """What results.json reports about a run while and after it runs."""

    concurrency: int  # requests allowed in flight
    started: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.monotonic)
    requests: int = 0
    stopped: str | None = None  # why the run stopped early (a budget), None: it did not
    min_concurrency: int | None = None  # the lowest rate limits cut it to; None: never cut
    rate_limit_cuts: int = 0
    prices: Prices | None = None  # the run's prices: the provider cache's saving is priced with them


def check_same_run(run_dir: str, model: str, tokenizer: str, suite: str | None) -> None:
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
            f"--tokenizer {config['tokenizer']} (or restore the server's tokenize endpoint) or choose another -o"
        )
    if results.get("suite") and results["suite"] != suite:
        raise StoreError(f"{run_dir} holds a run of {results['suite']}, not {suite}: choose another -o")


def _timing(tally: RunTally, wall: float, records) -> dict:
    return {
        "started": tally.started,
        "updated": now_iso(),
        "wall_s": round(wall, 3),
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / wall, 3) if wall else None,
        "prefix_cache": prefix_cache(records),
    }


def _cost(records, prices: Prices | None) -> dict:
    out = {
        "usd": round(sum(r.cost_usd or 0.0 for r in records), 6),
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in records),
        "completion_tokens": sum(r.completion_tokens or 0 for r in records),
        # Reasoning tokens are billed as output: they are part of completion_tokens (as OpenAI reports them).
        "reasoning_tokens": sum(r.reasoning_tokens or 0 for r in records),
    }
    cache = provider_cache(records, prices)
    if cache is not None:  # written only when the backend reports caching: earlier results keep their bytes
        out["cache"] = cache
    return out


def _has_niah(store: RunStore) -> bool:
    """Whether the run holds niah samples: their question and system prompt are then recorded too."""
    return any((entry.get("cell") or {}).get("task", "hashhop") != "hashhop" for entry in store.samples.values())


def write_results(store: RunStore, config: dict, template: Template, tally: RunTally, partial: bool) -> None:
    """results.json of a run folder (atomic). `config` is what the run was asked: its `model`,
    `tokenizer` and `suite` (None for an eval) are also read by a resumed run's check."""
    records = store.records
    wall = time.monotonic() - tally.t0
    store.write_results(
        {
            "config": config,
            "suite": config["suite"],
            "versions": versions(),
            "git_hash": git_hash(),
            "tokenizer": config["tokenizer"],
            "template": template.to_dict(niah=_has_niah(store)),
            "timing": _timing(tally, wall, records),
            "concurrency": {
                "max": tally.concurrency,
                "min_reached": tally.concurrency if tally.min_concurrency is None else tally.min_concurrency,
                "rate_limit_cuts": tally.rate_limit_cuts,
            },
            "cost": _cost(records, tally.prices),
            "token_check": token_check(records, store.samples),
            "metrics": metrics(records, {e["sample_id"]: e for e in store.samples.values()}),
            "partial": partial,
            "stopped": tally.stopped,
            # lm-evaluation-harness field names, where they overlap:
            **lm_eval_results(records),
            "model_name": config["model"],
            "hashhop_version": __version__,
            "total_evaluation_time_seconds": str(round(wall, 3)),
        }
    )
