"""The local executor: every job on this machine, each the single writer of its own run folder.

API models share one asyncio loop (their time is spent waiting on the network, so they overlap);
local models (ltm, hf, llamacpp) each get their own process, since their compute would stall the
loop and one process per model uses the cores. A single job runs in this process. Records reach
disk as they finish (the run store), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys

from hashhop.bench.job import Job, Progress, check_same_run, is_chat, open_backend, sizing, write_results
from hashhop.core.errors import RUNNER_SIGNALS, HashhopError
from hashhop.evaluate.runner import Runner
from hashhop.evaluate.store import RunStore
from hashhop.prompt.planner import Planner

NAME = "local"


async def run_job(job: Job) -> None:
    """Evaluate one job into its run folder (resuming what is recorded there)."""
    with RunStore(job.run_dir) as store:
        backend = open_backend(job.entry)
        progress, runner, tokenizer = Progress(), None, "?"
        try:
            check = getattr(backend, "check", None)
            if check is not None:
                await check()  # a one-line error before anything is sized or written
            tokenizer, tok, count, overhead = await asyncio.to_thread(sizing, job, backend)
            check_same_run(store.dir, backend.name, tokenizer, job.tag)
            runner = Runner(backend, store, job.run_config(), model_counted=count is not None)
            planner = Planner(store, job.template, job.grid.queries, tok, count, overhead, is_chat(backend))
            cells = job.grid.cells(tokenizer, job.tag)
            write_results(store, job, backend.name, tokenizer, progress, True, NAME)
            total = len(cells) * job.grid.samples * job.grid.queries
            await runner.run(planner.plans(cells, job.grid.samples), max(0, total - len(store.done)))
            progress.requests, progress.stopped = runner.requests, runner.stopped
            write_results(store, job, backend.name, tokenizer, progress, bool(runner.stopped), NAME)
        except BaseException:
            if runner is not None:  # what finished is on disk; the summary says the run is partial
                progress.requests = runner.requests
                write_results(store, job, backend.name, tokenizer, progress, True, NAME)
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
