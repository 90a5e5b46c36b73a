"""Exact-match accuracy of a model on generated problems in any dialect (fixed evaluation seeds).

Used by benchmarks/model.py. Every query is a whole prompt text, as the harness would send it
(`Dialect.prompt`); the model reads it and writes its completion, which must equal the expected
text exactly. The CLI path (`hashhop eval --model ltm:...`) goes through the backend instead and
gives the same answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hashhop.generator.build import build
from hashhop.generator.spec import Spec

from .batch import answer_all
from .cache import ReaderCache
from .dialects import Dialect

EVAL_SEED = 424242  # below data.TRAIN_SEED_BASE: never a training seed


@dataclass(frozen=True)
class Cell:
    tokens: int
    dialect: str  # form/phrasing/chat|plain
    alphabet: str
    hash_len: int
    format: str
    hops: int
    cot: bool
    queries: int
    correct: int
    n_segments: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.queries


def problem(tokens: int, hops: int, queries: int, tokenizer: str, index: int = 0, **spec):
    """An evaluation problem (`spec`: hash_len, alphabet, format, distractors); `queries` is lowered
    where the chains would not fit in `tokens`."""
    queries = max(1, min(queries, tokens // (30 * (hops + 1))))
    full = Spec(size=tokens, hops=hops, queries=queries, tokenizer=tokenizer, seed=EVAL_SEED, **spec)
    return build(full, index)[0]


def expected(path: tuple[str, ...], hops: int, cot: bool, quote: bool) -> str:
    """The completion a right answer is: every hash after the start, or the last; Magic closes its quote."""
    text = " = ".join(path[1 : hops + 1]) if cot else path[hops]
    return text + ("'" if quote else "")


def score(model, prob, dialect: Dialect, asks: list[tuple[int, bool]], tokens: int = 0) -> list[Cell]:
    """One cell per (hops, cot) in `asks`: every query of `prob` asked in `dialect`, answered from
    prompts that share the context (its keys are computed once, then reused)."""
    context = prob.prompt()
    cache = ReaderCache(model, max_bytes=0)  # keeps the newest reader; the others share its blocks
    cache.get(dialect.prompt(context, prob.queries[0].start, 1, False))  # the origin every query reuses
    out = []
    for hops, cot in asks:
        t0 = time.perf_counter()
        # One prompt at a time: readers keep no text, so only the newest prompt is held.
        readers = [cache.get(dialect.prompt(context, q.start, hops, cot)) for q in prob.queries]
        answers = answer_all(readers)
        right = sum(
            a.text == expected(q.path, hops, cot, dialect.closes_quote())
            for a, q in zip(answers, prob.queries, strict=True)
        )
        s = prob.spec
        name = f"{dialect.form}/{dialect.phrasing}/{'chat' if dialect.chat else 'plain'}"
        out.append(
            Cell(
                tokens,
                name,
                s.alphabet,
                s.hash_len,
                s.format,
                hops,
                cot,
                len(readers),
                right,
                readers[0].n,
                round(time.perf_counter() - t0, 3),
            )  # fmt: skip
        )
    return out
