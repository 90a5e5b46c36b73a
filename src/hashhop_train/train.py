"""The training loop: curriculum stages, AdamW with warmup + cosine decay, gradient clipping,
torch.distributed data parallel (gloo on CPU, nccl on GPUs) when launched by torchrun.

Writes to `out_dir`: model.safetensors + config.json (rank 0, at the end and every
`save_every` steps), and train_log.jsonl (append-only, one JSON object per logged step).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .config import RunConfig, Stage
from .data import eval_batch, stage_batch
from .model import HopModel, count_parameters


def lr_at(progress: float, cfg) -> float:
    """Linear warmup over `warmup` steps' worth of progress, then cosine decay to min_lr."""
    warm = cfg.warmup / max(1, cfg.steps)
    if progress < warm:
        return cfg.lr * max(progress, 1 / max(1, cfg.steps)) / warm
    t = (progress - warm) / max(1e-9, 1 - warm)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def stage_at(stages: tuple[Stage, ...], progress: float) -> tuple[Stage, float]:
    """The stage running at overall `progress` in [0, 1], and the progress inside it."""
    at = progress * sum(s.steps for s in stages)
    for stage in stages:
        if at < stage.steps:
            return stage, at / max(1, stage.steps - 1)
        at -= stage.steps
    return stages[-1], 1.0


def progress_at(step: int, elapsed: float, cfg) -> float:
    """Training progress: steps done, or the time budget used if that is further along.

    On a busy machine the whole schedule (stages and learning rate) compresses to fit
    `time_limit_s`, so a run always ends with its last stage and a decayed learning rate.
    """
    p = step / max(1, cfg.steps)
    if cfg.time_limit_s:
        p = max(p, elapsed / cfg.time_limit_s)
    return p


def loss_and_accuracy(model, batch) -> tuple[torch.Tensor, float]:
    logits = model(batch.ctx_ids, batch.pad, batch.q_ids, batch.hops, batch.skip)
    flat, target = logits.flatten(0, 1), batch.target.flatten()
    loss = F.cross_entropy(flat, target, ignore_index=-100)
    rows = target >= 0
    acc = (flat.argmax(-1)[rows] == target[rows]).float().mean().item()
    return loss, acc


@torch.no_grad()
def evaluate_stages(model, run: RunConfig) -> dict:
    """Pointer accuracy on fixed evaluation batches (one per stage, never-trained seeds)."""
    model.eval()
    out = {}
    for stage in run.train.stages:
        batch = eval_batch(stage, 8, run.train.queries, run.model.max_seg_len, seed=3)
        out[stage.name] = round(loss_and_accuracy(model, batch)[1], 4)
    model.train()
    return out


def _dist():
    """(rank, world) and init the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return int(os.environ.get("RANK", "0")), world


def _agree(value: float, world: int) -> float:
    """All ranks use rank 0's progress, so they stop on the same step (a time budget differs per process)."""
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    torch.distributed.broadcast(t, src=0)
    return float(t.item())


def _log(path: Path, record: dict):
    with path.open("a") as f:  # append-only: a crash never loses earlier lines
        f.write(json.dumps(record) + "\n")
        f.flush()


def train(run: RunConfig, out_dir: str | Path, echo=print) -> dict:
    """Train from scratch per `run`; returns the final summary (also in config.json)."""
    rank, world = _dist()
    tc = run.train
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu")
    model = HopModel(run.model).to(device)
    # far_bias is used by the dense architecture only: tell DDP some parameters may get no gradient.
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.jsonl"
    rng = np.random.default_rng(tc.seed * 7919 + rank)
    start, total = time.time(), tc.steps
    if rank == 0:
        _log(
            log_path,
            {
                "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "world": world,
                "parameters": count_parameters(model),
                "config": run.to_dict(),
            },
        )
        echo(f"training {count_parameters(model):,} parameters, {total} steps, world {world}, out {out}")
    step = 0
    while True:
        elapsed = time.time() - start
        progress = _agree(progress_at(step, elapsed, tc), world)
        if progress >= 1.0:
            break
        stage, within = stage_at(tc.stages, progress)
        batch = stage_batch(
            stage, within, tc.batch, tc.queries, run.model.max_seg_len, rng, tc.seed, (step * world + rank) * tc.batch
        )
        for group in opt.param_groups:
            group["lr"] = lr_at(progress, tc)
        loss, acc = loss_and_accuracy(ddp, batch.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip)
        opt.step()
        if rank == 0 and step % tc.log_every == 0:
            rec = {
                "step": step,
                "stage": stage.name,
                "loss": round(loss.item(), 4),
                "acc": round(acc, 4),
                "lr": round(opt.param_groups[0]["lr"], 6),
                "segments": int(batch.ctx_ids.shape[1]),
                "elapsed_s": round(time.time() - start, 1),
            }
            _log(log_path, rec)
            echo(json.dumps(rec))
        if rank == 0 and tc.eval_every and step and step % tc.eval_every == 0:
            checkpoint.save(model, run, out, {"steps_done": step + 1})
        step += 1
    summary = {
        "steps_done": step,
        "train_seconds": round(time.time() - start, 1),
        "world": world,
        "parameters": count_parameters(model),
    }
    if rank == 0:
        model.cpu()
        summary["eval_pointer_accuracy"] = evaluate_stages(model, run)
        checkpoint.save(model, run, out, summary)
        _log(log_path, {"final": summary})
        echo(json.dumps({"final": summary}))
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return summary


def main(argv=None):
    """Entry point for `torchrun -m hashhop_train.train --config FILE --out DIR [key=value ...]`."""
    import argparse

    from .config import load

    parser = argparse.ArgumentParser(prog="hashhop_train.train")
    parser.add_argument("--config")
    parser.add_argument("--out", required=True)
    args, rest = parser.parse_known_args(argv)
    train(load(args.config, rest), args.out)


if __name__ == "__main__":
    main()
