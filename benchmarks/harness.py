"""Harness benchmark: hashhop's runner vs lm-eval's `local-chat-completions`, same stub, same run.

An instant-answer OpenAI-compatible stub (harness_stub.py) runs in its own process and timestamps
every completion request it receives. Each harness sends the same chat prompts at concurrency 1, 16
and 64, measured two ways:
- send rate: requests per second as the stub saw them arrive (first to last request), so all a
  harness does before its first request and after its last is left out;
- end to end: each tool run as users run it, in its own process; the wall time of a full run less
  that of a small run, per request, so fixed startup is left out and every per-request cost is kept;
- per-request overhead: at concurrency 1, the time between requests minus that of a bare raw-socket
  client driving the same stub in the same run (the floor: network + stub).
lm-eval lives in its own venv (created and filled on first use; torch pinned to the local CPU build):
harness_lmeval.py. The stub and the raw client: harness_stub.py. The report: harness_report.py.

    python benchmarks/harness.py [--requests 2000] [--concurrency 1,16,64] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request

# benchmarks/ is on sys.path when run as a script
from harness_lmeval import LMEVAL_VENV, ensure_lmeval, lmeval_task, run_lmeval
from harness_report import markdown, write_section
from harness_stub import raw_client, start_stub, stub_get

QUERIES_PER_CONTEXT = 10
CONTEXT_CHARS = 2000
SMALL = 10 * QUERIES_PER_CONTEXT  # the small run whose wall time is taken as fixed startup
MACHINE = "2-core CPU, 24 GB RAM, Python 3.11, no GPU"


# -- the prompts both harnesses send ----------------------------------------------------------
def dataset(n: int) -> list:
    """Enough hashhop samples (prompts included) for n queries, as `hashhop generate` writes them."""
    from hashhop import Spec, make_sample

    spec = Spec(size=CONTEXT_CHARS, hops=1, queries=QUERIES_PER_CONTEXT)
    return [make_sample(spec, i) for i in range(-(-n // QUERIES_PER_CONTEXT))]


def prompts(samples: list, n: int) -> list[dict]:
    """The n chat prompts (system, user, target) hashhop sends for these samples."""
    from hashhop.prompt.template import DEFAULT_TEMPLATE, render_query

    out = []
    for sample in samples:
        for q in sample.queries:
            p = render_query(DEFAULT_TEMPLATE, sample.prompt, q)
            out.append({"system": p.messages[0]["content"], "user": p.messages[1]["content"], "target": q.target})
    return out[:n]


# -- hashhop ------------------------------------------------------------------------------------
async def run_hashhop(base_url: str, n: int, concurrency: int, run_dir: str, samples=None) -> None:
    """What `hashhop eval` does: plan sized samples (or take a dataset's), send them through the
    openai backend, score, store."""
    from hashhop.backends import get_backend
    from hashhop.evaluate.runner import Planner, RunConfig, Runner, make_cell
    from hashhop.evaluate.store import RunStore
    from hashhop.generator.tokenizers import get_tokenizer
    from hashhop.prompt.template import DEFAULT_TEMPLATE

    backend = get_backend("openai:stub", base_url=f"{base_url}/v1", api="chat", tokenize="none")
    with RunStore(run_dir) as store:
        planner = Planner(store, DEFAULT_TEMPLATE, QUERIES_PER_CONTEXT, get_tokenizer("chars"))
        runner = Runner(backend, store, RunConfig(concurrency=concurrency, retries=0))
        if samples is None:  # a grid: contexts generated and sized on the fly (`--tokens ... --hops ...`)
            plans = planner.plans([make_cell(CONTEXT_CHARS, 1, False, None, 0, "chars")], -(-n // QUERIES_PER_CONTEXT))
        else:  # a dataset file (`--dataset FILE`), as lm-eval reads one
            plans = (p for i, s in enumerate(samples) if (p := planner.plan_sample(s, i)) is not None)
        await runner.run(plans, n)
    await backend.aclose()


# -- lm-eval ------------------------------------------------------------------------------------
# -- hashhop as users run it: `hashhop eval --dataset FILE` in its own process -------------------
def write_dataset(n: int, path: str) -> str:
    """The same samples as dataset(n), as a hashhop JSONL file (what `hashhop generate` writes)."""
    from hashhop import Spec
    from hashhop.generator.dataset import write_jsonl

    write_jsonl(
        Spec(size=CONTEXT_CHARS, hops=1, queries=QUERIES_PER_CONTEXT),
        -(-n // QUERIES_PER_CONTEXT),
        path,
        progress=False,
    )
    return path


def run_cli(base_url: str, data: str, concurrency: int, out: str) -> None:
    options = ["-M", "api=chat", "-M", "tokenize=none", "--retries", "0", "--no-progress"]
    cmd = [sys.executable, "-m", "hashhop", "eval", "--model", "openai:stub", "--base-url", f"{base_url}/v1"]
    cmd += [*options, "--dataset", data, "--concurrency", str(concurrency), "-o", out]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"hashhop eval failed:\n{done.stderr[-3000:]}")


# -- measuring ----------------------------------------------------------------------------------
def measure(base_url: str, n: int, run) -> dict:
    """Run `run()`, then read from the stub how many requests came and over how long."""
    urllib.request.urlopen(urllib.request.Request(f"{base_url}/reset", method="POST")).read()
    t0 = time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    stats = stub_get(base_url, "/stats")
    if stats["n"] != n:
        raise RuntimeError(f"the stub saw {stats['n']} requests, expected {n}")
    span = stats["last"] - stats["first"]
    rate = (stats["n"] - 1) / span if span > 0 else float("nan")
    return {"requests": stats["n"], "req_per_s": rate, "interval_ms": 1000 / rate, "wall_s": wall}


def end_to_end(base_url: str, n: int, small: int, run) -> dict:
    """Wall time of `run(n)`, less that of `run(small)` (the best of two): the per-request cost of the
    whole tool (reading the task, building requests, sending, scoring, writing results) with its
    fixed startup (interpreter, imports, task setup) taken out."""
    big = measure(base_url, n, lambda: run(n))
    startup = min(measure(base_url, small, lambda: run(small))["wall_s"] for _ in range(2))
    return {**big, "startup_s": startup, "e2e_req_per_s": (n - small) / (big["wall_s"] - startup)}


def bench(n: int, levels: list[int], lmeval: bool, venv: str) -> list[dict]:
    samples = dataset(n)
    items = prompts(samples, n)
    small = SMALL
    body = json.dumps(
        {
            "model": "stub",
            "messages": [
                {"role": "system", "content": items[0]["system"]},
                {"role": "user", "content": items[0]["user"]},
            ],
            "max_tokens": 64,
            "temperature": 0.0,
        }
    ).encode()
    python = ensure_lmeval(venv) if lmeval else None
    proc, port = start_stub()
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = {k: write_dataset(k, os.path.join(tmp, f"data-{k}.jsonl")) for k in (n, small)}
            tasks = {k: lmeval_task(items[:k], _folder(tmp, f"task-{k}")) for k in (n, small)} if lmeval else {}
            runs = itertools.count()  # a fresh output folder per run: an existing one would resume
            for c in levels:
                row = {
                    "concurrency": c,
                    "raw": measure(base_url, n, lambda c=c: asyncio.run(raw_client(port, body, n, c))),
                }
                row["hashhop"] = measure(
                    base_url,
                    n,
                    lambda c=c: asyncio.run(
                        run_hashhop(base_url, n, c, os.path.join(tmp, f"run-{next(runs)}"), samples)
                    ),
                )
                row["hashhop_grid"] = measure(
                    base_url,
                    n,
                    lambda c=c: asyncio.run(run_hashhop(base_url, n, c, os.path.join(tmp, f"run-{next(runs)}"))),
                )
                row["cli"] = end_to_end(
                    base_url,
                    n,
                    small,
                    lambda k, c=c: run_cli(base_url, data[k], c, os.path.join(tmp, f"run-{next(runs)}")),
                )
                if lmeval:
                    row["lmeval"] = end_to_end(
                        base_url,
                        n,
                        small,
                        lambda k, c=c: run_lmeval(python, base_url, k, c, tasks[k], items[0]["system"]),
                    )
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rows


def _folder(parent: str, name: str) -> str:
    os.makedirs(os.path.join(parent, name))
    return os.path.join(parent, name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--no-lmeval", action="store_true", help="hashhop and the raw client only")
    parser.add_argument("--lmeval-venv", default=LMEVAL_VENV)
    parser.add_argument("--machine", default=MACHINE, help="the machine, as the report names it")
    parser.add_argument("--note", metavar="FILE", help="a markdown paragraph put under the figures")
    parser.add_argument("--write", metavar="FILE", help="put the section under '## Harness' in FILE")
    args = parser.parse_args(argv)
    rows = bench(args.requests, [int(c) for c in args.concurrency.split(",")], not args.no_lmeval, args.lmeval_venv)
    note = open(args.note).read() if args.note else ""
    section = markdown(rows, args.requests, args.machine, SMALL, QUERIES_PER_CONTEXT, CONTEXT_CHARS, note)
    print(section)
    print(f"python {platform.python_version()}", file=sys.stderr)
    if args.write:
        write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
