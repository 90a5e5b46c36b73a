"""Benchmark of sequence-parallel reading (issue 17): run by hand, figures to docs/benchmarks.md.

  python benchmarks/sharded.py state [--lengths 1M,10M] [--queries 128] [--distractors 2]
  python benchmarks/sharded.py scale [--tokens 1M,10M,100M,1G] [--ranks 1,2] [--queries 16] [--key-bits 4]
  python benchmarks/sharded.py table FILE.json ...
  python benchmarks/sharded.py figure FILE.json ... -o docs/sharded.png

state: exact match and bytes of state per segment, before and after each change, on the same
problem: the single-process Reader (float16 keys, ids and text in RAM: before), then the
ShardedReader (text read back from the file) with float16, int8 and int4 keys. Asked: 2-hop skip
steps and 4-hop chain of thought, as benchmarks/model.py's grid.
scale: one context file per length (letters, 16 characters, cl100k tokens, evaluation seed) and
its questions (each query at 2 and 4 hops, chain of thought and skip steps), answered by
`python -m hashhop_train.read` alone (2 threads) or under `torchrun --nproc_per_node=N` (1
thread per rank): wall time, the read of the context and the answering, every rank's peak RSS.
Problem files are kept in --work and reused (their bytes depend on the seed only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

TOKENIZER = "tiktoken:cl100k_base"
ASKS_SCALE = ((2, False), (2, True), (4, False), (4, True))
ASKS_STATE = ((2, False), (4, True))
_PLACE = "\x00CONTEXT\x00"


def _sizes(text: str) -> list[int]:
    from hashhop.generator.spec import parse_size

    return [parse_size(s) for s in text.split(",") if s]


def _split(dialect, start: str, hops: int, cot: bool) -> tuple[str, str]:
    """(text before the context, text after it) of one prompt in `dialect`."""
    head, tail = dialect.prompt(_PLACE, start, hops, cot).split(_PLACE)
    return head, tail


def make_files(tokens: int, queries: int, work: Path, asks, distractors: int = 0) -> Path:
    """work/<tokens>/{context.txt, questions.jsonl, expected.json}; built once (renamed into place)."""
    from hashhop.generator.build import build
    from hashhop.generator.spec import Spec
    from hashhop_train.dialects import Dialect
    from hashhop_train.evaluate import EVAL_SEED, expected

    where = work / (f"{tokens}-{queries}-{len(asks)}" + (f"-d{distractors}" if distractors else ""))
    if (where / "expected.json").exists():
        return where
    where.mkdir(parents=True, exist_ok=True)
    spec = Spec(size=tokens, hops=4, queries=queries, tokenizer=TOKENIZER, seed=EVAL_SEED, distractors=distractors)
    prob = build(spec, 0)[0]
    dialect, rows, wants = Dialect(), [], []
    head = _split(dialect, "X", 1, False)[0]
    with open(where / "context.tmp", "w", encoding="utf-8") as f:
        f.write(head)
        for chunk in prob.chunks():
            f.write(chunk)
    os.replace(where / "context.tmp", where / "context.txt")
    for hops, cot in asks:
        for q in prob.queries:
            rows.append(json.dumps(_split(dialect, q.start, hops, cot)[1]))
            wants.append({"hops": hops, "cot": cot, "expected": expected(q.path, hops, cot, False)})
    (where / "questions.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (where / "expected.tmp").write_text(json.dumps(wants), encoding="utf-8")
    os.replace(where / "expected.tmp", where / "expected.json")
    return where


def _machine() -> dict:
    return {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}


def _accuracy(completions: list[str], wants: list[dict]) -> list[dict]:
    cells: dict[tuple, list[int]] = {}
    for text, want in zip(completions, wants, strict=True):
        cell = cells.setdefault((want["hops"], want["cot"]), [0, 0])
        cell[0] += text == want["expected"]
        cell[1] += 1
    return [
        {"hops": h, "mode": "cot" if c else "skip", "correct": r, "queries": n}
        for (h, c), (r, n) in sorted(cells.items())
    ]


def run_read(where: Path, ranks: int, key_bits: int, timeout: float) -> dict:
    """One `hashhop_train.read` over a problem's files: stats, wall time and accuracy per cell."""
    args = ["--context", str(where / "context.txt"), "--questions", str(where / "questions.jsonl")]
    args += ["--json", "--key-bits", str(key_bits), "--timeout", str(timeout)]
    env = dict(os.environ)
    if ranks == 1:
        cmd = [sys.executable, "-m", "hashhop_train.read", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
        cmd += ["-m", "hashhop_train.read", *args]
        env["OMP_NUM_THREADS"] = "1"
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"read failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    stats = lines[-1]["stats"]
    wants = json.loads((where / "expected.json").read_text())
    cells = _accuracy([x["completion"] for x in lines[:-1]], wants)
    return {**stats, "ranks": ranks, "wall_s": round(wall, 1), "cells": cells}


def scale(args) -> list[dict]:
    rows = []
    for tokens in _sizes(args.tokens):
        where = make_files(tokens, args.queries, Path(args.work), ASKS_SCALE)
        for ranks in [int(r) for r in args.ranks.split(",")]:
            if ranks == 1 and tokens > args.single_max:
                continue
            row = {"tokens": tokens, **run_read(where, ranks, args.key_bits, args.timeout), **_machine()}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def state(args) -> list[dict]:
    """Accuracy and bytes per segment: Reader (before), ShardedReader at 16, 8 and 4 key bits."""
    import torch

    from hashhop_train import checkpoint

    torch.set_num_threads(args.threads)
    model = checkpoint.load("builtin")[0]
    rows = []
    for tokens in _sizes(args.lengths):
        where = make_files(tokens, args.queries, Path(args.work), ASKS_STATE, args.distractors)
        for kind, bits in (("reader", 16), ("sharded", 16), ("sharded", 8), ("sharded", 4)):
            row = {"tokens": tokens, "distractors": args.distractors, "reader": kind, "key_bits": bits}
            row.update(_state_row(model, where, kind, bits))
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def _state_row(model, where: Path, kind: str, bits: int) -> dict:
    from hashhop_train.batch import answer_all, answer_views
    from hashhop_train.cache import ReaderCache
    from hashhop_train.sharded import ShardedReader
    from hashhop_train.slicefile import STRIDE

    questions = [json.loads(x) for x in (where / "questions.jsonl").read_text().splitlines()]
    wants = json.loads((where / "expected.json").read_text())
    t0 = time.perf_counter()
    if kind == "reader":  # every prompt is context + question, read through the prefix cache
        context = (where / "context.txt").read_text(encoding="utf-8")
        cache = ReaderCache(model, max_bytes=0)
        readers = [cache.get(context + q) for q in questions]
        state_b = readers[0].origin.nbytes / readers[0].origin.n  # ids + keys + text
        texts = [a.text for a in answer_all(readers)]
    else:
        reader = ShardedReader(model, str(where / "context.txt"), key_bits=bits)
        asked = reader.ask(questions)
        from hashhop_train.keystore import key_nbytes

        state_b = (sum(key_nbytes(b) for b in reader.key_blocks) + 8 * (reader.n_local // STRIDE + 1)) / reader.n_local
        texts = [a.text for a in answer_views(model, asked.tails(), asked.subset)]
    return {
        "bytes_per_segment": round(state_b, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "cells": _accuracy(texts, wants),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("state")
    st.add_argument("--lengths", default="1M,10M")
    st.add_argument("--queries", type=int, default=128)
    st.add_argument("--threads", type=int, default=2)
    st.add_argument("--distractors", type=int, default=0, help="decoys per queried hash")
    sc = sub.add_parser("scale")
    sc.add_argument("--tokens", default="1M,10M,100M,1G")
    sc.add_argument("--ranks", default="1,2")
    sc.add_argument("--queries", type=int, default=16)
    sc.add_argument("--key-bits", type=int, default=4)
    sc.add_argument("--single-max", type=float, default=1e8, help="longest context read by one process")
    sc.add_argument("--timeout", type=float, default=1800.0)
    for p in (st, sc):
        p.add_argument("--work", default="/tmp/hashhop-sharded")
        p.add_argument("--json", help="write the rows here too")
    tb = sub.add_parser("table")
    tb.add_argument("files", nargs="+")
    fg = sub.add_parser("figure")
    fg.add_argument("files", nargs="+")
    fg.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    if args.cmd == "table":
        from sharded_report import table

        print(table(args.files))
        return
    if args.cmd == "figure":
        from sharded_report import figure

        figure(args.files, args.output)
        return
    rows = state(args) if args.cmd == "state" else scale(args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
