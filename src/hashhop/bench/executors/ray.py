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
import dataclasses
import os
import re
import sys
from collections import deque

from hashhop.bench.job import Job, Progress, check_same_run, is_chat, open_backend, sizing, unit_estimate, write_results
from hashhop.core.errors import HashhopError, require
from hashhop.core.progress import EvalProgress
from hashhop.evaluate.cost import Budget
from hashhop.evaluate.runner import AdaptiveLimiter, Runner
from hashhop.evaluate.store import Record, RunStore
from hashhop.generate.sample import Sample
from hashhop.prompt.planner import Planner, cell_key

NAME = "ray"
RESTARTS = 3  # a lost worker is restarted, and its unit retried, this many times


class _UnitStore:
    """The run store as a unit sees it (duck-typed for Planner and Runner): this unit's sample only."""

    def __init__(self, key: tuple[str, int], entry: dict | None, done: list):
        self.samples = {key: entry} if entry else {}
        self.done = {tuple(k) for k in done}
        self.entry, self.records = entry, []

    def add_sample(self, cell: dict, index: int, sample: Sample, n_tokens: int, prompt_tokens: int | None = None):
        # The same fields as RunStore.add_sample: the driver re-adds it there.
        self.entry = {
            "cell_key": cell_key(cell),
            "cell": cell,
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
        self.tokenizer, self.tok, self.count, self.overhead = sizing(job, self.backend)
        self.limiter = None  # created in the actor's event loop, shared by its concurrent units
        self.checked = False

    def describe(self) -> dict:
        return {"model": self.backend.name, "tokenizer": self.tokenizer, "pid": os.getpid()}

    async def run_unit(self, cell: dict, index: int, entry: dict | None, done: list) -> dict:
        if self.limiter is None:
            self.limiter = AdaptiveLimiter(self.job.entry.concurrency, self.job.run_config().cooldown)
        if not self.checked and getattr(self.backend, "check", None) is not None:
            await self.backend.check()
        self.checked = True
        store = _UnitStore((cell_key(cell), index), entry, done)
        planner = Planner(
            store, self.job.template, self.job.grid.queries, self.tok, self.count, self.overhead, is_chat(self.backend)
        )
        plan = await asyncio.to_thread(planner.plan, cell, index)
        config = dataclasses.replace(self.job.run_config(), max_cost=None)  # the driver holds the budget
        runner = Runner(self.backend, store, config, model_counted=self.count is not None)
        runner.limiter, runner.progress = self.limiter, EvalProgress(0, False)
        if plan is not None:
            await runner.run_plan(plan)
        return {
            "entry": store.entry,
            "records": [r.to_dict() for r in store.records],
            "requests": runner.requests,
            "stopped": runner.stopped,
        }


def _finished(store: RunStore, cell: dict, index: int) -> tuple[bool, dict | None, list]:
    """(every query recorded?, stored sample entry, recorded keys of that sample)."""
    entry = store.samples.get((cell_key(cell), index))
    if entry is None:
        return False, None, []
    sample = Sample.from_dict(entry["sample"])
    done = [(sample.id, q.index) for q in sample.queries if (sample.id, q.index) in store.done]
    return len(done) == len(sample.queries), entry, done


def _append(store: RunStore, out: dict, progress: Progress) -> None:
    """The driver, the only writer: the unit's sample (once), then its records."""
    entry = out["entry"]
    if entry is not None:
        store.add_sample(
            entry["cell"],
            entry["index"],
            Sample.from_dict(entry["sample"]),
            entry["n_tokens"],
            entry.get("prompt_tokens"),
        )
    for r in out["records"]:
        store.add_record(Record.from_dict(r))
    progress.requests += out["requests"]
    progress.stopped = progress.stopped or out["stopped"]


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
    ray, actors: list, units: deque, store: RunStore, window: int, progress: Progress, budget: Budget, estimate
) -> None:
    """Keep `window` units in flight per actor while the budget allows; append each unit's results
    as it returns. `estimate(cell)`: a unit's cost estimate."""
    in_flight: dict = {}  # ref -> (actor index, reserved estimate)
    load = [0] * len(actors)
    while units or in_flight:
        while units and min(load) < window and not progress.stopped:
            cost = estimate(units[0][0])
            if not budget.take(cost):
                progress.stopped = budget.stop_reason("unit")
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
            _append(store, out, progress)


def _charged(records: list[dict], estimate: float) -> float:
    """What a unit spent: the recorded costs; a record whose backend reported no tokens (oracle,
    random, ltm) is charged its share of the unit's estimate, as the local runner charges it."""
    share = estimate / max(1, len(records))
    return sum(r["cost_usd"] if r.get("prompt_tokens") is not None else share for r in records)


def run_job(ray, job: Job, workers: int) -> None:
    with RunStore(job.run_dir) as store:
        actors = _actors(ray, job, workers)
        progress, info = Progress(), None
        try:
            info = _get(ray, actors[0].describe.remote())
            check_same_run(store.dir, info["model"], info["tokenizer"], job.tag)
            units = deque()
            for cell in job.grid.cells(info["tokenizer"], job.tag):
                for index in range(job.grid.samples):
                    finished, entry, done = _finished(store, cell, index)
                    if not finished:
                        units.append((cell, index, entry, done))
            write_results(store, job, info["model"], info["tokenizer"], progress, True, NAME)
            window = 2 if job.local else max(2, job.entry.concurrency)
            budget = Budget.of_records(job.entry.max_cost, store.records)
            _dispatch(ray, actors, units, store, window, progress, budget, lambda cell: unit_estimate(job, cell))
            write_results(store, job, info["model"], info["tokenizer"], progress, bool(progress.stopped), NAME)
        except BaseException:
            if info is not None:
                write_results(store, job, info["model"], info["tokenizer"], progress, True, NAME)
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
