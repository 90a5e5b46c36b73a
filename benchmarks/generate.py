"""Generator benchmark: throughput and peak RSS of `hashhop generate` against a naive
reference generator written the way Magic's `make_one` works (a numpy choice per hash, one Python
dict per hop level, the whole prompt in memory), measured in the same run.

    python benchmarks/generate.py [--sizes 1M,10M,100M] [--naive-sizes 1M,10M] [--write-docs]

Each measurement runs in a fresh subprocess, so its peak RSS is its own (os.wait4).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import string
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_LETTERS = string.ascii_letters


def _naive_hash(length: int) -> str:
    # As the reference draws a hash: one numpy choice of indices per hash, joined in Python.
    return "".join(_LETTERS[i] for i in np.random.choice(len(_LETTERS), length))


def naive_generate(n_tokens: int, hops: int = 2, length: int = 16, queries: int = 1) -> tuple[str, str]:
    """Magic's method, in our words: chars/3 sizing, one dict per hop level mapping each hash to the
    next, targets walked level by level, lines shuffled, the whole prompt built in memory."""
    n_chars = n_tokens * 3  # the reference assumes 3 characters per token
    n_chains = math.ceil(n_chars / ((2 * length + 3) * hops))
    levels = [{_naive_hash(length): _naive_hash(length) for _ in range(n_chains)}]
    for _ in range(hops - 1):
        levels.append({value: _naive_hash(length) for value in levels[-1].values()})
    lines = []
    for i, level in enumerate(levels):
        quote = "'" if i == len(levels) - 1 else ""
        lines.extend(f"{k} = {quote}{v}{quote}" for k, v in level.items())
    targets = dict(levels[0])
    for level in levels[1:]:
        targets = {head: level[value] for head, value in targets.items()}
    random.shuffle(lines)
    shuffled = list(targets.items())
    random.shuffle(shuffled)  # the reference draws this shuffle and throws it away
    completion = "".join(f"{h} = '{targets[h]}'\n" for h in list(targets)[:queries])
    return "\n".join(lines), completion


def child(args) -> dict:
    from hashhop.generator.dataset import write_jsonl  # imports are not part of the timing
    from hashhop.generator.spec import Spec

    start = time.perf_counter()
    cpu = time.process_time()
    if args.child == "naive":
        prompt, _ = naive_generate(args.tokens)
        with open(args.out, "w") as f:
            f.write(json.dumps({"prompt": prompt}) + "\n")
        size, tokens = len(prompt), None
    else:
        spec = Spec(size=args.tokens, hops=2, tokenizer=args.tokenizer)
        (sample,) = write_jsonl(spec, 1, args.out, workers=args.workers, progress=False)
        size, tokens = sample.n_chars, sample.n_tokens
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "chars": size,
        "tokens": tokens,
    }


def measure(kind: str, tokens: int, tokenizer: str = "chars", workers: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.jsonl")
        cmd = [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--tokens",
            str(tokens),
            "--tokenizer",
            tokenizer,
            "--workers",
            str(workers),
            "--out",
            out,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        result_text = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"benchmark child failed: {' '.join(cmd)}")
    result = json.loads(result_text)
    # ru_maxrss covers the largest process of the tree for one child; workers are forked from it.
    result.update(kind=kind, requested=tokens, tokenizer=tokenizer, workers=workers, peak_rss_mb=usage.ru_maxrss / 1024)
    result["mb_per_s"] = result["chars"] / result["seconds"] / 1e6
    return result


def table(rows: list[dict]) -> str:
    out = [
        "| generator | requested | tokenizer | workers | produced chars | measured tokens | seconds | MB/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['kind']} | {r['requested']:,} | {r['tokenizer']} | {r['workers']} | {r['chars']:,} | "
            f"{'' if r['tokens'] is None else format(r['tokens'], ',')} | {r['seconds']:.2f} | "
            f"{r['mb_per_s']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=["naive", "ours"])
    p.add_argument("--tokens", type=int)
    p.add_argument("--tokenizer", default="chars")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out")
    p.add_argument("--sizes", default="1M,10M,100M")
    p.add_argument("--naive-sizes", default="1M,10M")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    from hashhop.generator.spec import parse_size

    rows = []
    for size in [parse_size(s) for s in args.naive_sizes.split(",") if s]:
        rows.append(measure("naive", size))
    for size in [parse_size(s) for s in args.sizes.split(",") if s]:
        rows.append(measure("ours", size, "chars", 1))
        rows.append(measure("ours", size, "chars", 2))
        if size <= 10_000_000:
            rows.append(measure("ours", size, "tiktoken:cl100k_base", 1))
        rows.append(measure("ours", size, "tiktoken:cl100k_base", 2))
    report = summary(rows)
    print(report)
    if args.write_docs:
        write_docs(report)


def summary(rows: list[dict]) -> str:
    naive = {r["requested"]: r for r in rows if r["kind"] == "naive"}
    lines = [table(rows), ""]
    for r in rows:
        base = naive.get(r["requested"])
        if r["kind"] == "ours" and base and r["workers"] == 1:
            lines.append(
                f"- {r['requested']:,} tokens, {r['tokenizer']}, 1 worker: {r['mb_per_s'] / base['mb_per_s']:.1f}x "
                f"the naive generator's MB/s ({base['mb_per_s']:.1f} MB/s, {base['peak_rss_mb']:.0f} MB peak)."
            )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return f"Machine: {machine}. Date: {time.strftime('%Y-%m-%d')}.\n\n" + "\n".join(lines)


def write_docs(report: str):
    path = os.path.join(HERE, "..", "docs", "benchmarks.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find("## Generator")
    end = text.find("\n## ", start + 1) if start >= 0 else -1
    section = "## Generator\n\n`python benchmarks/generate.py --write-docs`\n\n" + report + "\n"
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
