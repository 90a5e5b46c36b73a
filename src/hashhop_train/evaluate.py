"""Exact-match accuracy of a model on generated problems (fixed evaluation seeds), via the Reader.

Used by benchmarks/model.py; the CLI path (`hashhop eval --model ltm:...`) goes through the
backend instead and gives the same answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hashhop.generator.build import build
from hashhop.generator.spec import Spec

from .infer import Reader

EVAL_SEED = 424242  # below data.TRAIN_SEED_BASE: never a training seed


@dataclass(frozen=True)
class Cell:
    tokens: int
    hops: int
    cot: bool
    queries: int
    correct: int
    n_segments: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.queries


def problem(
    tokens: int, hops: int, queries: int, tokenizer: str, index: int = 0, hash_len: int = 16, distractors: int = 0
):
    """An evaluation problem; `queries` is lowered where the chains would not fit in `tokens`."""
    queries = max(1, min(queries, tokens // (30 * (hops + 1))))
    spec = Spec(
        size=tokens,
        hops=hops,
        queries=queries,
        tokenizer=tokenizer,
        seed=EVAL_SEED,
        hash_len=hash_len,
        format="plain",
        distractors=distractors,
    )
    return build(spec, index)[0]


def score(model, prob, modes=(True, False), tokens: int = 0) -> list[Cell]:
    """One Reader over the problem's context; every query answered with and without steps."""
    t0 = time.perf_counter()
    reader = Reader(model, prob.prompt())
    build_s = time.perf_counter() - t0
    out = []
    for cot in modes:
        t1 = time.perf_counter()
        starts = [q.start for q in prob.queries]
        answers = reader.answer(starts, prob.queries[0].hops, cot)
        right = sum(a == (list(q.path[1:]) if cot else [q.answer]) for a, q in zip(answers, prob.queries))
        out.append(
            Cell(
                tokens,
                prob.queries[0].hops,
                cot,
                len(starts),
                right,
                reader.n,
                round(build_s + time.perf_counter() - t1, 3),
            )
        )
    return out
