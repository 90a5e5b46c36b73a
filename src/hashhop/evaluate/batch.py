"""Running a run's queries through the provider's batch API (`--batch`): half the price, answers within hours.

The queries, requests, scoring and records are the runner's own (a batch result becomes a Completion
and is recorded as a synchronous answer is); only the sending differs. Each round: collect every
batch in flight (poll with backoff, read the results, record them), then put the queries still
unanswered into new batches, within the provider's limits (requests and bytes per batch) and the
--max-cost budget (a batch whose forecast could cross it is not submitted; the run says it stopped).
Each batch id is in batches.jsonl (evaluate/batch_ledger.py) before anything polls it, so a killed run
resumes by polling the same batches and never puts a query in a second batch while one holds it. A
query that failed (expired, failed batch, 5xx) goes into a new batch, up to --retries times, then is
recorded as an error with its reason.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from hashhop.backends.base import Backend, BatchAPI, BatchStatus, Completion
from hashhop.core import fastjson
from hashhop.core.errors import BackendError, OverLength, TransientError
from hashhop.core.progress import EvalProgress
from hashhop.evaluate.aio import as_async
from hashhop.evaluate.batch_ledger import BatchLedger
from hashhop.evaluate.cost import Budget
from hashhop.evaluate.record import Record
from hashhop.evaluate.runner import Plans, RecordStore, RunConfig, Runner, answer_budget
from hashhop.generator.sample import Query
from hashhop.prompt.planner import Plan

T = TypeVar("T")


@dataclass(frozen=True)
class BatchSettings:
    poll: float = 5.0  # first wait between two polls of a batch, seconds; doubles up to poll_max
    poll_max: float = 60.0


@dataclass(frozen=True)
class Pending:
    """A query still to answer, with what it may cost at most (its batch's forecast is the sum)."""

    plan: Plan
    query: Query
    forecast: float


def batch_api_of(backend: Backend) -> BatchAPI:
    """The backend's batch API; a one-line error, before anything is sent, when it has none."""
    api = backend.batch_api()
    if api is None:
        raise BackendError(
            f"--batch: {backend.name} has no batch API (openai and anthropic have one): drop --batch for this model"
        )
    return api


class BatchRunner(Runner):
    """The runner's queries, records and budget, sent in batches (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        store: RecordStore,
        config: RunConfig,
        run_dir: str,
        settings: BatchSettings = BatchSettings(),
        model_counted: bool = False,
    ):
        super().__init__(backend, store, config, model_counted)
        self.api, self.settings = batch_api_of(backend), settings
        self.ledger = BatchLedger(run_dir)
        self.pending: dict[str, Pending] = {}  # custom_id -> the query it names
        self._reserved: dict[str, float] = {}  # batch id -> its forecast, held in the budget until collected
        self._done: set[tuple[str, int]] = set()  # queries recorded by this run (the plans hold no others)

    async def run(self, plans: Plans, total: int) -> None:
        self.progress = EvalProgress(total, self.config.progress)
        self.budget = Budget.of_records(self.config.max_cost, self.store.records)
        try:
            await self._plan_all(plans)
            for batch_id in self.ledger.open:  # a resumed run's batches in flight count against the budget
                self._hold(batch_id, sum(self.pending[c].forecast for c in self._members(batch_id)))
            while True:
                await asyncio.gather(*(self._collect(b) for b in self.ledger.open))
                todo = self._todo()
                if not todo or self.stopped:
                    return
                await self._submit(todo)
        finally:
            self.progress.close()

    # -- what to send -----------------------------------------------------------------------
    async def _plan_all(self, plans: Plans) -> None:
        """Every unanswered query by custom_id; one that cannot fit the model is recorded now."""
        async for plan in as_async(plans):
            for query in plan.queries:
                budget = answer_budget(query.hops, query.cot, plan.sample.spec.hash_len, self.config.max_tokens)
                reason = self._too_long(plan, self._request(plan, query)) if self.model_counted else None
                if reason:
                    self._store(self._over_length(plan, query, reason, 0))
                    continue
                forecast = self.config.prices.cost(plan.prompt_tokens or plan.n_tokens, budget)
                self.pending[f"{plan.sample.id}:{query.index}"] = Pending(plan, query, forecast)

    def _members(self, batch_id: str) -> list[str]:
        """The batch's queries this run still waits for (a resumed run's answered ones are not)."""
        return [c for c in self.ledger.members[batch_id] if c in self.pending and not self._recorded(c)]

    def _recorded(self, custom_id: str) -> bool:
        p = self.pending[custom_id]
        return (p.plan.sample.id, p.query.index) in self._done

    def _store(self, record: Record | None) -> None:
        if record is not None:
            self._done.add(record.key)
        super()._store(record)

    def _todo(self) -> list[str]:
        busy = self.ledger.in_open_batch()
        return [c for c in self.pending if c not in busy and not self._recorded(c)]

    def _chunks(self, todo: list[str]) -> Iterator[tuple[list[str], list[dict]]]:
        """(custom_ids, request lines) of each batch, within the provider's requests and bytes limits."""
        ids: list[str] = []
        lines: list[dict] = []
        size = 0
        for cid in todo:
            p = self.pending[cid]
            line = self.api.line(cid, self._request(p.plan, p.query))
            n = len(fastjson.dumps(line)) + 1
            if ids and (len(ids) >= self.api.max_requests or size + n > self.api.max_bytes):
                yield ids, lines
                ids, lines, size = [], [], 0
            ids.append(cid)
            lines.append(line)
            size += n
        if ids:
            yield ids, lines

    async def _submit(self, todo: list[str]) -> None:
        """New batches of `todo`, each recorded in batches.jsonl as soon as it has an id."""
        for ids, lines in self._chunks(todo):
            forecast = sum(self.pending[c].forecast for c in ids)
            if not self.budget.take(forecast):
                self.stopped = self.budget.stop_reason("batch")
                return
            try:
                batch_id = await self._retrying(functools.partial(self.api.submit, lines))
            except BaseException:
                self.budget.release(forecast)
                raise
            self.ledger.submitted(batch_id, ids)
            self._reserved[batch_id] = forecast
            self.requests += len(ids)

    # -- what came back -----------------------------------------------------------------------
    def _hold(self, batch_id: str, forecast: float) -> None:
        self.budget.reserved += forecast
        self._reserved[batch_id] = forecast

    async def _collect(self, batch_id: str) -> None:
        """Wait for the batch to end, record its answers and failures, mark it collected."""
        status = await self._wait(batch_id)
        results = await self._retrying(lambda: self.api.results(batch_id))
        missing = TransientError(f"batch {batch_id} {status.state} without this request {status.detail}".strip())
        self.budget.release(self._reserved.pop(batch_id, 0.0))  # what it really cost is charged per answer
        for cid in self._members(batch_id):
            self._store(self._settle(cid, results.get(cid, missing)))
        self.ledger.done(batch_id, status.state)

    def _settle(self, custom_id: str, outcome: Completion | Exception) -> Record | None:
        """The record of one result; None when the query goes into another batch."""
        p, attempts = self.pending[custom_id], self.ledger.attempts[custom_id]
        if isinstance(outcome, Completion):
            return self._answered(p.plan, p.query, self._request(p.plan, p.query), outcome, attempts)
        if isinstance(outcome, OverLength):
            return self._over_length(p.plan, p.query, str(outcome), attempts)
        if isinstance(outcome, TransientError) and attempts <= self.config.retries:
            return None
        error = f"{outcome} (after {attempts} attempts)"
        return self._record(p.plan, p.query, "error", error=error, attempts=attempts)

    async def _wait(self, batch_id: str) -> BatchStatus:
        delay = self.settings.poll
        while True:
            status = await self._retrying(lambda: self.api.poll(batch_id))
            if status.ended:
                return status
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.poll_max)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` again after transient failures (429s honour Retry-After), as the runner retries a query."""
        tries = {"waits": 0, "failures": 0}
        while True:
            try:
                return await call()
            except TransientError as exc:
                delay, give_up = self._retry(exc, tries)
                if give_up:
                    raise
            await asyncio.sleep(delay)
