"""Harness benchmark: hashhop's runner vs lm-eval's `local-chat-completions`, same stub, same run.

An instant-answer OpenAI-compatible stub runs in its own process and timestamps every completion
request it receives. Each harness sends the same chat prompts at concurrency 1, 16 and 64:
- throughput: requests per second as the stub saw them arrive (first to last request), so startup
  and task loading are excluded for both harnesses (end-to-end wall time is shown beside it);
- per-request overhead: at concurrency 1, the time between requests minus that of a bare raw-socket
  client driving the same stub in the same run (the floor: network + stub).
lm-eval lives in its own venv (created and filled on first use; torch pinned to the local CPU build).

    python benchmarks/harness.py [--requests 2000] [--concurrency 1,16,64] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

LMEVAL_VENV = "/tmp/lmeval-venv"
LMEVAL_PACKAGES = ["lm-eval[api]==0.4.13", "torch==2.13.0+cpu"]  # never a CUDA torch
QUERIES_PER_CONTEXT = 10
CONTEXT_CHARS = 2000
MACHINE = "2-core CPU, 24 GB RAM, Python 3.11, no GPU"
TRANSPORT: dict = {}  # the HTTP client hashhop's openai backend picked, for the report


# -- the instant-answer stub (its own process: `harness.py --serve PORT`) ----------------------
ANSWER = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "stub",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "abcdefghijklmnop"}}],
                     "usage": {"prompt_tokens": 600, "completion_tokens": 5, "total_tokens": 605}}).encode()


class _Stub(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive server: parses just enough to answer at once."""

    stats = {"n": 0, "first": 0.0, "last": 0.0}

    def connection_made(self, transport):
        self.transport, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in head else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            self._answer(head.split(b" ")[1])

    def _answer(self, path: bytes):
        if path.endswith(b"/completions"):
            s, now = _Stub.stats, time.time()
            s["first"] = s["first"] if s["n"] else now
            s["n"], s["last"] = s["n"] + 1, now
            body = ANSWER
        elif path == b"/reset":
            _Stub.stats = {"n": 0, "first": 0.0, "last": 0.0}
            body = b"{}"
        elif path == b"/stats":
            body = json.dumps(_Stub.stats).encode()
        else:  # /v1/models and anything else
            body = b'{"object": "list", "data": [{"id": "stub", "object": "model"}]}'
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)


def serve(port: int) -> int:
    async def main():
        server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())
    return 0


def start_stub():
    """The stub in a subprocess at a free port, once it answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", str(port)])
    for _ in range(200):
        try:
            stub_get(f"http://127.0.0.1:{port}", "/v1/models")
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stub did not start")


def stub_get(base_url: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base_url}{path}", timeout=5) as response:
        return json.loads(response.read())


# -- the prompts both harnesses send ----------------------------------------------------------
def dataset(n: int) -> list:
    """Enough hashhop samples (prompts included) for n queries, as `hashhop generate` writes them."""
    from hashhop import Spec, make_sample

    spec = Spec(size=CONTEXT_CHARS, hops=1, queries=QUERIES_PER_CONTEXT)
    return [make_sample(spec, i) for i in range(-(-n // QUERIES_PER_CONTEXT))]


def prompts(samples: list, n: int) -> list[dict]:
    """The n chat prompts (system, user, target) hashhop sends for these samples."""
    from hashhop.prompt import DEFAULT_TEMPLATE, render_query

    out = []
    for sample in samples:
        for q in sample.queries:
            p = render_query(DEFAULT_TEMPLATE, sample.prompt, q)
            out.append({"system": p.messages[0]["content"], "user": p.messages[1]["content"], "target": q.target})
    return out[:n]


# -- the floor: a bare keep-alive client over raw sockets ----------------------------------------
async def raw_client(port: int, body: bytes, n: int, concurrency: int) -> None:
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    remaining = [n]

    async def connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))


# -- hashhop ------------------------------------------------------------------------------------
async def run_hashhop(base_url: str, n: int, concurrency: int, run_dir: str, samples=None) -> None:
    """What `hashhop eval` does: plan sized samples (or take a dataset's), send them through the
    openai backend, score, store."""
    from hashhop.backends import get_backend
    from hashhop.prompt import DEFAULT_TEMPLATE
    from hashhop.runner import Planner, RunConfig, Runner, make_cell
    from hashhop.store import RunStore
    from hashhop.tokenizers import get_tokenizer

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
    cfg = {"url": f"{base_url}/v1/chat/completions", "concurrency": concurrency, "n": n, "task_dir": task_dir,
           "system": system}
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([python, "-c", LMEVAL_DRIVER, json.dumps(cfg)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"lm-eval failed:\n{done.stderr[-3000:]}")


# -- measuring ----------------------------------------------------------------------------------
def measure(base_url: str, n: int, run) -> dict:
    """Run `run()`, then read from the stub how many requests came and over how long."""
    urllib.request.urlopen(urllib.request.Request(f"{base_url}/reset", method="POST")).read()
    t0 = time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    stats = stub_get(base_url, "/stats")
    span = stats["last"] - stats["first"]
    rate = (stats["n"] - 1) / span if span > 0 else float("nan")
    return {"requests": stats["n"], "req_per_s": rate, "interval_ms": 1000 / rate, "wall_s": wall}


def bench(n: int, levels: list[int], lmeval: bool, venv: str) -> list[dict]:
    samples = dataset(n)
    items = prompts(samples, n)
    body = json.dumps({"model": "stub", "messages": [{"role": "system", "content": items[0]["system"]},
                                                     {"role": "user", "content": items[0]["user"]}],
                       "max_tokens": 64, "temperature": 0.0}).encode()
    python = ensure_lmeval(venv) if lmeval else None
    proc, port = start_stub()
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            task_dir = lmeval_task(items, tmp) if lmeval else None
            for c in levels:
                row = {"concurrency": c, "raw": measure(base_url, n, lambda: asyncio.run(raw_client(port, body, n, c)))}
                run_dir = os.path.join(tmp, f"run-{c}")
                row["hashhop"] = measure(base_url, n, lambda: asyncio.run(run_hashhop(base_url, n, c, run_dir,
                                                                                      samples)))
                row["hashhop_grid"] = measure(base_url, n, lambda: asyncio.run(run_hashhop(base_url, n, c,
                                                                                           run_dir + "-grid")))
                if lmeval:
                    row["lmeval"] = measure(base_url, n, lambda: run_lmeval(python, base_url, n, c, task_dir,
                                                                             items[0]["system"]))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rows


# -- reporting ----------------------------------------------------------------------------------
def _rate(row: dict, name: str) -> str:
    return f"{row[name]['req_per_s']:.0f}" if name in row else "-"


def _wall(row: dict, name: str) -> str:
    return f"{row[name]['wall_s']:.1f}" if name in row else "-"


def markdown(rows: list[dict], n: int) -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = ["## Harness", "",
             f"`python benchmarks/harness.py --requests {n}`, {date}, {MACHINE}; the cores were shared with "
             f"other work, so figures vary from run to run. One instant-answer OpenAI-compatible stub in its own "
             f"process; every harness sends the same {n} chat prompts ({QUERIES_PER_CONTEXT} queries on each "
             f"{CONTEXT_CHARS}-character context). req/s is counted at the stub from the first request to the "
             f"last (startup excluded); wall is end to end. hashhop (dataset) reads prebuilt samples, as lm-eval "
             f"reads its task file; hashhop (grid) also generates and sizes each context on the fly. "
             f"Versions: {_versions()}.", "",
             "| concurrency | raw client req/s | hashhop (dataset) req/s | hashhop (grid) req/s | lm-eval req/s | "
             "dataset / lm-eval | hashhop wall s (dataset, grid) | lm-eval wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['hashhop']['req_per_s'] / r['lmeval']['req_per_s']:.2f}x" if "lmeval" in r else "-"
        lines.append(f"| {r['concurrency']} | {_rate(r, 'raw')} | {_rate(r, 'hashhop')} | {_rate(r, 'hashhop_grid')} | "
                     f"{_rate(r, 'lmeval')} | {ratio} | {_wall(r, 'hashhop')}, {_wall(r, 'hashhop_grid')} | "
                     f"{_wall(r, 'lmeval')} |")
    lines += ["", *_verdicts(rows)]
    return "\n".join(lines) + "\n"


def _versions() -> str:
    from importlib import metadata

    transport = TRANSPORT.get("openai backend", "httpx")
    package = {"native": "httptools"}.get(transport, transport)  # the native client parses with httptools
    mine = f"hashhop {metadata.version('hashhop')} (`{transport}` HTTP client, {package} {metadata.version(package)})"
    return f"{mine}; {LMEVAL_PACKAGES[0].replace('[api]==', ' ')} `local-chat-completions` (aiohttp)"


def _verdicts(rows: list[dict]) -> list[str]:
    """Per-request overhead at concurrency 1, and the two targets, from the figures above."""
    out = []
    one = next((r for r in rows if r["concurrency"] == 1), None)
    if one:
        floor = one["raw"]["interval_ms"]
        parts = [f"{name} {one[key]['interval_ms'] - floor:.2f} ms" for name, key in
                 (("hashhop (dataset)", "hashhop"), ("hashhop (grid)", "hashhop_grid"), ("lm-eval", "lmeval"))
                 if key in one]
        overhead = one["hashhop"]["interval_ms"] - floor
        out.append(f"Per-request overhead at concurrency 1 (time between requests minus the raw client's "
                   f"{floor:.3f} ms): {', '.join(parts)}. Target under 1 ms: "
                   f"{'met' if overhead < 1 else 'not met'}.")
    top = next((r for r in rows if r["concurrency"] == 64 and "lmeval" in r), None)
    if top:
        ratio = top["hashhop"]["req_per_s"] / top["lmeval"]["req_per_s"]
        out.append(f"Throughput at concurrency 64: hashhop {ratio:.2f}x lm-eval. Target at least 5x: "
                   f"{'met' if ratio >= 5 else 'not met'}.")
    return out


def write_section(path: str, section: str) -> None:
    """Replace the `## Harness` section of the file (or append it), leaving the others alone."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find("## Harness\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
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
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the stub process
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve)
    rows = bench(args.requests, [int(c) for c in args.concurrency.split(",")], not args.no_lmeval, args.lmeval_venv)
    section = markdown(rows, args.requests)
    print(section)
    print(f"python {platform.python_version()}", file=sys.stderr)
    if args.write:
        write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
