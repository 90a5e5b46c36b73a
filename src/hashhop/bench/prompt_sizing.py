"""The sizing rule: which tokens a job's prompts are sized in, and the planner that sizes them.

A forced tokenizer wins (the command line's, else the grid's); else the model's own tokens when its
backend can count them (harness lesson: size prompts in the tokens of the model under test); else
FALLBACK_TOKENIZER. The same rule serves `eval` and `bench`, on every executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hashhop.backends import Backend
from hashhop.bench.job import Job
from hashhop.bench.suites import FALLBACK_TOKENIZER
from hashhop.core.errors import BackendError, MissingExtraError
from hashhop.generator.tokenizers import Tokenizer, get_tokenizer
from hashhop.prompt.planner import Planner, SampleStore


@dataclass(frozen=True)
class PromptSizing:
    """How a job's prompts are sized: recorded as `tokenizer` in each cell and in results.json."""

    name: str  # e.g. tiktoken:cl100k_base, chars, model:openai:gpt-4o-mini
    tokenizer: Tokenizer | None  # a hashhop tokenizer, when the model does not count
    count: Callable[[str], int] | None  # the model's own counter, when it does
    overhead: int  # tokens the model's chat template adds (counted models only)
    chat: bool  # the backend sends chat messages (their contents are what it counts)

    def planner(self, store: SampleStore, job: Job) -> Planner:
        return Planner(store, job.template, job.grid.queries, self.tokenizer, self.count, self.overhead, self.chat)


def prompt_sizing(job: Job, backend: Backend) -> PromptSizing:
    """The sizing rule above, for `job` on the opened `backend` (a counting backend is asked once)."""
    forced = job.tokenizer or job.grid.tokenizer
    if forced:
        return PromptSizing(forced, get_tokenizer(forced), None, 0, backend.chat)
    if backend.count_tokens("a = b") is not None:
        overhead = int(backend.chat_overhead or 0)
        return PromptSizing(f"model:{backend.name}", None, _counter(backend), overhead, backend.chat)
    return PromptSizing(FALLBACK_TOKENIZER, _fallback_tokenizer(), None, 0, backend.chat)


def _fallback_tokenizer() -> Tokenizer:
    """cl100k, or the install hint with the way around it (a model that cannot count needs a named tokenizer)."""
    try:
        return get_tokenizer(FALLBACK_TOKENIZER)
    except MissingExtraError as exc:
        raise MissingExtraError(exc.module, exc.extra, "or pass --tokenizer chars (sizes in characters)") from None


def _counter(backend: Backend) -> Callable[[str], int]:
    """The counter of a backend that counted a probe: it counts every text from then on."""

    def count(text: str) -> int:
        n_tokens = backend.count_tokens(text)
        if n_tokens is None:  # a backend that counts only some texts breaks the sizing rule above
            raise BackendError(f"{backend.name} stopped counting tokens: pass --tokenizer to size prompts")
        return n_tokens

    return count
