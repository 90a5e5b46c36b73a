"""The record: one finished query, exactly the fields of docs/records.md, how a record passes by each
score (`hit`: strict, correct, lenient; older records without strict count by correct), and the
timestamp format.

The runner builds records, the store appends them, the report reads them back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass

from hashhop.generator.spec import shallow_dict


@dataclass(frozen=True)
class Record:
    """One finished query: exactly the fields of docs/records.md."""

    sample_id: str
    query_index: int
    model: str
    cell: dict
    status: str  # ok, error, over_length
    kind: str
    correct: bool  # the parsed exact match; strict <= correct <= lenient (docs/scoring.md)
    credit: float
    hops_correct: int
    broke_at: int | None
    answer: str | None
    completion: str
    error: str | None
    start: str
    target: str
    path: list
    query_depth: float
    answer_position: int | None
    n_tokens: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None  # of prompt_tokens, read from the provider's prompt cache; None: not reported
    cache_write_tokens: int | None  # of prompt_tokens, written to the cache (Anthropic); None: not reported
    latency_s: float
    cost_usd: float
    attempts: int
    time: str
    # Added in hashhop 0.2 (None in records written before them, as from_dict reads them; `hit` then
    # counts such a record by its `correct`):
    strict: bool | None = None
    lenient: bool | None = None
    finish_reason: str | None = None  # as the backend reported it: `length`/`max_tokens` is the budget
    reasoning_tokens: int | None = None  # of completion_tokens, those spent reasoning, where reported
    peak_memory_bytes: int | None = None  # memory the query added at its peak (in-process models that measure it)

    @property
    def key(self) -> tuple[str, int]:
        return (self.sample_id, self.query_index)

    def to_dict(self) -> dict:
        return shallow_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Record:
        names = [f.name for f in dataclasses.fields(cls) if f.name in d or f.default is dataclasses.MISSING]
        return cls(**{n: d.get(n) for n in names})  # type: ignore[arg-type]  # fields as stored (docs/records.md)


def hit(row: Mapping, score: str) -> bool:
    """Whether a record passes by `score` (strict, correct or lenient). A record written before strict and
    lenient existed (no such key, or null) counts with its exact `correct`: the best it can tell."""
    value = row.get(score)
    return bool(row.get("correct") if value is None else value)


def predates_strict(row: Mapping) -> bool:
    """A scored record written before the strict score existed (it counts with its `correct`)."""
    return row.get("status", "ok") == "ok" and row.get("strict") is None


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, reused within that second


def now_iso() -> str:
    """UTC now as 2026-01-31T12:34:56.789Z (what datetime.isoformat gives, at a fifth of its cost)."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"
