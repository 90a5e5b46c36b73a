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
lm-eval lives in its own venv (created and filled on first use; torch pinned to the local CPU build).

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
from datetime import datetime, timezone

from harness_stub import raw_client, start_stub, stub_get  # benchmarks/ is on sys.path when run as a script

LMEVAL_VENV = "/tmp/lmeval-venv"
LMEVAL_PACKAGES = ["lm-eval[api]==0.4.13", "torch==2.13.0+cpu"]  # never a CUDA torch
QUERIES_PER_CONTEXT = 10
CONTEXT_CHARS = 2000
MACHINE = "2-core CPU, 24 GB RAM, Python 3.11, no GPU"
TRANSPORT: dict = {}  # the HTTP client hashhop's openai backend picked, for the report


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
    from hashhop.generate.tokenizers import get_tokenizer
    from hashhop.prompt.template import DEFAULT_TEMPLATE

    backend = get_backend("openai:stub", base_url=f"{base_url}/v1", api="chat", tokenize="none")
    options = backend.options() if hasattr(backend, "options") else {}
    TRANSPORT["openai backend"] = options.get("http", "httpx")
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
LMEVAL_DRIVER = r"""
import json, sys, time
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager
cfg = json.loads(sys.argv[1])
args = dict(model="stub", base_url=cfg["url"], num_concurrent=cfg["concurrency"], max_retries=1,
            tokenizer_backend=None, tokenized_requests=False)
simple_evaluate(model="local-chat-completions", model_args=args, tasks=["hashhop_bench"],
                task_manager=TaskManager(include_path=cfg["task_dir"]), apply_chat_template=True,
                system_instruction=cfg["system"], limit=cfg["n"], log_samples=False)
"""

TASK_YAML = """task: hashhop_bench
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{user}}}}"
doc_to_target: "{{{{target}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 64
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
"""


def ensure_lmeval(venv: str) -> str:
    """The venv's python, with lm-eval installed in it (created on first use)."""
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python) and subprocess.run([python, "-c", "import lm_eval"], capture_output=True).returncode == 0:
        return python
    print(f"installing lm-eval into {venv} (first run only)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *LMEVAL_PACKAGES], check=True)
    return python


def lmeval_task(items: list[dict], folder: str) -> str:
    data = os.path.join(folder, "data.jsonl")
    with open(data, "w") as f:
        for item in items:
            f.write(json.dumps({"user": item["user"], "target": item["target"]}) + "\n")
    with open(os.path.join(folder, "hashhop_bench.yaml"), "w") as f:
        f.write(TASK_YAML.format(data=data))
    return folder


def run_lmeval(python: str, base_url: str, n: int, concurrency: int, task_dir: str, system: str) -> None:
    cfg = {
        "url": f"{base_url}/v1/chat/completions",
        "concurrency": concurrency,
        "n": n,
        "task_dir": task_dir,
        "system": system,
    }
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([python, "-c", LMEVAL_DRIVER, json.dumps(cfg)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"lm-eval failed:\n{done.stderr[-3000:]}")


# -- hashhop as users run it: `hashhop eval --dataset FILE` in its own process -------------------
def write_dataset(n: int, path: str) -> str:
    """The same samples as dataset(n), as a hashhop JSONL file (what `hashhop generate` writes)."""
    from hashhop import Spec
    from hashhop.generate.dataset import write_jsonl

    write_jsonl(
        Spec(size=CONTEXT_CHARS, hops=1, queries=QUERIES_PER_CONTEXT),
        -(-n // QUERIES_PER_CONTEXT),
        path,
        progress=False,
    )
    return path


def run_cli(base_url: str, data: str, concurrency: int, out: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "hashhop",
        "eval",
        "--model",
        "openai:stub",
        "--base-url",
        f"{base_url}/v1",
        "-M",
        "api=chat",
        "-M",
        "tokenize=none",
        "--dataset",
        data,
        "--concurrency",
        str(concurrency),
        "--retries",
        "0",
        "--no-progress",
        "-o",
        out,
    ]
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
    small = 10 * QUERIES_PER_CONTEXT
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


# -- reporting ----------------------------------------------------------------------------------
def _cell(row: dict, name: str, key: str, fmt: str = "{:.0f}") -> str:
    return fmt.format(row[name][key]) if name in row else "-"


def _ratio(row: dict, key: str, mine: str = "hashhop") -> str:
    return f"{row[mine][key] / row['lmeval'][key]:.2f}x" if "lmeval" in row else "-"


def markdown(rows: list[dict], n: int) -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        "## Harness",
        "",
        f"`python benchmarks/harness.py --requests {n}`, {date}, {MACHINE}; the cores were shared with "
        f"other work, so figures vary from run to run. One instant-answer OpenAI-compatible stub in its own "
        f"process; every harness sends the same {n} chat prompts ({QUERIES_PER_CONTEXT} queries on each "
        f"{CONTEXT_CHARS}-character context). Versions: {_versions()}.",
        "",
        "**Send rate**: requests/s counted at the stub from the first request to the last, so everything "
        "a harness does before its first request or after its last is left out. hashhop (dataset) reads "
        "prebuilt samples, as lm-eval reads its task file; hashhop (grid) also generates and sizes each "
        "context on the fly; both run in this process and score and store every answer as it comes. "
        "lm-eval builds all its requests before sending the first and scores after the last.",
        "",
        "| concurrency | raw client | hashhop (dataset) | hashhop (grid) | lm-eval | dataset / lm-eval |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {_cell(r, 'raw', 'req_per_s')} | {_cell(r, 'hashhop', 'req_per_s')} | "
            f"{_cell(r, 'hashhop_grid', 'req_per_s')} | {_cell(r, 'lmeval', 'req_per_s')} | "
            f"{_ratio(r, 'req_per_s')} |"
        )
    lines += [
        "",
        "**End to end**, each tool as a user runs it in its own process (`hashhop eval --dataset FILE` "
        "and lm-eval's `simple_evaluate` on a task file): requests/s = (requests - "
        f"{10 * QUERIES_PER_CONTEXT}) / (wall time of the full run - wall time of a "
        f"{10 * QUERIES_PER_CONTEXT}-request run), so the fixed startup (interpreter, imports, task setup; "
        "the best of two small runs, shown) is taken out and every per-request cost is kept: reading the "
        "task, building requests, sending, scoring and writing results.",
        "",
        "| concurrency | hashhop eval req/s | lm-eval req/s | hashhop / lm-eval | startup s (hashhop, lm-eval) | "
        "wall s (hashhop, lm-eval) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {_cell(r, 'cli', 'e2e_req_per_s')} | {_cell(r, 'lmeval', 'e2e_req_per_s')} | "
            f"{_ratio(r, 'e2e_req_per_s', 'cli')} | {_cell(r, 'cli', 'startup_s', '{:.1f}')}, "
            f"{_cell(r, 'lmeval', 'startup_s', '{:.1f}')} | {_cell(r, 'cli', 'wall_s', '{:.1f}')}, "
            f"{_cell(r, 'lmeval', 'wall_s', '{:.1f}')} |"
        )
    lines += ["", *_verdicts(rows)]
    return "\n".join(lines) + "\n"


def _versions() -> str:
    from importlib import metadata

    transport = TRANSPORT.get("openai backend", "httpx")
    package = {"native": "httptools"}.get(transport, transport)  # the native client parses with httptools
    mine = f"hashhop {metadata.version('hashhop')} (`{transport}` HTTP client, {package} {metadata.version(package)})"
    return f"{mine}; {LMEVAL_PACKAGES[0].replace('[api]==', ' ')} `local-chat-completions` (aiohttp)"


def _verdicts(rows: list[dict]) -> list[str]:
    """Per-request overhead at concurrency 1, and the throughput target on both measures."""
    out = []
    one = next((r for r in rows if r["concurrency"] == 1), None)
    if one:
        floor = one["raw"]["interval_ms"]
        parts = [
            f"{name} {one[key]['interval_ms'] - floor:.2f} ms"
            for name, key in (
                ("hashhop (dataset)", "hashhop"),
                ("hashhop (grid)", "hashhop_grid"),
                ("lm-eval", "lmeval"),
            )
            if key in one
        ]
        overhead = one["hashhop"]["interval_ms"] - floor
        out.append(
            f"Per-request overhead at concurrency 1 (time between requests at the stub minus the raw "
            f"client's {floor:.3f} ms): {', '.join(parts)}. Target under 1 ms: "
            f"{'met' if overhead < 1 else 'not met'}."
        )
        if "lmeval" in one:
            out.append(
                f"End to end at concurrency 1, each request costs hashhop "
                f"{1000 / one['cli']['e2e_req_per_s']:.2f} ms and lm-eval "
                f"{1000 / one['lmeval']['e2e_req_per_s']:.2f} ms of wall time."
            )
    top = next((r for r in rows if r["concurrency"] == 64 and "lmeval" in r), None)
    if top:
        send = top["hashhop"]["req_per_s"] / top["lmeval"]["req_per_s"]
        e2e = top["cli"]["e2e_req_per_s"] / top["lmeval"]["e2e_req_per_s"]
        out.append(
            f"Throughput at concurrency 64, target at least 5x lm-eval: send rate {send:.2f}x "
            f"({'met' if send >= 5 else 'not met'}); end to end {e2e:.2f}x ({'met' if e2e >= 5 else 'not met'})."
        )
    return out


def write_section(path: str, section: str) -> None:
    """Replace the `## Harness` section of the file (or append it), leaving the others alone."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find("## Harness\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--no-lmeval", action="store_true", help="hashhop and the raw client only")
    parser.add_argument("--lmeval-venv", default=LMEVAL_VENV)
    parser.add_argument("--write", metavar="FILE", help="put the table under '## Harness' in FILE")
    args = parser.parse_args(argv)
    rows = bench(args.requests, [int(c) for c in args.concurrency.split(",")], not args.no_lmeval, args.lmeval_venv)
    section = markdown(rows, args.requests)
    print(section)
    print(f"python {platform.python_version()}", file=sys.stderr)
    if args.write:
        write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
