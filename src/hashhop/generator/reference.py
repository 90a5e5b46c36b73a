"""Drop-in replacement for Magic's reference generator: `MultiHopEval.make_one`.

Same call, same fields, same layout (see the `magic` format), but seeded, collision-free and
with the random query choice kept. `seed=None` draws a seed from Python's `random`, so code that
seeds `random` globally stays reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from hashhop.generator.layout import Shape
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec


@dataclass(frozen=True)
class MultiHopSample:
    prompt: str
    completion: str
    targets: dict[str, str]


class MultiHopEval:
    """Drop-in for Magic's reference `MultiHopEval`: `make_one(...)` gives a `MultiHopSample` in the reference layout."""

    @staticmethod
    def make_one(
        n_chars_problem: int,
        num_queries: int,
        hops: int,
        hash_pair_str_length: int,
        chain_of_thought: bool,
        seed: int | None = None,
    ) -> MultiHopSample:
        """A sample in the reference layout: ceil(n_chars / ((2L+3)*hops)) chains of `hops` pairs."""
        if seed is None:
            seed = random.getrandbits(63)
        n_chains = math.ceil(n_chars_problem / ((2 * hash_pair_str_length + 3) * hops))
        spec = Spec(
            size=max(1, n_chars_problem),
            hops=hops,
            queries=num_queries,
            hash_len=hash_pair_str_length,
            cot=chain_of_thought,
            format="magic",
            seed=seed,
            filler=False,
        )
        problem = Problem(spec, 0, Shape(max(n_chains, num_queries), 0))
        queries = problem.queries
        targets = {q.start: q.target for q in queries}
        targets.update(_all_targets(problem, chain_of_thought, skip=set(targets)))
        from hashhop.generator.sample import render_completion

        return MultiHopSample(
            prompt=problem.prompt(),
            completion=render_completion("magic", queries, hops, chain_of_thought),
            targets=targets,
        )


def _all_targets(problem: Problem, cot: bool, skip: set[str]) -> dict[str, str]:
    hops = problem.spec.hops
    n = problem.shape.n_chains
    strings = problem.hashes.strings(np.arange(n * (hops + 1)))
    out: dict[str, str] = {}
    for c in range(n):
        chain = strings[c * (hops + 1) : (c + 1) * (hops + 1)]
        if chain[0] not in skip:
            out[chain[0]] = " = ".join(chain[1:]) if cot else chain[-1]
    return out
