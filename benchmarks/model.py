"""Benchmark of the trained long-context model (issue 5): run by hand, figures to docs/benchmarks.md.

  python benchmarks/model.py accuracy [--model builtin] [--lengths 4K,16K,64K,256K,1M] [--hops 1,2,4,8]
  python benchmarks/model.py cost [--model builtin] [--sparse 16K,...,1M] [--dense 4K,16K,64K]
  python benchmarks/model.py huge --tokens 10M
  python benchmarks/model.py table FILE.json ...   (markdown tables from --json outputs)

accuracy: exact match by context length (tokens of tiktoken cl100k_base), hops, cot and skip,
on fixed evaluation seeds. cost: forward time (segmenting + keys + one 2-hop batch of 16 queries; best of 3 up to 1M) and
peak RSS for the sparse and the dense architecture with the same weights, each length in its
own subprocess (so peak memory is per length), measured in the same run; the growth exponent is
the least-squares slope of log(time) and log(memory added by the forward: peak RSS minus RSS
before it) against log(length) from 16K to 1M.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time

TOKENIZER = "tiktoken:cl100k_base"


def _sizes(text: str) -> list[int]:
    from hashhop.generator.spec import parse_size

    return [parse_size(s) for s in text.split(",") if s]


def _load(model_path: str, threads: int, attention: str | None = None):
    import torch

    from hashhop_train import checkpoint

    torch.set_num_threads(threads)
    overrides = {"attention": attention} if attention else {}
    return checkpoint.load(model_path, **overrides)[0]


def accuracy(args):
    from hashhop_train.evaluate import problem, score

    model = _load(args.model, args.threads)
    rows = []
    for tokens in _sizes(args.lengths):
        for hops in [int(h) for h in args.hops.split(",")]:
            prob = problem(tokens, hops, args.queries, TOKENIZER, distractors=args.distractors)
            for cell in score(model, prob, tokens=tokens):
                rows.append(
                    {
                        **cell.__dict__,
                        "accuracy": round(cell.accuracy, 4),
                        "distractors": args.distractors,
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def _one_cost(model_path: str, attention: str, tokens: int, threads: int) -> dict:
    """Runs in a fresh subprocess: time and peak RSS of reading one context and answering 2 hops."""
    import torch

    from hashhop_train.evaluate import problem
    from hashhop_train.infer import Reader

    model = _load(model_path, threads, attention)
    prob = problem(tokens, 2, 16, TOKENIZER)
    text = prob.prompt()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu = [], []
    for _ in range(3 if tokens <= 1_000_000 else 1):  # best of 3: the machine is shared
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            reader = Reader(model, text)
            answers = reader.answer([q.start for q in prob.queries], 2, cot=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # CPU seconds of this process: less sensitive to other jobs
        del reader
    seconds = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    right = sum(a == [q.answer] for a, q in zip(answers, prob.queries))
    return {
        "attention": attention,
        "tokens": tokens,
        "segments": prob.n_lines * 3,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(min(cpu), 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_mb": round(base_rss / 1024, 1),
        "added_mb": round(max(peak - base_rss, 1) / 1024, 1),
        "accuracy_2hop_skip": round(right / len(prob.queries), 4),
    }


def _fit(rows, key):
    pts = [(math.log(r["tokens"]), math.log(r[key])) for r in rows if 16_000 <= r["tokens"] <= 1_000_000]
    if len(pts) < 2:
        return None
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts), 3)


def cost(args):
    rows = []
    for attention, lengths in (("dense", args.dense), ("sparse", args.sparse)):
        for tokens in _sizes(lengths):
            cmd = [
                sys.executable,
                __file__,
                "_one",
                "--model",
                args.model,
                "--attention",
                attention,
                "--tokens",
                str(tokens),
                "--threads",
                str(args.threads),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                rows.append({"attention": attention, "tokens": tokens, "failed": done.stderr.strip()[-300:]})
            else:
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    ok = [r for r in rows if "seconds" in r]
    for attention in ("sparse", "dense"):
        mine = [r for r in ok if r["attention"] == attention]
        fit = {
            "attention": attention,
            "time_exponent": _fit(mine, "seconds"),
            "cpu_time_exponent": _fit(mine, "cpu_seconds"),
            "memory_exponent": _fit(mine, "added_mb"),
        }
        print(json.dumps(fit), flush=True)
        rows.append(fit)
    return rows


def table(paths: list[str]) -> str:
    """Markdown tables from the JSON files written with --json (accuracy and cost rows)."""
    acc, cost_rows, fits = [], [], []
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                (acc if "correct" in r else fits if "time_exponent" in r else cost_rows).append(r)
    lines = []
    if acc:
        lines += [
            "| context (cl100k tokens) | segments | hops | mode | distractors | exact match | queries |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['tokens']:,} | {r['n_segments']:,} | {r['hops']} | {'cot' if r['cot'] else 'skip'} | "
            f"{r.get('distractors', 0)} | {r['accuracy']:.3f} | {r['correct']}/{r['queries']} |"
            for r in acc
        ]
    if cost_rows:
        lines += [
            "",
            "| architecture | tokens | segments | wall s | CPU s | peak RSS MB | added MB | 2-hop skip acc |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['attention']} | {r['tokens']:,} | {r.get('segments', '-')} | {r.get('seconds', 'failed')} | "
            f"{r.get('cpu_seconds', '-')} | "
            f"{r.get('peak_rss_mb', '-')} | {r.get('added_mb', '-')} | {r.get('accuracy_2hop_skip', '-')} |"
            for r in cost_rows
        ]
    if fits:
        lines += [
            "",
            "| architecture | wall-time exponent | CPU-time exponent | memory exponent |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['attention']} | {r['time_exponent']} | {r.get('cpu_time_exponent', '-')} | {r['memory_exponent']} |"
            for r in fits
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["accuracy", "cost", "huge", "table", "_one"])
    parser.add_argument("files", nargs="*", help="table: JSON files written with --json")
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--lengths", default="4K,16K,64K,256K,1M")
    parser.add_argument("--hops", default="1,2,4,8")
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--sparse", default="4K,16K,64K,256K,1M,4M,10M")
    parser.add_argument("--dense", default="4K,16K,64K")
    parser.add_argument("--attention", default="sparse")
    parser.add_argument("--tokens", default="10M")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--distractors", type=int, default=0, help="decoys per queried hash sharing a long prefix/suffix"
    )
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.what == "table":
        print(table(args.files))
        return
    print(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            }
        ),
        flush=True,
    )
    if args.what == "_one":
        print(json.dumps(_one_cost(args.model, args.attention, _sizes(args.tokens)[0], args.threads)))
        return
    if args.what == "huge":
        args.lengths, args.hops, args.queries = args.tokens, "2,4,8", 64
    rows = accuracy(args) if args.what in ("accuracy", "huge") else cost(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
