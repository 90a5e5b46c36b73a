"""What prompt caching, shared contexts and batching save: the `standard` suite against the
billing OpenAI-compatible stub (tests/stub_server.py) at list-like prices, measured three ways.

1. one context per cell, uncached (`--no-share-contexts`, a stub that does not cache);
2. shared contexts with caching (the suites' default; the stub caches like OpenAI: 1,024+ token
   prompts, 128-token blocks of a prefix seen before);
3. shared contexts with caching and batching (`--batch`): run only when `hashhop bench` has the flag
   (the batch API branch); otherwise the script says so and skips it.

Prices (USD per million tokens): input 3, cached input 0.30, output 15. Prompts are sized in the
stub's own tokens (its tokenize endpoint), as for any model that counts. The bill is the stub's.

    PYTHONPATH=src python benchmarks/cost.py [--seeds 3] [--lengths 1K,...,128K] [-o runs/cost]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from stub_server import StubServer

from hashhop.cli import main

PRICES = {"price_in": 3.0, "price_out": 15.0, "price_cached": 0.30}  # the stub's billing, USD per million
WAYS = {  # (flags, does the stub cache?)
    "per-cell, uncached": (["--no-share-contexts"], False),
    "shared + caching": (["--share-contexts"], True),
    "shared + caching + batch": (["--share-contexts", "--batch"], True),
}


def has_batch() -> bool:
    """Whether this hashhop's bench takes --batch (the batch API work may not be merged yet)."""
    out = subprocess.run([sys.executable, "-m", "hashhop", "bench", "--help"], capture_output=True, text=True).stdout
    return "--batch" in out


def sweep_file(folder: str, seeds: int, lengths: str | None) -> str:
    """The standard suite, with fewer seeds or lengths when asked (the tag says it is not standard@2)."""
    path = os.path.join(folder, "cost-sweep.toml")
    grid = [f"seeds = {list(range(seeds))}"]
    if lengths:
        grid.append("lengths = [" + ", ".join(f'"{x}"' for x in lengths.split(",")) + "]")
    with open(path, "w") as f:
        f.write('name = "cost"\nsuite = "standard"\n\n[grid]\n' + "\n".join(grid) + "\n")
    return path


def measure(way: str, flags: list[str], caching: bool, sweep: str, out: str) -> dict:
    """One bench run against a fresh stub (an empty cache): the stub's bill and the run's wall time."""
    shutil.rmtree(out, ignore_errors=True)
    with StubServer(caching=caching, **PRICES) as stub:
        argv = ["bench", "--sweep", sweep, "--model", "openai:stub", "--base-url", f"{stub.url}/v1", *flags]
        argv += ["--price-in", "3", "--price-out", "15", "--price-cached", "0.3", "--concurrency", "16"]
        argv += ["--no-figures", "--no-progress", "-o", out]
        started = time.perf_counter()
        code = main(argv)
        bill = {"usd": stub.billing.billed, **stub.billing.tally}
    return {"way": way, "code": code, "wall_s": time.perf_counter() - started, **bill}


def report(rows: list[dict]) -> None:
    base = rows[0]["usd"]
    print(f"{'way':<26} {'requests':>8} {'prompt':>12} {'cached':>12} {'output':>9} {'billed USD':>11} "
          f"{'x cheaper':>9} {'wall s':>7}")  # fmt: skip
    for r in rows:
        print(
            f"{r['way']:<26} {r['requests']:>8,} {r['prompt_tokens']:>12,} {r['cached_tokens']:>12,} "
            f"{r['completion_tokens']:>9,} {r['usd']:>11.4f} {base / r['usd'] if r['usd'] else 0:>9.1f} "
            f"{r['wall_s']:>7.1f}"
        )


def run(args) -> None:
    os.makedirs(args.output, exist_ok=True)
    sweep = sweep_file(args.output, args.seeds, args.lengths)
    rows = []
    for way, (flags, caching) in WAYS.items():
        if "--batch" in flags and not has_batch():
            print(f"{way}: skipped, this hashhop's bench has no --batch yet (the batch API branch)")
            continue
        folder = os.path.join(args.output, way.replace(" ", "").replace(",", "-"))
        rows.append(measure(way, flags, caching, sweep, folder))
    report(rows)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds of the standard grid (default its 3)")
    p.add_argument("--lengths", help="comma-separated lengths instead of the suite's 1K..128K")
    p.add_argument("-o", "--output", default="runs/cost")
    run(p.parse_args())
