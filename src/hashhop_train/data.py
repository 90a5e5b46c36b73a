"""Training and evaluation batches, generated on the fly from the hashhop generator.

Each sample is a fresh `hashhop` Problem (plain format, seeds that evaluation never uses);
the model gets the prompt's segments and each query's start hash. Labels (which segment holds
the answer) come from the generator's query positions, never from the text: a plain line is
`KEY = VALUE`, so the answer to the link on prompt line p is segment 3p + 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hashhop.generator.layout import Shape
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec

from .config import Stage
from .segments import line_value_segment, segment_ids

TRAIN_SEED_BASE = 1_000_000  # training specs use seeds >= this; evaluation sets use small seeds


@dataclass
class Batch:
    ctx_ids: torch.Tensor  # (B, n, L)
    pad: torch.Tensor  # (B, n) bool
    q_ids: torch.Tensor  # (B, m, L)
    hops: torch.Tensor  # (B, m)
    skip: torch.Tensor  # (B, m) bool
    target: torch.Tensor  # (B, m) answer segment, -100 for padding rows

    def to(self, device) -> Batch:
        return Batch(*(t.to(device) for t in (self.ctx_ids, self.pad, self.q_ids, self.hops, self.skip, self.target)))


def make_problem(
    lines: int, chain_hops: int, asked: int, queries: int, cot: bool, seed: int, index: int, distractors: int = 0
) -> Problem:
    """A plain-format problem with about `lines` lines: chains of `chain_hops`, decoys, the rest filler."""
    n_chains = max(queries, lines // (2 * chain_hops))
    # Decoys only where they fit: the context never grows past `lines` (the 4K-token training cap).
    distractors = min(distractors, max(0, lines - n_chains * chain_hops) // (queries * asked))
    n_fill = max(0, lines - n_chains * chain_hops - distractors * queries * asked)
    spec = Spec(
        size=1,
        hops=chain_hops,
        queries=queries,
        query_hops=asked,
        mid_chain=True,
        cot=cot,
        format="plain",
        seed=seed,
        distractors=distractors,
    )
    return Problem(spec, index, Shape(n_chains, n_fill, 0))


def sample_rows(problem: Problem, skip: bool, max_len: int):
    """(ctx_ids, rows): rows are (query ids, hops, skip, target) for the model's training view."""
    ctx = segment_ids(problem.prompt(), max_len)
    rows = []
    for q in problem.queries:
        if skip:  # one row: start hash in, final hash's segment out, hops steps inside
            rows.append((q.start, q.hops, True, line_value_segment(q.positions[-1])))
        else:  # chain of thought, teacher-forced: every hop is one row from the true previous hash
            rows += [(q.path[t], 1, False, line_value_segment(q.positions[t])) for t in range(q.hops)]
    return ctx, [(segment_ids(h, max_len)[0], hops, sk, tgt) for h, hops, sk, tgt in rows]


def collate(samples, max_len: int) -> Batch:
    n = max(len(c) for c, _ in samples)
    m = max(len(r) for _, r in samples)
    b = len(samples)
    ctx = np.zeros((b, n, max_len), np.int64)
    pad = np.ones((b, n), bool)
    q = np.zeros((b, m, max_len), np.int64)
    hops, skip = np.ones((b, m), np.int64), np.zeros((b, m), bool)
    target = np.full((b, m), -100, np.int64)
    for i, (c, rows) in enumerate(samples):
        ctx[i, : len(c)], pad[i, : len(c)] = c, False
        for j, (qi, h, sk, t) in enumerate(rows):
            q[i, j], hops[i, j], skip[i, j], target[i, j] = qi, h, sk, t
    t = torch.from_numpy
    return Batch(t(ctx), t(pad), t(q), t(hops), t(skip), t(target))


def stage_batch(
    stage: Stage,
    progress: float,
    batch: int,
    queries: int,
    max_len: int,
    rng: np.random.Generator,
    seed: int,
    first_index: int,
    seed_base: int = TRAIN_SEED_BASE,
) -> Batch:
    """One batch of a curriculum stage; context lines grow linearly with `progress` in [0, 1]."""
    lo, hi = stage.lines
    samples = []
    for i in range(batch):
        lines = int(lo + (hi - lo) * progress * rng.uniform(0.6, 1.0) + rng.integers(0, 8))
        asked = int(rng.integers(stage.hops[0], stage.hops[1] + 1))
        chain_hops = max(asked, int(rng.integers(2, 5)))  # values are also keys elsewhere, as in real chains
        skip = stage.name == "skip" and rng.random() < stage.skip_fraction
        n_q = max(1, min(queries, lines // (2 * chain_hops)) // (1 if skip else asked))
        decoys = stage.distractors if rng.random() < 0.5 else 0
        problem = make_problem(lines, chain_hops, asked, n_q, not skip, seed_base + seed, first_index + i, decoys)
        samples.append(sample_rows(problem, skip, max_len))
    return collate(samples, max_len)


def eval_batch(stage: Stage, batch: int, queries: int, max_len: int, seed: int = 0) -> Batch:
    """A fixed evaluation batch at the stage's final length (seeds < TRAIN_SEED_BASE: never trained on)."""
    return stage_batch(stage, 1.0, batch, queries, max_len, np.random.default_rng(seed), seed, 0, seed_base=0)
