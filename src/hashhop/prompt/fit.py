"""Fitting a context to a token budget: the sample whose whole prompt (template, question and
context) measures the requested number of tokens in the model under test's own tokens."""

from __future__ import annotations

from collections.abc import Callable

from hashhop.generator.alphabets import alphabet_chars
from hashhop.generator.build import build, make_sample, sample_from_problem
from hashhop.generator.sample import Sample
from hashhop.generator.sizing import TOLERANCE
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import Tokenizer
from hashhop.prompt.template import Template, context_budget

SIZING_ROUNDS = 4


def sized_sample(
    spec: Spec,
    total: int,
    index: int,
    template: Template,
    tokenizer: Tokenizer | None = None,
    count: Callable[[str], int] | None = None,
    overhead: int = 0,
    chat: bool = False,
) -> tuple[Sample, int, int]:
    """Sample `index` whose whole prompt measures `total` tokens: (sample, context tokens, frame
    tokens), both measured; the frame is everything around the context (template, question).

    With a named tokenizer (`chars`, `tiktoken:..`, `hf:..`) the generator sizes the context exactly.
    With only a counter (a server's tokenize endpoint) the context is sized in characters, measured
    with the counter, and rescaled a few times: the final count is measured, never estimated.
    """
    probe = _probe_start(spec)
    if count is None:
        assert tokenizer is not None  # every caller sizes with the model's counter, else a named tokenizer
        budget = context_budget(total, tokenizer.count, template, probe, spec.hops, spec.cot, overhead, chat, spec.task)
        sample = make_sample(spec.replace(size=budget, tokenizer=tokenizer.name), index, with_prompt=True)
        return sample, sample.n_tokens, total - budget
    budget = context_budget(total, count, template, probe, spec.hops, spec.cot, overhead, chat, spec.task)
    sample, n_tokens = _fit_by_counter(spec, budget, index, count)
    return sample, n_tokens, total - budget


def _probe_start(spec: Spec) -> str:
    """A stand-in for the question's start hash: random symbols of the sample's alphabet and length,
    since a random hash splits into many more tokens than, say, `aaaa...` would. A niah key is two words."""
    import random

    if spec.task != "hashhop":
        return "tawny-sundial"

    rng = random.Random(spec.hash_len)
    return "".join(rng.choice(alphabet_chars(spec.alphabet)) for _ in range(spec.hash_len))


def _fit_by_counter(spec: Spec, budget: int, index: int, count: Callable[[str], int]) -> tuple[Sample, int]:
    chars = float(max(budget * 3, 1))  # a first guess; calibrated below from the measured ratio
    best: tuple[Sample, int] | None = None
    for _ in range(SIZING_ROUNDS):
        problem, _n_chars = build(spec.replace(size=int(chars), tokenizer="chars"), index)
        sample = sample_from_problem(problem, problem.n_chars, with_prompt=True)
        assert sample.prompt is not None  # made with_prompt
        measured = count(sample.prompt)
        if best is None or abs(measured - budget) < abs(best[1] - budget):
            best = (sample, measured)
        if abs(measured - budget) <= max(budget * TOLERANCE, 1):
            break
        chars = chars * budget / max(measured, 1)
    assert best is not None  # SIZING_ROUNDS >= 1
    return best
