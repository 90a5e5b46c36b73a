"""The backend contract: a backend turns a Request into a Completion, and nothing else.

Retries, concurrency, rate limits and storage live in the runner, outside the backends
(inspect_ai style). Backends raise the typed errors below so the runner knows what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
    finish_reason: str | None = None
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_options(backend: str, options: dict, known) -> None:
    """Refuse `-M` options a backend does not take, naming the ones it does."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise BackendError(
            f"unknown option(s) for {backend}: {', '.join(unknown)}; known are {', '.join(sorted(known))}"
        )


@runtime_checkable
class Backend(Protocol):
    """Implemented by every backend module (`hashhop.backends.NAME.create(model, **options)`)."""

    name: str  # e.g. "openai:gpt-4o-mini"

    async def generate(self, request: Request) -> Completion: ...

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` in the model's own tokenizer, or None if unknown."""
        ...

    @property
    def context_window(self) -> int | None: ...

    async def aclose(self) -> None: ...
