"""The local executor: every job on this machine, each the single writer of its own run folder.

API models share one asyncio loop (their time is spent waiting on the network, so they overlap);
local models (those whose backend computes in-process: ltm, hf, llamacpp) each get their own
process, since their compute would stall the loop and one process per model uses the cores. A single
job (every `hashhop eval`) runs in this process. Records reach
disk as they finish (the run store), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import sys

from hashhop.backends import Backend
from hashhop.bench.job import Job, open_backend
from hashhop.bench.prompt_sizing import PromptSizing, prompt_sizing
from hashhop.core.errors import RUNNER_SIGNALS, DatasetError, HashhopError
from hashhop.evaluate.batch import BatchRunner, batch_api_of
from hashhop.evaluate.results import RunTally, check_same_run, write_results
from hashhop.evaluate.runner import Runner
from hashhop.evaluate.store import RunStore
from hashhop.generator.external import AnySample

NAME = "local"


def read_dataset(path: str, skip_invalid: bool = False) -> tuple[list[AnySample], int]:
    """(samples, invalid rows skipped) of a dataset file: hashhop's own, or another tool's (Magic's
    reference, {prompt, answer}). Invalid rows refuse the file, naming the first few, unless skipped."""
    from hashhop.generator.dataset import scan_samples
    from hashhop.generator.foreign import Invalid, refuse_invalid

    samples: list[AnySample] = []
    invalid: list[Invalid] = []
    for item in scan_samples(path):
        if isinstance(item, Invalid):
            invalid.append(item)
        else:
            samples.append(item)
    if invalid and not skip_invalid:
        refuse_invalid(path, invalid)
    if not samples:
        raise DatasetError(f"{path} holds no valid samples: generate one with `hashhop generate`")
    return samples, len(invalid)


def _work(job: Job, sizing: PromptSizing, store: RunStore) -> tuple:
    """(plans in order, queries in all, invalid samples skipped): the grid's cells, or the samples of
    the job's dataset."""
    planner = sizing.planner(store, job)
    if job.dataset:
        samples, skipped = read_dataset(job.dataset, job.skip_invalid)
        if skipped:  # said on every run, resumed ones too: the file still holds them
            print(f"skipped {skipped} invalid sample(s) of {job.dataset}: `hashhop verify` lists them", file=sys.stderr)
        plans = (p for i, s in enumerate(samples) if (p := planner.plan_sample(s, i)) is not None)
        return plans, sum(len(s.queries) for s in samples), skipped
    cells = job.cells(sizing.name)
    return planner.plans(cells, job.grid.samples), len(cells) * job.grid.samples * job.grid.queries, 0


def _runner(job: Job, backend: Backend, store: RunStore, model_counted: bool) -> Runner:
    """The job's runner: one that sends each query, or one that sends them in batches (--batch)."""
    if job.entry.batch:
        return BatchRunner(backend, store, job.run_config(), job.run_dir, job.batch_settings(), model_counted)
    return Runner(backend, store, job.run_config(), model_counted=model_counted)


def _count(tally: RunTally, runner: Runner) -> None:
    tally.requests, tally.stopped = runner.requests, runner.stopped
    if runner.limiter.cuts:
        tally.min_concurrency, tally.rate_limit_cuts = runner.limiter.min_seen, runner.limiter.cuts


async def run_job(job: Job) -> None:
    """Evaluate one job into its run folder (resuming what is recorded there)."""
    with RunStore(job.run_dir) as store:
        backend = open_backend(job.entry)
        tally, runner, config = RunTally(job.entry.concurrency), None, {}
        try:
            if job.entry.batch:
                batch_api_of(backend)  # --batch with a backend that has none: a one-line error, nothing sent
            await backend.check()  # a one-line error before anything is sized or written
            sizing = await asyncio.to_thread(prompt_sizing, job, backend)
            check_same_run(store.dir, backend.name, sizing.name, job.tag)
            config = job.recorded_config(backend.name, sizing.name, backend.options(), NAME)
            runner = _runner(job, backend, store, model_counted=sizing.count is not None)
            plans, total, skipped = _work(job, sizing, store)
            if skipped:
                config["skipped_invalid"] = skipped
            write_results(store, config, job.template, tally, partial=True)
            await runner.run(plans, max(0, total - len(store.done)))
            _count(tally, runner)
            # Every plan ran to the end unless the run stopped (budget): then some queries were not sent.
            write_results(store, config, job.template, tally, partial=bool(runner.stopped))
        except BaseException:
            if runner is not None:  # what finished is on disk; the summary says the run is partial
                _count(tally, runner)
                # Best effort: when the disk is full this fails too, and the first error is the one to show.
                with contextlib.suppress(OSError, HashhopError):
                    write_results(store, config, job.template, tally, partial=True)
            raise
        finally:
            await backend.aclose()


def _run_in_process(job: Job) -> None:
    asyncio.run(run_job(job))


def _child(job: Job) -> None:
    """A spawned process's target: errors as one line (the parent names the failed model)."""
    try:
        _run_in_process(job)
    except RUNNER_SIGNALS:  # the runner's to handle; one that escapes is a bug, shown whole
        raise
    except HashhopError as exc:
        print(f"error: {job.entry.model}: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


async def _run_api_jobs(jobs: list[Job]) -> None:
    results = await asyncio.gather(*(run_job(j) for j in jobs), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r


def run(jobs: list[Job]) -> None:
    """Run every job; local models in their own processes, API models together in this one."""
    if len(jobs) == 1:
        _run_in_process(jobs[0])
        return
    local = [j for j in jobs if j.local]
    api = [j for j in jobs if not j.local]
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch/thread state
    procs = [ctx.Process(target=_child, args=(j,), name=f"hashhop-{j.entry.folder}") for j in local]
    for p in procs:
        p.start()
    try:
        if api:
            asyncio.run(_run_api_jobs(api))
    finally:
        for p in procs:
            p.join()
    failed = [j.entry.model for j, p in zip(local, procs) if p.exitcode != 0]
    if failed:
        raise HashhopError(
            f"the run of {', '.join(failed)} failed (see its error above): fix it and run the same "
            f"command again to resume"
        )
