"""Executors: where a bench run's queries run. `local` (default) or `ray` (`pip install 'hashhop[ray]'`).

Both take the same `Job`s (one per model, each with its own run folder) and give the same records;
see `local.py` and `ray.py`. Ray is imported only when the Ray executor runs.
"""

from __future__ import annotations

from hashhop.bench.job import Job
from hashhop.core.errors import HashhopError

EXECUTORS = ("local", "ray")

__all__ = ["EXECUTORS", "Job", "run"]


def run(jobs: list[Job], executor: str = "local", address: str | None = None, workers: int | None = None) -> None:
    """Run every job with the named executor; records go to each job's run folder as they finish."""
    if executor == "local":
        if address:
            raise HashhopError("--address is for --executor ray: add --executor ray, or drop --address")
        from hashhop.bench.executors import local

        local.run(jobs)
    elif executor == "ray":
        if any(j.entry.batch for j in jobs):
            raise HashhopError("--batch runs on the local executor: drop --executor ray (batches need no workers)")
        from hashhop.bench.executors import ray

        ray.run(jobs, address, workers)
    else:
        raise HashhopError(f"unknown executor {executor!r}: use {' or '.join(EXECUTORS)}")
