"""Benchmark (issue 6): a sweep of many small cells, local executor vs a local 2-worker Ray cluster.

  python benchmarks/sweep.py [--lengths 1K,2K,4K,8K] [--hops 2,3,4] [--seeds 4] [--queries 4] [--delay 0]

Both executors run the same grid (oracle model, prompts sized in tiktoken cl100k_base) into fresh
run folders in the same process, one after the other; the Ray cluster's start-up is timed apart
from the sweep. The records of the two runs are compared (timing fields apart) and must be equal.
`--delay S` makes each oracle answer take S seconds (a slow model). Figures go to
docs/benchmarks.md under "Sweeps" by hand.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from hashhop.bench.executors import Job, run
from hashhop.bench.suites import Grid
from hashhop.bench.sweep import ModelEntry
from hashhop.evaluate.store import read_records
from hashhop.generator.spec import parse_size

TIMING = ("time", "latency_s")


def _grid(args) -> Grid:
    return Grid(
        lengths=tuple(parse_size(s) for s in args.lengths.split(",")),
        hops=tuple(int(h) for h in args.hops.split(",")),
        cot=(True, False),
        seeds=tuple(range(args.seeds)),
        samples=1,
        queries=args.queries,
    )


def _stable(run_dir: str) -> dict:
    return {r.key: {k: v for k, v in r.to_dict().items() if k not in TIMING} for r in read_records(run_dir)}


def _timed(jobs, executor: str, workers: int | None = None) -> float:
    t0 = time.perf_counter()
    run(jobs, executor, None, workers)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="1K,2K,4K,8K")
    p.add_argument("--hops", default="2,3,4")  # hop 1 left out: its cot and skip samples coincide
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--queries", type=int, default=4)
    p.add_argument("--delay", type=float, default=0.0, help="seconds per oracle answer")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    import ray

    grid = _grid(args)
    entry = ModelEntry("oracle", options={"delay": args.delay} if args.delay else {})
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {name: [Job(entry, grid, "sweep:bench", str(Path(tmp) / name / "oracle"))] for name in ("local", "ray")}
        local_s = _timed(jobs["local"], "local")
        t0 = time.perf_counter()
        ray.init(
            address="local",
            num_cpus=args.workers,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
            _node_ip_address="127.0.0.1",
        )
        start_s = time.perf_counter() - t0
        try:
            ray_s = _timed(jobs["ray"], "ray", args.workers)
        finally:
            ray.shutdown()
        same = _stable(jobs["local"][0].run_dir) == _stable(jobs["ray"][0].run_dir)
        n = len(_stable(jobs["local"][0].run_dir))
    row = {
        "cells": grid.n_cells,
        "queries": n,
        "delay_s": args.delay,
        "workers": args.workers,
        "local_s": round(local_s, 2),
        "ray_s": round(ray_s, 2),
        "ray_start_s": round(start_s, 2),
        "local_q_per_s": round(n / local_s, 1),
        "ray_q_per_s": round(n / ray_s, 1),
        "speedup": round(local_s / ray_s, 2),
        "identical_records": same,
        "python": platform.python_version(),
    }
    print(json.dumps(row))
    print(
        f"| {row['cells']} | {n} | {args.delay:g} | {row['local_s']} ({row['local_q_per_s']} q/s) | "
        f"{row['ray_s']} ({row['ray_q_per_s']} q/s) | {row['ray_start_s']} | {row['speedup']}x | {same} |"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
