"""`python -m hashhop_train.read --prompt FILE`: answer the question at the end of a prompt file.

Runs alone (world 1) or under torchrun (`torchrun --nproc_per_node=2 -m hashhop_train.read ...`):
each rank reads only its slice of FILE (see sharded.py); gloo on CPU, nccl where CUDA is present,
as in training. The file is the whole prompt, as any model would get it: the context, then the
question. Rank 0 prints the completion the model writes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

from hashhop.core.errors import HashhopError


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hashhop_train.read", description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", required=True, help="UTF-8 prompt file (every rank reads the same path)")
    ap.add_argument("--checkpoint", default="builtin")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a collective waits for a rank")
    args = ap.parse_args(argv)
    import torch

    from . import checkpoint
    from .infer import answer, refuse_over_long
    from .sharded import ShardedReader

    rank, world = _dist(args.timeout)
    try:
        model = checkpoint.load(args.checkpoint)[0]
        with torch.no_grad():
            reader = ShardedReader(model, args.prompt, rank, world)
            refuse_over_long(reader)  # as the ltm backend: never print a cut copy of a longer hash
            written = answer(reader)
    except HashhopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if rank == 0:
        print(written.text)
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
