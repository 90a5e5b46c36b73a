"""Generation entry points: a Spec (plus sample index) in, sized Problems and Samples out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from hashhop.generator.layout import Shape
from hashhop.generator.niah import Haystack
from hashhop.generator.niah_sizing import plan_haystack
from hashhop.generator.problem import Problem
from hashhop.generator.sample import Sample
from hashhop.generator.sizing import plan
from hashhop.generator.spec import Spec

AnyProblem = Problem | Haystack  # what a spec's task generates: HashHop lines or a NIAH haystack


def build(spec: Spec, index: int = 0, counter: Callable[[Any], int] | None = None) -> tuple[AnyProblem, int]:
    """The sized problem for sample `index` and its measured size in `spec.tokenizer` units.
    `counter` counts a whole prompt of the spec's task (a parallel counter, say)."""
    if spec.task != "hashhop":
        return plan_haystack(spec, index, counter)
    return plan(spec, index, counter)


def make_problem(spec: Spec, index: int, shape: Shape) -> AnyProblem:
    """The problem of a known shape (a stored recipe, a worker's part), for the spec's task."""
    return Haystack(spec, index, shape) if spec.task != "hashhop" else Problem(spec, index, shape)


def sample_from_problem(problem: AnyProblem, n_tokens: int, with_prompt: bool = True) -> Sample:
    """Freeze a problem into a Sample (streams the prompt once to hash it)."""
    digest = hashlib.sha256()
    parts: list[str] | None = [] if with_prompt else None
    for chunk in problem.chunks():
        digest.update(chunk.encode("ascii"))
        if parts is not None:
            parts.append(chunk)
    return frozen_sample(problem, n_tokens, digest.hexdigest(), "".join(parts) if parts is not None else None)


def frozen_sample(problem: AnyProblem, n_tokens: int, sha: str, prompt: str | None = None) -> Sample:
    """The Sample of a problem whose prompt was measured (`n_tokens`) and hashed (`sha`) already."""
    shape = problem.shape
    return Sample(
        spec=problem.spec,
        index=problem.index,
        n_chains=shape.n_chains,
        n_fill=shape.n_fill,
        fill_variant=shape.fill_variant,
        queries=problem.queries,
        n_lines=problem.n_lines,
        n_chars=problem.n_chars,
        n_tokens=n_tokens,
        prompt_sha256=sha,
        prompt=prompt,
    )


def make_sample(spec: Spec, index: int = 0, with_prompt: bool = True) -> Sample:
    """Sample `index` of `spec`, prompt included unless `with_prompt=False` (a recipe)."""
    problem, n_tokens = build(spec, index)
    return sample_from_problem(problem, n_tokens, with_prompt)


def generate(spec: Spec, n: int = 1, start: int = 0, with_prompt: bool = True) -> Iterator[Sample]:
    """Samples start..start+n-1 of `spec`."""
    for index in range(start, start + n):
        yield make_sample(spec, index, with_prompt)


def problem_of(sample: Sample) -> AnyProblem:
    """Rebuild the Problem (or Haystack) behind a stored sample (its recipe), without re-sizing."""
    return make_problem(sample.spec, sample.index, Shape(sample.n_chains, sample.n_fill, sample.fill_variant))
