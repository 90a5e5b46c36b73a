"""The backend contract: a backend turns a Request into a Completion, and nothing else.

Retries, concurrency, rate limits and storage live in the runner, outside the backends
(inspect_ai style). Backends raise the typed errors below so the runner knows what to do.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hashhop.core.errors import BackendError


@dataclass(frozen=True)
class Request:
    """One query sent to a model. `messages` (chat) and `prompt` (plain) hold the same text."""

    sample_id: str
    query_index: int
    messages: tuple[dict, ...]  # ({"role": "system"|"user"|"assistant", "content": str}, ...)
    prompt: str  # the same content for plain-completion endpoints
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    # What the harness knows about the query; real models never see it (oracle/random use it).
    start: str = ""
    hops: int = 0
    cot: bool = False
    context: str = ""  # the context block alone (oracle/random index it)


@dataclass(frozen=True)
class Completion:
    """What a model answered, with the usage it reported."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    # Why the reply ended, as the API says it: `length` (OpenAI-compatible, llama.cpp, hf) or
    # `max_tokens` (Anthropic) when the token budget ended it; the scorer calls such a wrong reply cut_off.
    finish_reason: str | None = None
    model: str | None = None
    reasoning_tokens: int | None = None  # of completion_tokens, those spent reasoning, where the API says
    extra: dict[str, Any] = field(default_factory=dict)
    # Of prompt_tokens, those the provider read from its prompt cache and those it wrote to it (Anthropic);
    # None when the provider does not say.
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    # Memory this query added at its peak (resident set above what the process held before it), for
    # in-process backends that measure it; None for API models.
    peak_memory_bytes: int | None = None


@dataclass(frozen=True)
class BatchStatus:
    """Where a submitted batch stands: `ended` once the provider will change nothing more in it."""

    state: str  # the provider's word: in_progress, completed, expired, ended, ...
    ended: bool
    detail: str = ""  # why a batch failed as a whole (validation errors), for the error records


class BatchAPI(abc.ABC):
    """A provider's batch API: requests submitted together, answered within hours at a discount.

    The run flow (evaluate/batch.py) decides what goes in a batch, records the ids it gets back,
    polls and collects; this side only speaks the provider's protocol. `custom_id`s are the flow's.
    """

    max_requests: ClassVar[int]  # the provider's limits on one batch
    max_bytes: ClassVar[int]

    @abc.abstractmethod
    def line(self, custom_id: str, request: Request) -> dict:
        """One request of a batch, as the provider takes it (its JSON size counts against max_bytes)."""

    @abc.abstractmethod
    async def submit(self, lines: list[dict]) -> str:
        """Create a batch of `lines`; its id."""

    @abc.abstractmethod
    async def poll(self, batch_id: str) -> BatchStatus:
        """The batch's state now."""

    @abc.abstractmethod
    async def results(self, batch_id: str) -> dict[str, Completion | Exception]:
        """An ended batch's outcome per custom_id: a Completion, or the typed error (backends/base.py's
        contract: TransientError is worth another try, OverLength does not fit, BackendError is final).
        A custom_id the provider says nothing about is absent."""


def check_options(backend: str, options: dict, known) -> None:
    """Refuse `-M` options a backend does not take, naming the ones it does."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise BackendError(
            f"unknown option(s) for {backend}: {', '.join(unknown)}; known are {', '.join(sorted(known))}"
        )


class Backend(abc.ABC):
    """What the runner and the executors may ask of a model: every hook, with its default.

    Implemented by every backend (`hashhop.backends.NAME.create(model, **options)` returns one);
    a backend overrides only what it has. `generate` alone is required.
    """

    name: str  # e.g. "openai:gpt-4o-mini"
    # Computes in this machine's process (a local model), not on a server: the local executor gives
    # it a process of its own, the Ray executor a GPU actor. Read from the class, before opening one.
    in_process: ClassVar[bool] = False
    chat: bool = False  # sends chat messages: their contents are what its tokenizer counts

    # Read-only properties, so a backend may override them with a property (measured, derived from the
    # model) or with an attribute declared in its class body (`context_window = None`, or
    # `chat_overhead: int = 0` when its instances assign it).
    @property
    def chat_overhead(self) -> int:
        """Tokens its chat template adds around the message contents."""
        return 0

    @property
    def context_window(self) -> int | None:
        """The longest prompt + answer it takes, None: unknown."""
        return None

    @abc.abstractmethod
    async def generate(self, request: Request) -> Completion:
        """The model's answer to one request; typed errors (above) tell the runner what to do."""

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` in the model's own tokenizer, or None if unknown."""
        return None

    def options(self) -> dict:
        """What results.json records about how it was opened (never a key)."""
        return {}

    def batch_api(self) -> BatchAPI | None:
        """Its provider's batch API (`--batch`), or None: it has none, and --batch refuses it."""
        return None

    async def check(self) -> None:
        """Preflight: a one-line BackendError (unreachable server, refused key) before anything is sized."""
        return None

    def cap_timeout(self, seconds: float) -> bool:
        """Enforce the per-request timeout itself; True: the runner need not time requests."""
        return False

    async def aclose(self) -> None:
        """Release connections, threads, models."""
        return None
