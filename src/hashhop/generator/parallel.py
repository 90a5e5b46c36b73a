"""Splitting one prompt's lines across worker processes, to count tokens or write bytes.

Any line can be rendered from (spec, index, shape, position), so a worker needs only those
numbers: parts are rendered independently and joined in order. With one worker everything
runs in-process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.pool
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from hashhop.generator.build import AnyProblem, make_problem
from hashhop.generator.layout import Shape
from hashhop.generator.problem import BATCH_LINES
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import Tokenizer, get_tokenizer

_COPY_BLOCK = 1 << 20

# What a worker gets, plain data only (it crosses a process boundary):
# (spec as a dict, sample index, (n_chains, n_fill, fill_variant), first line, stop line,
#  file to write the part's bytes to or None, tokenizer name to count with or None).
PartJob = tuple[dict[str, Any], int, tuple[int, int, int], int, int, str | None, str | None]


def _part(args: PartJob) -> int:
    spec_dict, index, shape, start, stop, out_path, tokenizer = args
    problem = make_problem(Spec.from_dict(spec_dict), index, Shape(*shape))
    tok = get_tokenizer(tokenizer) if tokenizer else None
    n_tokens = 0
    out = open(out_path, "wb") if out_path else None
    try:
        for a in range(start, stop, BATCH_LINES):
            chunk = problem.render(a, min(a + BATCH_LINES, stop))
            if tok is not None:
                n_tokens += tok.count(chunk.decode("ascii"))
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return n_tokens


class PartPool:
    """A pool of `workers` processes (or none for 1) that renders line ranges of problems."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._pool: multiprocessing.pool.Pool | None = (
            multiprocessing.get_context("fork").Pool(self.workers) if self.workers > 1 else None
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    def __enter__(self) -> PartPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _jobs(self, problem: AnyProblem, paths: Sequence[str | None], tokenizer: str | None) -> list[PartJob]:
        n_parts = len(paths)
        bounds = [problem.n_lines * i // n_parts for i in range(n_parts + 1)]
        shape = (problem.shape.n_chains, problem.shape.n_fill, problem.shape.fill_variant)
        return [
            (problem.spec.to_dict(), problem.index, shape, bounds[i], bounds[i + 1], paths[i], tokenizer)
            for i in range(n_parts)
        ]

    def _map(self, jobs: list[PartJob]) -> list[int]:
        if self._pool is None or len(jobs) == 1:
            return [_part(job) for job in jobs]
        return self._pool.map(_part, jobs)

    def count(self, problem: AnyProblem, tokenizer: Tokenizer) -> int:
        """Token count of the whole prompt, counted in parallel parts."""
        parts = self.workers * 2 if self.workers > 1 else 1
        return sum(self._map(self._jobs(problem, [None] * parts, tokenizer.name)))

    def write(
        self,
        problem: AnyProblem,
        out: IO[bytes],
        transform: Callable[[bytes], bytes] | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> tuple[str, int | None]:
        """Stream the prompt into the binary file `out` (through `transform`, e.g. JSON escaping);
        returns the SHA-256 of the prompt itself and, given a tokenizer, its token count (counted
        in the same pass, by the workers that render each part)."""
        digest = hashlib.sha256()
        if self._pool is None:
            n_tokens = 0
            for start in range(0, problem.n_lines, BATCH_LINES):
                chunk = problem.render(start, min(start + BATCH_LINES, problem.n_lines))
                digest.update(chunk)
                if tokenizer is not None:
                    n_tokens += tokenizer.count(chunk.decode("ascii"))
                out.write(transform(chunk) if transform else chunk)
            return digest.hexdigest(), n_tokens if tokenizer is not None else None
        with tempfile.TemporaryDirectory(prefix="hashhop-parts-") as tmp:
            paths = [os.path.join(tmp, f"part{i:04d}") for i in range(self.workers * 2)]
            counts = self._map(self._jobs(problem, paths, tokenizer.name if tokenizer is not None else None))
            for path in paths:
                with open(path, "rb") as part:
                    while block := part.read(_COPY_BLOCK):
                        digest.update(block)
                        out.write(transform(block) if transform else block)
        return digest.hexdigest(), sum(counts) if tokenizer is not None else None
