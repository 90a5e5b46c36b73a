"""Running queries against a backend: asyncio, concurrency, retries, rate limits, over-length.

The runner wires the stages: a `Plan` (a sized sample, from `prompt.Planner`) goes through
the prompt template to the backend, the completion is scored, and a `Record` is appended
to the store. A query that still fails after its retries is stored as an `error` record with its
reason, never dropped; a prompt that does not fit the model is stored as `over_length` (or stops
the run). The first query of each context is sent alone, then the others together, so the shared
context is a warm cacheable prefix; the latency difference is reported as the prefix-cache saving.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hashhop.backends.base import Backend, Completion, Request
from hashhop.core.errors import OverLength, OverLengthStop, RateLimited, TransientError
from hashhop.core.progress import EvalProgress
from hashhop.evaluate.aio import as_async, put_watching, set_once, timed
from hashhop.evaluate.cost import Budget, Prices
from hashhop.evaluate.limiter import AdaptiveLimiter
from hashhop.evaluate.outcome import Outcome, query_record
from hashhop.evaluate.record import Record
from hashhop.generator.sample import Query
from hashhop.prompt.planner import Plan, Planner
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template, render_query

__all__ = [
    "AdaptiveLimiter",
    "OverLengthStop",
    "Plan",
    "Planner",
    "RunConfig",
    "Runner",
    "answer_budget",
]  # Plan and Planner live in prompt.planner; re-exported for callers


Plans = Iterable[Plan] | AsyncIterable[Plan]
Ended = asyncio.Future[None]  # set when the first worker ends


@dataclass(frozen=True)
class RunConfig:
    concurrency: int = 8
    timeout: float = 300.0  # per request, seconds
    retries: int = 4  # extra attempts after a transient failure
    rate_limit_retries: int = 20  # waits on 429 before the query is stored as an error
    backoff: float = 1.0  # first backoff, seconds; doubles per attempt, with jitter
    backoff_max: float = 60.0
    max_wait: float = 300.0  # longest Retry-After honoured
    cooldown: float = 15.0  # seconds after a 429 before concurrency grows again
    max_tokens: int | None = None  # completion budget; None: enough for the answer
    on_over_length: str = "record"  # or "stop"
    max_cost: float | None = None
    prices: Prices = field(default_factory=Prices)
    template: Template = DEFAULT_TEMPLATE
    progress: bool = False
    seed: int = 0  # jitter


def answer_budget(hops: int, cot: bool, hash_len: int, configured: int | None) -> int:
    """Completion tokens asked for one query (`configured` if given): room for the answer with
    chatter, generous since truncation would score as wrong. Cost estimates use it too."""
    if configured:
        return configured
    return 32 + 2 * (hash_len + 3) * (hops if cot else 1)


class RecordStore(Protocol):
    """What the runner reads and writes of a store: evaluate's RunStore, or the Ray executor's unit store."""

    @property
    def records(self) -> Sequence[Record]:
        """The records stored so far (a resumed run's included)."""
        ...

    def add_record(self, record: Record) -> bool:
        """Append `record` unless its query is recorded already; True if it was appended."""
        ...


class Runner:
    def __init__(self, backend: Backend, store: RecordStore, config: RunConfig, model_counted: bool = False):
        self.backend, self.store, self.config = backend, store, config
        self.model_counted = model_counted  # prompt_tokens are in the model's own tokens
        self.stopped: str | None = None
        self.budget = Budget(config.max_cost)  # run() recounts it from the store's records
        self._rng = random.Random(config.seed)
        # run() makes a fresh one; an executor that calls run_plan() alone may put a shared one here.
        self.limiter = AdaptiveLimiter(config.concurrency, config.cooldown)
        self.progress = EvalProgress(0, False)  # silent until run() sizes it; run_plan() alone stays silent
        self.requests = 0
        self._backend_times_out = False

    # -- one query ------------------------------------------------------------------------
    def _request(self, plan: Plan, query: Query) -> Request:
        prompt = render_query(self.config.template, plan.context, query, plan.sample.spec.task)
        return Request(
            sample_id=plan.sample.id,
            query_index=query.index,
            messages=prompt.messages,
            prompt=prompt.text,
            max_tokens=answer_budget(query.hops, query.cot, plan.sample.spec.hash_len, self.config.max_tokens),
            start=query.start,
            hops=query.hops,
            cot=query.cot,
            context=plan.context,
        )

    def _record(
        self,
        plan: Plan,
        query: Query,
        status: str,
        completion: Completion | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> Record:
        outcome = Outcome(status, completion or Completion(text=""), error, attempts)
        prefill, prices = self.config.template.prefill, self.config.prices
        return query_record(plan, query, outcome, self.backend.name, prefill, prices)

    def _too_long(self, plan: Plan, request: Request) -> str | None:
        window = self.backend.context_window
        if self.model_counted and window and plan.prompt_tokens and plan.prompt_tokens + request.max_tokens > window:
            return (
                f"prompt of {plan.prompt_tokens} tokens + {request.max_tokens} to answer exceeds the window of {window}"
            )
        return None

    def _truncated(self, plan: Plan, c: Completion) -> str | None:
        # Some servers (Ollama) cut long prompts silently: a reported count far below the sent one.
        if self.model_counted and plan.prompt_tokens and c.prompt_tokens and c.prompt_tokens < 0.9 * plan.prompt_tokens:
            return f"the server read {c.prompt_tokens} of the {plan.prompt_tokens} prompt tokens (truncated)"
        return None

    def _over_length(self, plan: Plan, query: Query, reason: str, attempts: int) -> Record:
        if self.config.on_over_length == "stop":
            raise OverLengthStop(f"{reason}: lower --tokens, or use --on-over-length record")
        return self._record(plan, query, "over_length", error=reason, attempts=attempts)

    def _backoff(self, failures: int) -> float:
        base = min(self.config.backoff_max, self.config.backoff * 2 ** (failures - 1))
        return base * self._rng.uniform(0.5, 1.0)

    def _reserve(self, plan: Plan, request: Request) -> float | None:
        """Estimated cost of one request, or None when sending it could cross --max-cost."""
        prompt_tokens = plan.prompt_tokens or plan.n_tokens
        estimate = self.config.prices.cost(prompt_tokens, request.max_tokens)
        if not self.budget.take(estimate):
            self.stopped = self.budget.stop_reason("query")
            return None
        return estimate

    async def _attempt(self, request: Request) -> Completion:
        await self.limiter.acquire()
        try:
            self.requests += 1
            if self._backend_times_out:
                return await self.backend.generate(request)
            return await timed(self.backend.generate(request), self.config.timeout)
        finally:
            self.limiter.release()

    def _retry(self, exc: Exception, tries: dict) -> tuple[float, bool]:
        """(seconds to wait, give up?) after a failed attempt; `tries` counts 429s and other failures."""
        if isinstance(exc, RateLimited):
            self.limiter.rate_limited()
            tries["waits"] += 1
            delay = (
                self._backoff(tries["waits"]) if exc.retry_after is None else min(exc.retry_after, self.config.max_wait)
            )
            return delay, tries["waits"] > self.config.rate_limit_retries
        tries["failures"] += 1
        return self._backoff(tries["failures"]), tries["failures"] > self.config.retries

    def _answered(self, plan: Plan, query: Query, request: Request, c: Completion, attempts: int) -> Record:
        self.limiter.succeeded()
        self.budget.charge(
            self.config.prices.cost(
                c.prompt_tokens or plan.prompt_tokens or plan.n_tokens, c.completion_tokens or request.max_tokens
            )
        )
        truncated = self._truncated(plan, c)
        if truncated:
            return self._over_length(plan, query, truncated, attempts)
        return self._record(plan, query, "ok", c, attempts=attempts)

    async def run_query(self, plan: Plan, query: Query) -> Record | None:
        """Send one query until it succeeds, fails for good, or the run stops; None: not sent."""
        request = self._request(plan, query)
        reason = self._too_long(plan, request)
        if reason:
            return self._over_length(plan, query, reason, 0)
        tries = {"waits": 0, "failures": 0}
        attempts = 0
        while True:
            attempts += 1
            reserved = None if self.stopped else self._reserve(plan, request)
            if reserved is None:
                return None  # the run stops (budget, fatal error): the query stays unrecorded
            try:
                completion = await self._attempt(request)
            except (TransientError, asyncio.TimeoutError) as exc:  # RateLimited is a TransientError
                error = str(exc) or f"timeout after {self.config.timeout:g} s"
                delay, give_up = self._retry(exc, tries)
            except OverLength as exc:
                return self._over_length(plan, query, str(exc), attempts)
            else:
                return self._answered(plan, query, request, completion, attempts)
            finally:
                self.budget.release(reserved)
            if give_up:
                return self._record(
                    plan, query, "error", error=f"{error} (after {attempts} attempts)", attempts=attempts
                )
            await asyncio.sleep(delay)

    # -- a whole run ----------------------------------------------------------------------
    def _store(self, record: Record | None):
        if record is not None and self.store.add_record(record):
            self.progress.update(record)

    async def _run_and_store(self, plan: Plan, query: Query) -> None:
        self._store(await self.run_query(plan, query))

    async def run_plan(self, plan: Plan) -> None:
        """The first query alone (it warms the prefix cache), then the others of the context together,
        each stored as soon as it is answered."""
        if not plan.queries:
            return
        await self._run_and_store(plan, plan.queries[0])
        rest = [asyncio.ensure_future(self._run_and_store(plan, q)) for q in plan.queries[1:]]
        try:
            await asyncio.gather(*rest)
        finally:
            for task in rest:
                task.cancel()

    async def run(self, plans: Plans, total: int) -> None:
        """Run every plan (an iterable or async iterable of Plans); `total` queries for the progress bar.
        The backend's preflight `check()` is the executor's, before anything is sized."""
        self.limiter = AdaptiveLimiter(self.config.concurrency, self.config.cooldown)
        self.progress = EvalProgress(total, self.config.progress)
        # --max-cost bounds the run folder's total: what earlier (resumed) runs spent counts too.
        self.budget = Budget.of_records(self.config.max_cost, self.store.records)
        self._backend_times_out = self.backend.cap_timeout(self.config.timeout)
        queue: asyncio.Queue[Plan | None] = asyncio.Queue(maxsize=self.config.concurrency)
        workers = [asyncio.ensure_future(self._worker(queue)) for _ in range(self.config.concurrency)]
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # set when the first worker ends
        for w in workers:
            w.add_done_callback(lambda _: set_once(ended))
        try:
            await self._feed(plans, queue, workers, ended)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.progress.close()

    async def _feed(
        self, plans: Plans, queue: asyncio.Queue[Plan | None], workers: Sequence[asyncio.Future[None]], ended: Ended
    ) -> None:
        # Workers only end on the sentinel, which comes last: one ending before is one that died.
        async for plan in as_async(plans):
            if self.stopped or ended.done():
                break  # a worker died (fatal error): gather() in run() re-raises it
            await put_watching(queue, plan, [ended])
        for _ in workers:  # those done already took their sentinel: wait on the others only
            await put_watching(queue, None, [w for w in workers if not w.done()])

    async def _worker(self, queue: asyncio.Queue[Plan | None]) -> None:
        while True:
            plan = await queue.get()
            if plan is None:
                return
            if not self.stopped:
                await self.run_plan(plan)
