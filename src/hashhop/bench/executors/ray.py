"""The Ray executor: a job's units (one context of one cell) run on Ray actors; the driver writes.

Each actor holds one backend (one actor per GPU for local models, else one per worker CPU) and
returns a unit's sample recipe and records to the driver, which alone appends them to the run
store: the store stays single-writer under its lock, and a unit is recorded whole or not at all.
A lost worker is restarted by Ray and its unit retried; a killed driver loses only the units in
flight, which the same command asks again (finished units are skipped, as in the local executor).
Records equal the local executor's except for timing fields (time, latency_s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import sys
from collections import deque
from typing import Any

from hashhop.bench.job import Job, open_backend, unit_estimate
from hashhop.bench.prompt_sizing import prompt_sizing
from hashhop.core.errors import HashhopError, require
from hashhop.core.progress import EvalProgress
from hashhop.evaluate.cost import Budget
from hashhop.evaluate.results import RunTally, check_same_run, write_results
from hashhop.evaluate.runner import AdaptiveLimiter, Runner
from hashhop.evaluate.store import Record, RunStore
from hashhop.generator.external import AnySample
from hashhop.generator.sample import Sample
from hashhop.prompt.cell import Cell

NAME = "ray"
RESTARTS = 3  # a lost worker is restarted, and its unit retried, this many times
# One context of one cell still to run: (cell, index, its stored sample entry, its recorded query keys).
Unit = tuple[Cell, int, dict[str, Any] | None, list[tuple[str, int]]]


class _UnitStore:
    """The run store as a unit sees it (the Planner's SampleStore, the Runner's RecordStore): this unit's
    sample only."""

    def __init__(self, key: tuple[str, int], entry: dict[str, Any] | None, done: list[tuple[str, int]]):
        self.samples: dict[tuple[str, int], dict[str, Any]] = {key: entry} if entry else {}
        self.done = {(sample_id, index) for sample_id, index in done}  # tuples again: Ray may pass lists
        self.entry = entry
        self.records: list[Record] = []

    def add_sample(
        self, cell: Cell, index: int, sample: AnySample, n_tokens: int, prompt_tokens: int | None = None
    ) -> dict[str, Any]:
        # The same fields as RunStore.add_sample: the driver re-adds it there.
        self.entry = {
            "cell_key": cell.key,
            "cell": cell.as_dict,
            "index": index,
            "sample_id": sample.id,
            "n_tokens": n_tokens,
            "prompt_tokens": prompt_tokens,
            "sample": sample.to_dict(with_prompt=False),
        }
        self.samples[(self.entry["cell_key"], index)] = self.entry
        return self.entry

    def add_record(self, record: Record) -> bool:
        if record.key in self.done:
            return False
        self.done.add(record.key)
        self.records.append(record)
        return True


class UnitWorker:
    """A Ray actor's state: one backend, sized like every other worker's, reused across units."""

    def __init__(self, job: Job):
        self.job = job
        self.backend = open_backend(job.entry)
        self.sizing = prompt_sizing(job, self.backend)
        self.limiter: AdaptiveLimiter | None = None  # created in the actor's event loop, shared by its concurrent units
        self.checked = False

    def describe(self) -> dict:
        return {
            "model": self.backend.name,
            "tokenizer": self.sizing.name,
            "options": self.backend.options(),
            "pid": os.getpid(),
        }

    async def run_unit(self, cell: Cell, index: int, entry: dict | None, done: list) -> dict:
        if self.limiter is None:
            self.limiter = AdaptiveLimiter(self.job.entry.concurrency, self.job.run_config().cooldown)
        if not self.checked:
            await self.backend.check()
        self.checked = True
        store = _UnitStore((cell.key, index), entry, done)
        plan = await asyncio.to_thread(self.sizing.planner(store, self.job).plan, cell, index)
        config = dataclasses.replace(self.job.run_config(), max_cost=None)  # the driver holds the budget
        runner = Runner(self.backend, store, config, model_counted=self.sizing.count is not None)
        runner.limiter, runner.progress = self.limiter, EvalProgress(0, False)
        if plan is not None:
            await runner.run_plan(plan)
        return {
            "entry": store.entry,
            "records": [r.to_dict() for r in store.records],
            "requests": runner.requests,
            "stopped": runner.stopped,
            "limiter": (os.getpid(), self.limiter.min_seen, self.limiter.cuts),
        }


def _finished(store: RunStore, cell: Cell, index: int) -> tuple[bool, dict[str, Any] | None, list[tuple[str, int]]]:
    """(every query recorded?, stored sample entry, recorded keys of that sample)."""
    entry = store.samples.get((cell.key, index))
    if entry is None:
        return False, None, []
    sample = Sample.from_dict(entry["sample"])
    done = [(sample.id, q.index) for q in sample.queries if (sample.id, q.index) in store.done]
    return len(done) == len(sample.queries), entry, done


def _append(store: RunStore, out: dict, tally: RunTally, cuts: dict) -> None:
    """The driver, the only writer: the unit's sample (once), then its records; and what it counted."""
    entry = out["entry"]
    if entry is not None:
        store.add_sample(
            Cell.from_dict(entry["cell"]),
            entry["index"],
            Sample.from_dict(entry["sample"]),
            entry["n_tokens"],
            entry.get("prompt_tokens"),
        )
    for r in out["records"]:
        store.add_record(Record.from_dict(r))
    tally.requests += out["requests"]
    tally.stopped = tally.stopped or out["stopped"]
    pid, min_seen, actor_cuts = out["limiter"]
    cuts[pid] = actor_cuts  # each actor's limiter counts its own cuts, from its start
    if actor_cuts:
        tally.min_concurrency = min(min_seen, tally.min_concurrency or min_seen)
    tally.rate_limit_cuts = sum(cuts.values())


def _actors(ray, job: Job, workers: int) -> list:
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if job.local and gpus:
        count, resources = gpus, {"num_gpus": 1, "num_cpus": 1}  # one actor per GPU
    else:
        count, resources = max(1, workers), {"num_cpus": 1}
    actor = ray.remote(UnitWorker).options(max_restarts=RESTARTS, max_task_retries=RESTARTS, **resources)
    return [actor.remote(job) for _ in range(count)]


def _get(ray, ref):
    """ray.get, with a hashhop error raised by a worker re-raised as itself (one line, exit 2)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, HashhopError):
            raise cause from None
        raise
    except ray.exceptions.RayActorError as exc:
        if getattr(exc, "_actor_init_failed", False):  # the backend could not be made: say why, in one line
            raise HashhopError(f"a Ray worker could not open the model: {_last_error(exc)}") from None
        raise HashhopError(
            f"a Ray worker was lost {RESTARTS + 1} times ({type(exc).__name__}): check the cluster, "
            f"then run the same command again to resume"
        ) from exc


def _last_error(exc) -> str:
    """The final `SomeError: message` line of a worker's traceback (Ray passes it as text)."""
    lines = [line.strip() for line in str(getattr(exc, "error_msg", "") or exc).splitlines()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    return found[-1].split(": ", 1)[1] if found else (lines[-1] if lines else type(exc).__name__)


def _dispatch(
    ray, actors: list, units: deque[Unit], store: RunStore, window: int, tally: RunTally, budget: Budget, estimate
) -> None:
    """Keep `window` units in flight per actor while the budget allows; append each unit's results
    as it returns. `estimate(cell)`: a unit's cost estimate."""
    in_flight: dict = {}  # ref -> (actor index, reserved estimate)
    cuts: dict = {}  # actor pid -> rate-limit cuts of its limiter
    load = [0] * len(actors)
    while units or in_flight:
        while units and min(load) < window and not tally.stopped:
            cost = estimate(units[0][0])
            if not budget.take(cost):
                tally.stopped = budget.stop_reason("unit")
                break
            a = load.index(min(load))
            cell, index, entry, done = units.popleft()
            in_flight[actors[a].run_unit.remote(cell, index, entry, done)] = (a, cost)
            load[a] += 1
        if not in_flight:
            break
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in ready:
            a, cost = in_flight.pop(ref)
            load[a] -= 1
            out = _get(ray, ref)
            budget.release(cost)
            budget.charge(_charged(out["records"], cost))
            _append(store, out, tally, cuts)


def _charged(records: list[dict], estimate: float) -> float:
    """What a unit spent: the recorded costs; a record whose backend reported no tokens (oracle,
    random, ltm) is charged its share of the unit's estimate, as the local runner charges it."""
    share = estimate / max(1, len(records))
    return sum(r["cost_usd"] if r.get("prompt_tokens") is not None else share for r in records)


def run_job(ray, job: Job, workers: int) -> None:
    with RunStore(job.run_dir) as store:
        actors = _actors(ray, job, workers)
        tally, config = RunTally(job.entry.concurrency), None
        try:
            info = _get(ray, actors[0].describe.remote())
            check_same_run(store.dir, info["model"], info["tokenizer"], job.tag)
            config = job.recorded_config(info["model"], info["tokenizer"], info["options"], NAME)
            units: deque[Unit] = deque()
            for cell in job.cells(info["tokenizer"]):
                for index in range(job.grid.samples):
                    finished, entry, done = _finished(store, cell, index)
                    if not finished:
                        units.append((cell, index, entry, done))
            write_results(store, config, job.template, tally, partial=True)
            window = 2 if job.local else max(2, job.entry.concurrency)
            budget = Budget.of_records(job.entry.max_cost, store.records)
            _dispatch(ray, actors, units, store, window, tally, budget, lambda cell: unit_estimate(job, cell))
            write_results(store, config, job.template, tally, partial=bool(tally.stopped))
        except BaseException:
            if config is not None:  # never over a folder that check_same_run refused
                with contextlib.suppress(OSError, HashhopError):  # the first error is the one to show
                    write_results(store, config, job.template, tally, partial=True)
            raise
        finally:
            for a in actors:
                ray.kill(a)


def run(jobs: list[Job], address: str | None = None, workers: int | None = None) -> None:
    """Run every job on Ray: the cluster at `address`, or a local one started (and stopped) here."""
    ray = require("ray", "ray")
    for job in jobs:
        if not job.local:  # cheap to open: bad options fail here in one line, before any cluster starts
            asyncio.run(open_backend(job.entry).aclose())
    own = not ray.is_initialized()
    if own:
        # address "local" always starts a private cluster, never joins someone else's by accident.
        kwargs = {}
        if address in (None, "local"):  # a private cluster: on the loopback interface only
            kwargs = {"_node_ip_address": "127.0.0.1", **({"num_cpus": workers} if workers else {})}
        ray.init(
            address=address or "local", include_dashboard=False, log_to_driver=False, logging_level="ERROR", **kwargs
        )
    try:
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        for job in jobs:
            print(f"ray: {job.entry.model} on {workers} worker(s)", file=sys.stderr)
            run_job(ray, job, workers)
    finally:
        if own:
            ray.shutdown()
