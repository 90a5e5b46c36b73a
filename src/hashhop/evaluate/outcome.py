"""What became of one query, as the Record docs/records.md describes: the scored answer, or the failure.

The runner decides the outcome (answered, failed after its retries, over length); this module turns
it into the record the store appends: the completion scored when there is one, the usage, the cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hashhop.backends.base import Completion
from hashhop.evaluate.cost import Prices, price_tokens
from hashhop.evaluate.record import Record, now_iso
from hashhop.evaluate.score import Score, score_query
from hashhop.generator.sample import Query
from hashhop.prompt.planner import Plan


@dataclass(frozen=True)
class Outcome:
    """How one query ended: `status` ok, error or over_length, with what the model answered, if anything."""

    status: str
    completion: Completion = field(default_factory=lambda: Completion(text=""))
    error: str | None = None
    attempts: int = 0


def _unscored(status: str) -> Score:
    """The verdict of a query that got no answer to score: its kind is its status."""
    return Score(
        correct=False, kind=status, credit=0.0, hops_correct=0, broke_at=None, answer=None, answer_position=None
    )


def query_record(plan: Plan, query: Query, outcome: Outcome, model: str, prefill: str, prices: Prices) -> Record:
    """The record of `query` of `plan`; an answer is scored with the template's `prefill` before it."""
    c = outcome.completion
    verdict = (
        score_query(plan.problem, query, c.text, prefill=prefill, finish_reason=c.finish_reason)
        if outcome.status == "ok"
        else _unscored(outcome.status)
    )
    return _record(plan, query, outcome, model, verdict, prices)


def _record(plan: Plan, query: Query, outcome: Outcome, model: str, verdict: Score, prices: Prices) -> Record:
    """The Record's fields: the query and its cell, the verdict, and the completion's usage and cost."""
    c = outcome.completion
    return Record(
        sample_id=plan.sample.id,
        query_index=query.index,
        model=model,
        cell=plan.cell.as_dict,  # the written form, shared by the cell's records
        status=outcome.status,
        kind=verdict.kind,
        correct=verdict.correct,
        credit=verdict.credit,
        hops_correct=verdict.hops_correct,
        broke_at=verdict.broke_at,
        answer=verdict.answer,
        completion=c.text,
        error=outcome.error,
        start=query.start,
        target=query.target,
        path=list(query.path),
        query_depth=round(query.depth, 6),
        answer_position=verdict.answer_position,
        n_tokens=plan.n_tokens,
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
        cached_tokens=c.cached_tokens,
        cache_write_tokens=c.cache_write_tokens,
        latency_s=round(c.latency_s, 6),
        cost_usd=price_tokens(prices, c.prompt_tokens, c.cached_tokens, c.cache_write_tokens, c.completion_tokens),
        attempts=outcome.attempts,
        time=now_iso(),
        strict=verdict.strict,
        lenient=verdict.lenient,
        finish_reason=c.finish_reason,
        reasoning_tokens=c.reasoning_tokens,
        peak_memory_bytes=c.peak_memory_bytes,
    )
