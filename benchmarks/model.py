"""Benchmark of the trained long-context model (issue 5): run by hand, figures to docs/benchmarks.md.

  python benchmarks/model.py grid [--lengths 1M] [--queries 128]   (alphabet x hash length x format x line form)
  python benchmarks/model.py dialects [--lengths 64K]   (every line form and phrasing, trained and held out)
  python benchmarks/model.py accuracy [--model builtin] [--lengths 4K,16K,64K,256K,1M] [--hops 1,2,4,8]
  python benchmarks/model.py cost [--model builtin] [--sparse 16K,...,1M] [--dense 4K,16K,64K]
  python benchmarks/model.py huge --tokens 10M --hops 2,4,8 --queries 128
  python benchmarks/model.py huge --tokens 100M --hops 4 --queries 16
  python benchmarks/model.py table FILE.json ...   (markdown tables from --json outputs)

Every query is a whole prompt text (the harness's template, a dialect); the model's completion
must equal the expected text exactly. accuracy: exact match by context length (tokens of tiktoken cl100k_base), hops, cot and skip,
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


GRID_ALPHABETS = ("letters", "hex", "base32", "digits", "dna")
GRID_LENGTHS = (8, 16, 32)
GRID_FORMS = ("spaced", "tight")
ASKS = ((2, False), (4, True))  # 2-hop skip steps and 4-hop chain of thought


def _cell_rows(model, tokens: int, spec: dict, dialect, asks, queries: int, hops: int = 4) -> list[dict]:
    """Rows of one problem asked in one dialect; a problem the generator cannot build is a row saying why."""
    from hashhop.core.errors import SpecError
    from hashhop_train.evaluate import problem, score

    try:
        prob = problem(tokens, hops, queries, TOKENIZER, **spec)
    except SpecError as exc:
        return [{"tokens": tokens, **spec, "dialect": dialect.form, "infeasible": str(exc)}]
    rows = []
    for cell in score(model, prob, dialect, list(asks), tokens):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append({**cell.__dict__, "accuracy": round(cell.accuracy, 4), "peak_rss_mb": round(rss, 1)})
    return rows


def _emit(rows: list[dict], new: list[dict]) -> None:
    for r in new:
        rows.append(r)
        print(json.dumps(r), flush=True)


def grid(args):
    """Every alphabet x hash length x plain/Magic format x line form, at one length."""
    from hashhop_train.dialects import Dialect

    model = _load(args.model, args.threads)
    rows: list[dict] = []
    for tokens in _sizes(args.lengths):
        for alphabet in args.alphabets.split(","):
            for hash_len in [int(x) for x in args.hash_lens.split(",")]:
                for fmt in ("plain", "magic"):
                    for form in args.forms.split(","):
                        dialect = Dialect(form, "magic" if fmt == "magic" else "default", fmt == "plain")
                        spec = {
                            "alphabet": alphabet,
                            "hash_len": hash_len,
                            "format": fmt,
                            "distractors": args.distractors,
                        }
                        _emit(rows, _cell_rows(model, tokens, spec, dialect, ASKS, args.queries))
    return rows


def accuracy(args):
    """Letters, 16 characters, the default dialect: by length and hop count (huge: 10M, 100M)."""
    from hashhop_train.dialects import Dialect

    model = _load(args.model, args.threads)
    rows: list[dict] = []
    for tokens in _sizes(args.lengths):
        for hops in [int(h) for h in args.hops.split(",")]:
            spec = {"distractors": args.distractors}
            asks = [(hops, True), (hops, False)]
            _emit(rows, _cell_rows(model, tokens, spec, Dialect(), asks, args.queries, hops))
    return rows


def dialects(args):
    """Every phrasing (trained and held out), line form (trained and held out), chat and plain text."""
    from hashhop_train.dialects import HELD_OUT_FORM, HELD_OUT_PHRASING, LINE_FORMS, PHRASINGS, Dialect

    model = _load(args.model, args.threads)
    rows: list[dict] = []
    tokens = _sizes(args.lengths)[0]
    cases = [Dialect(form, "default") for form in [*LINE_FORMS, HELD_OUT_FORM[1]]]
    cases += [Dialect("spaced", p, chat) for p in PHRASINGS for chat in (True, False)]
    for dialect in cases:
        _emit(rows, _cell_rows(model, tokens, {}, dialect, ASKS, args.queries))
    from hashhop_train import evaluate

    held = Dialect("spaced", "held-out")
    prob = evaluate.problem(tokens, 4, args.queries, TOKENIZER)
    for cell in _score_template(model, prob, held, HELD_OUT_PHRASING, tokens):
        _emit(rows, [{**cell, "dialect": "spaced/held-out phrasing"}])
    return rows


def _score_template(model, prob, dialect, template, tokens):
    from hashhop_train.batch import answer_all
    from hashhop_train.cache import ReaderCache
    from hashhop_train.evaluate import expected

    cache, context, out = ReaderCache(model, 0), prob.prompt(), []
    for hops, cot in ASKS:
        readers = [cache.get(dialect.prompt(context, q.start, hops, cot, template)) for q in prob.queries]
        right = sum(a.text == expected(q.path, hops, cot, False) for a, q in zip(answer_all(readers), prob.queries))
        out.append({"tokens": tokens, "hops": hops, "cot": cot, "queries": len(readers), "correct": right,
                    "accuracy": round(right / len(readers), 4)})  # fmt: skip
    return out


def _one_cost(model_path: str, attention: str, tokens: int, threads: int) -> dict:
    """Runs in a fresh subprocess: time and peak RSS of reading one prompt and answering its 2-hop question."""
    import torch

    from hashhop_train.dialects import Dialect
    from hashhop_train.evaluate import expected, problem
    from hashhop_train.infer import Reader, answer

    model = _load(model_path, threads, attention)
    prob = problem(tokens, 2, 16, TOKENIZER)
    q = prob.queries[0]
    text = Dialect().prompt(prob.prompt(), q.start, 2, False)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu = [], []
    for _ in range(3 if tokens <= 1_000_000 else 1):  # best of 3: the machine is shared
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            reader = Reader(model, text)
            written = answer(reader)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # CPU seconds of this process: less sensitive to other jobs
        n = reader.n
        del reader
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "attention": attention,
        "tokens": tokens,
        "segments": n,
        "seconds": round(min(times), 3),
        "cpu_seconds": round(min(cpu), 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_mb": round(base_rss / 1024, 1),
        "added_mb": round(max(peak - base_rss, 1) / 1024, 1),
        "right": written.text == expected(q.path, 2, False, False),
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


def _acc_line(r: dict) -> str:
    head = f"| {r['tokens']:,} | {r.get('alphabet', 'letters')} | {r.get('hash_len', 16)} | {r.get('format', 'plain')} | {r.get('dialect', '')} |"
    if "infeasible" in r:
        return head + f" - | - | not built: {r['infeasible'][:80]} | - |"
    mode = "cot" if r["cot"] else "skip"
    return head + f" {r['hops']} | {mode} | {r['accuracy']:.3f} | {r['correct']}/{r['queries']} |"


def table(paths: list[str]) -> str:
    """Markdown tables from the JSON files written with --json (accuracy and cost rows)."""
    acc, cost_rows, fits = [], [], []
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                if "machine" not in r:
                    (
                        acc if "correct" in r or "infeasible" in r else fits if "time_exponent" in r else cost_rows
                    ).append(r)
    lines = []
    if acc:
        lines += [
            "| context (cl100k tokens) | alphabet | hash length | format | dialect | hops | mode | exact match | queries |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_acc_line(r) for r in acc]
    if cost_rows:
        lines += [
            "",
            "| architecture | tokens | segments | wall s | CPU s | peak RSS MB | added MB | 2-hop answer right |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['attention']} | {r['tokens']:,} | {r.get('segments', '-')} | {r.get('seconds', 'failed')} | "
            f"{r.get('cpu_seconds', '-')} | "
            f"{r.get('peak_rss_mb', '-')} | {r.get('added_mb', '-')} | {r.get('right', '-')} |"
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
    parser.add_argument("what", choices=["accuracy", "grid", "dialects", "cost", "huge", "table", "_one"])
    parser.add_argument("files", nargs="*", help="table: JSON files written with --json")
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--lengths", default="4K,16K,64K,256K,1M")
    parser.add_argument("--hops", default="1,2,4,8")
    parser.add_argument("--queries", type=int, default=128)
    parser.add_argument("--alphabets", default=",".join(GRID_ALPHABETS))
    parser.add_argument("--hash-lens", default=",".join(map(str, GRID_LENGTHS)))
    parser.add_argument("--forms", default=",".join(GRID_FORMS))
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
        args.lengths = args.tokens
    run = {"accuracy": accuracy, "huge": accuracy, "grid": grid, "dialects": dialects, "cost": cost}[args.what]
    rows = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
