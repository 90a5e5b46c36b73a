"""The training loop: curriculum stages, AdamW with warmup + cosine decay, gradient clipping,
torch.distributed data parallel (gloo on CPU, nccl on GPUs) when launched by torchrun.

Writes to `out_dir`: model.safetensors + config.json (rank 0, at the end and every
`checkpoint_every` steps), and train_log.jsonl (append-only, one JSON object per logged step).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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


def loss_and_accuracy(model, batch) -> tuple[torch.Tensor, dict[str, float]]:
    """Pointer loss plus the question reader's four losses; accuracies: pointer, and reader (all four right)."""
    logits, q = model(batch.ctx_ids, batch.pad, batch.q_ids, batch.hops, batch.skip, batch.tail_ids, batch.tail_pad)
    flat, target = logits.flatten(0, 1), batch.target.flatten()
    loss = F.cross_entropy(flat, target, ignore_index=-100)
    heads = (q.start, q.steps, q.mode, q.quote)
    loss = loss + sum(F.cross_entropy(h, batch.asked[:, i]) for i, h in enumerate(heads))
    rows = target >= 0
    acc = (flat.argmax(-1)[rows] == target[rows]).float().mean().item()
    right = torch.stack([h.argmax(-1) == batch.asked[:, i] for i, h in enumerate(heads)]).all(0)
    return loss, {"acc": acc, "reader": right.float().mean().item()}


@torch.no_grad()
def evaluate_stages(model, run: RunConfig) -> dict:
    """Pointer accuracy on fixed evaluation batches (one per stage, never-trained seeds)."""
    model.eval()
    out = {}
    for stage in run.train.stages:
        batch = eval_batch(stage, 8, run.train.queries, run.model, seed=3)
        accs = loss_and_accuracy(model, batch)[1]
        out[stage.name] = round(accs["acc"], 4)
        out[stage.name + "_reader"] = round(accs["reader"], 4)
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


@dataclass(frozen=True)
class Session:
    """What one training process works with: the run, its model (and DDP wrapper), where it writes."""

    run: RunConfig
    model: HopModel
    ddp: torch.nn.Module  # the model itself in a single process
    opt: torch.optim.Optimizer
    device: torch.device
    rank: int
    world: int
    out: Path
    echo: Callable[[str], object]

    @property
    def log_path(self) -> Path:
        return self.out / "train_log.jsonl"


def _open_session(run: RunConfig, out_dir: str | Path, echo) -> Session:
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
    return Session(run, model, ddp, opt, device, rank, world, out, echo)


def _log_start(s: Session) -> None:
    record = {
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": s.world,
        "parameters": count_parameters(s.model),
        "config": s.run.to_dict(),
    }
    _log(s.log_path, record)
    s.echo(
        f"training {count_parameters(s.model):,} parameters, {s.run.train.steps} steps, world {s.world}, out {s.out}"
    )


def _step(s: Session, step: int, progress: float, rng) -> tuple[Stage, torch.Tensor, dict, object]:
    """One optimizer step at `progress`: (stage, loss, accuracy, batch)."""
    tc = s.run.train
    stage, within = stage_at(tc.stages, progress)
    seed_offset = (step * s.world + s.rank) * tc.batch
    batch = stage_batch(stage, within, tc.batch, tc.queries, s.run.model, rng, tc.seed, seed_offset)
    for group in s.opt.param_groups:
        group["lr"] = lr_at(progress, tc)
    loss, acc = loss_and_accuracy(s.ddp, batch.to(s.device))
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(s.model.parameters(), tc.clip)
    s.opt.step()
    return stage, loss, acc, batch


def _log_step(s: Session, step: int, stage: Stage, loss: torch.Tensor, acc: dict, batch, start: float) -> None:
    record = {
        "step": step,
        "stage": stage.name,
        "loss": round(loss.item(), 4),
        "acc": round(acc["acc"], 4),
        "reader_acc": round(acc["reader"], 4),
        "lr": round(s.opt.param_groups[0]["lr"], 6),
        "segments": int(batch.ctx_ids.shape[1]),
        "elapsed_s": round(time.time() - start, 1),
    }
    _log(s.log_path, record)
    s.echo(json.dumps(record))


def _run_steps(s: Session, start: float) -> int:
    """Step until the schedule (or the time budget) is done; returns the steps taken."""
    tc = s.run.train
    rng = np.random.default_rng(tc.seed * 7919 + s.rank)
    step = 0
    while True:
        progress = _agree(progress_at(step, time.time() - start, tc), s.world)
        if progress >= 1.0:
            return step
        stage, loss, acc, batch = _step(s, step, progress, rng)
        if s.rank == 0 and step % tc.log_every == 0:
            _log_step(s, step, stage, loss, acc, batch, start)
        if s.rank == 0 and tc.checkpoint_every and step and step % tc.checkpoint_every == 0:
            checkpoint.save(s.model, s.run, s.out, {"steps_done": step + 1})
        step += 1


def _finish(s: Session, summary: dict) -> None:
    """Rank 0: evaluate on the fixed batches, save the final checkpoint, log the summary."""
    s.model.cpu()
    summary["eval_pointer_accuracy"] = evaluate_stages(s.model, s.run)
    checkpoint.save(s.model, s.run, s.out, summary)
    _log(s.log_path, {"final": summary})
    s.echo(json.dumps({"final": summary}))


def train(run: RunConfig, out_dir: str | Path, echo=print) -> dict:
    """Train from scratch per `run`; returns the final summary (also in config.json)."""
    s = _open_session(run, out_dir, echo)
    start = time.time()
    if s.rank == 0:
        _log_start(s)
    step = _run_steps(s, start)
    summary = {
        "steps_done": step,
        "train_seconds": round(time.time() - start, 1),
        "world": s.world,
        "parameters": count_parameters(s.model),
    }
    if s.rank == 0:
        _finish(s, summary)
    if s.world > 1:
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
