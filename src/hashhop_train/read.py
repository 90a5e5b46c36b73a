"""`python -m hashhop_train.read`: answer questions at the end of a long prompt file.

  python -m hashhop_train.read --prompt FILE            (FILE is a whole prompt: context, then question)
  python -m hashhop_train.read --context FILE --questions Q.jsonl [--json]

With `--questions`, each line of Q.jsonl is a JSON string: the text that follows FILE in one
prompt (the question, as the harness would write it after the context). The context is read once
and every question is answered over it. Runs alone (world 1) or under torchrun
(`torchrun --nproc_per_node=2 -m hashhop_train.read ...`): each rank reads only its slice of FILE
(see sharded.py); gloo on CPU, nccl where CUDA is present, as in training. Rank 0 prints one
completion per question (with `--json`, one JSON object per question, then one with the timings
and every rank's peak RSS).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import sys
import time

from hashhop.core.errors import DatasetError, HashhopError


def _dist(timeout_s: float) -> tuple[int, int]:
    """(rank, world); init the process group with a timeout when launched by torchrun."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return int(os.environ.get("RANK", "0")), world


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m hashhop_train.read", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="UTF-8 prompt file: the context, then the question")
    src.add_argument("--context", help="UTF-8 context file that every question in --questions follows")
    ap.add_argument("--questions", help="JSONL file, one JSON string per line: the text after --context")
    ap.add_argument("--checkpoint", default="builtin")
    ap.add_argument("--key-bits", type=int, default=16, choices=(16, 8, 4), help="stored key precision")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a collective waits for a rank")
    ap.add_argument("--json", action="store_true", help="JSON lines: completions, then timings and memory")
    return ap


def _questions(args) -> list[str]:
    if args.prompt:
        return [""]
    if not args.questions:
        raise DatasetError("--context needs --questions Q.jsonl (one JSON string per line)")
    out = []
    with open(args.questions, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    text = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(
                        f"{args.questions}:{n}: not JSON ({exc.msg}): write one JSON string per line"
                    ) from None
                if not isinstance(text, str):
                    raise DatasetError(f"{args.questions}:{n}: expected a JSON string (the question text)")
                out.append(text)
    return out


def _answer(args, rank: int, world: int) -> tuple[list[str], dict]:
    import torch

    from . import checkpoint
    from .batch import answer_views
    from .infer import refuse_over_long
    from .keystore import key_nbytes
    from .sharded import ShardedReader

    questions = _questions(args)
    model = checkpoint.load(args.checkpoint)[0]
    t0 = time.perf_counter()
    with torch.no_grad():
        reader = ShardedReader(model, args.prompt or args.context, rank, world, key_bits=args.key_bits)
        t1 = time.perf_counter()
        asked = reader.ask(questions)
        refuse_over_long(asked)  # as the ltm backend: never print a cut copy of a longer hash
        answers = answer_views(model, asked.tails(), asked.subset)
    stats = {"read_s": t1 - t0, "answer_s": time.perf_counter() - t1, "segments": reader.n_ctx}
    stats["key_bytes_per_segment"] = sum(key_nbytes(b) for b in reader.key_blocks) / max(1, reader.n_local)
    stats["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    reader.close()
    return [a.text for a in answers], stats


def _per_rank(stats: dict, world: int) -> dict:
    """Every rank's peak RSS and time, gathered on rank 0."""
    if world == 1:
        return {**stats, "peak_rss_bytes": [stats["peak_rss_bytes"]]}
    import torch.distributed as dist

    every: list = [None] * world
    dist.all_gather_object(every, stats)
    return {**stats, "peak_rss_bytes": [s["peak_rss_bytes"] for s in every], "read_s": max(s["read_s"] for s in every)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rank, world = _dist(args.timeout)
    try:
        texts, stats = _answer(args, rank, world)
    except (HashhopError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, HashhopError) else 2
    stats = _per_rank({**stats, "world": world, "key_bits": args.key_bits}, world)
    if rank == 0:
        for text in texts:
            print(json.dumps({"completion": text}) if args.json else text)
        if args.json:
            print(json.dumps({"stats": stats}))
    if world > 1:
        import torch

        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
