"""The runner: retries, rate limits, timeouts, over-length, concurrency, cost, prefix warming."""

import asyncio
import time

import pytest
from stub_server import oracle_answer

from hashhop.backends import get_backend
from hashhop.backends.base import Backend, Completion
from hashhop.core.errors import BackendError, OverLength, OverLengthStop, RateLimited, TransientError
from hashhop.evaluate.cost import Prices
from hashhop.evaluate.runner import AdaptiveLimiter, RunConfig, Runner
from hashhop.evaluate.store import RunStore, read_records
from hashhop.evaluate.summary import metrics
from hashhop.generator.tokenizers import get_tokenizer
from hashhop.prompt.cell import Cell
from hashhop.prompt.planner import Planner
from hashhop.prompt.template import DEFAULT_TEMPLATE

FAST = dict(backoff=0.001, timeout=5.0)


class Scripted(Backend):
    """A backend that plays a list of outcomes (exceptions or texts), then answers correctly."""

    name = "scripted"

    def __init__(self, outcomes=(), delay=0.0, prompt_tokens=None):
        self.outcomes, self.delay, self.prompt_tokens = list(outcomes), delay, prompt_tokens
        self.calls, self.active, self.max_active, self.log = 0, 0, 0, []

    async def generate(self, request):
        self.calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.log.append(("start", request.sample_id, request.query_index, time.monotonic()))
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            outcome = self.outcomes.pop(0) if self.outcomes else None
            if isinstance(outcome, BaseException):
                raise outcome
            text = outcome if isinstance(outcome, str) else oracle_answer(request.prompt)
            return Completion(text=text, prompt_tokens=self.prompt_tokens, completion_tokens=5, latency_s=self.delay)
        finally:
            self.active -= 1
            self.log.append(("end", request.sample_id, request.query_index, time.monotonic()))


def make_cell(tokens, hops, cot, depth, seed, tokenizer):
    return Cell(tokens, tokenizer, hops, cot, depth, seed)


def run(tmp_path, backend, cells=None, samples=1, queries=1, model_counted=False, **config):
    cells = cells or [make_cell(800, 1, False, None, 0, "chars")]
    with RunStore(str(tmp_path)) as store:
        planner = Planner(store, DEFAULT_TEMPLATE, queries, tokenizer=get_tokenizer("chars"))
        runner = Runner(backend, store, RunConfig(**{**FAST, **config}), model_counted=model_counted)
        asyncio.run(runner.run(planner.plans(cells, samples), len(cells) * samples * queries))
    return runner, read_records(str(tmp_path))


def test_oracle_backend_answers_every_query_of_a_grid_correctly(tmp_path):
    cells = [make_cell(t, h, cot, None, 3, "chars") for t in (800, 1600) for h in (1, 3) for cot in (False, True)]
    _, records = run(tmp_path, get_backend("oracle"), cells, samples=2, queries=2)
    assert len(records) == 8 * 2 * 2 == len({r.key for r in records})
    assert all(r.correct and r.kind == "correct" and r.credit == 1.0 for r in records)


def test_random_backend_is_seeded_and_scores_near_zero(tmp_path):
    cells = [make_cell(1600, 2, False, None, 0, "chars")]
    _, a = run(tmp_path / "a", get_backend("random", seed=1), cells, samples=2, queries=3)
    _, b = run(tmp_path / "b", get_backend("random", seed=1), cells, samples=2, queries=3)
    _, c = run(tmp_path / "c", get_backend("random", seed=2), cells, samples=2, queries=3)
    assert [r.completion for r in a] == [r.completion for r in b] != [r.completion for r in c]
    assert sum(r.correct for r in a) <= 1


def test_transient_failures_are_retried_then_succeed(tmp_path):
    backend = Scripted([TransientError("502"), asyncio.TimeoutError(), None])
    _, [record] = run(tmp_path, backend, retries=3)
    assert (record.status, record.correct, record.attempts) == ("ok", True, 3)


def test_a_query_that_keeps_failing_is_stored_as_an_error_with_its_reason(tmp_path):
    backend = Scripted([TransientError("server error 503: busy")] * 10)
    _, [record] = run(tmp_path, backend, retries=2)
    assert (record.status, record.kind, record.attempts) == ("error", "error", 3)
    assert "503: busy" in record.error and "after 3 attempts" in record.error
    m = metrics([record])["overall"]
    assert m["n_errors"] == 1 and m["n_scored"] == 0 and m["accuracy"] is None


def test_per_request_timeout_turns_a_stall_into_a_retried_failure(tmp_path):
    backend = Scripted(delay=0.5)
    _, [record] = run(tmp_path, backend, timeout=0.05, retries=1)
    assert record.status == "error" and "timeout" in record.error and backend.calls == 2


def test_retry_after_is_honoured_and_concurrency_lowered(tmp_path):
    backend = Scripted([RateLimited("429", retry_after=0.3), None])
    t0 = time.monotonic()
    runner, [record] = run(tmp_path, backend, concurrency=10)
    assert time.monotonic() - t0 >= 0.3
    assert record.status == "ok" and record.attempts == 2
    assert runner.limiter.cuts == 1 and runner.limiter.min_seen == 8


def test_endless_rate_limits_end_in_an_error_record(tmp_path):
    backend = Scripted([RateLimited("429 slow down", retry_after=0.0)] * 10)
    _, [record] = run(tmp_path, backend, rate_limit_retries=3)
    assert record.status == "error" and "429" in record.error and backend.calls == 4


def test_a_fatal_backend_error_stops_the_run_and_keeps_what_was_stored(tmp_path):
    backend = Scripted([None, BackendError("bad key")])
    cells = [make_cell(800, 1, False, None, 0, "chars")]
    with pytest.raises(BackendError, match="bad key"):
        run(tmp_path, backend, cells, samples=3, concurrency=1)
    assert len(read_records(str(tmp_path))) == 1 and backend.calls == 2


def test_over_length_is_recorded_apart_or_stops_the_run(tmp_path):
    _, [record] = run(tmp_path / "a", Scripted([OverLength("context window of 512")]))
    assert (record.status, record.kind, record.correct) == ("over_length", "over_length", False)
    assert metrics([record])["overall"]["n_over_length"] == 1
    with pytest.raises(OverLengthStop, match="--on-over-length record"):
        run(tmp_path / "b", Scripted([OverLength("too long")]), on_over_length="stop")
    assert read_records(str(tmp_path / "b")) == []


def test_a_server_that_silently_truncates_the_prompt_is_caught(tmp_path):
    # The model's own count says ~800 tokens were sent; the server reports reading 100.
    _, [record] = run(tmp_path, Scripted(prompt_tokens=100), model_counted=True)
    assert record.status == "over_length" and "truncated" in record.error


def test_concurrency_limit_is_respected(tmp_path):
    backend = Scripted(delay=0.02)
    cells = [make_cell(800, 1, False, None, s, "chars") for s in range(4)]
    run(tmp_path, backend, cells, samples=3, queries=2, concurrency=3)
    assert backend.calls == 24 and backend.max_active == 3


def test_first_query_of_a_context_finishes_before_the_others_start(tmp_path):
    backend = Scripted(delay=0.02)
    run(tmp_path, backend, samples=2, queries=4, concurrency=8)
    for sample_id in {e[1] for e in backend.log}:
        events = [e for e in backend.log if e[1] == sample_id]
        first_end = next(t for kind, _, q, t in events if kind == "end" and q == 0)
        assert all(t >= first_end for kind, _, q, t in events if kind == "start" and q != 0)


def test_max_cost_stops_before_the_budget_is_crossed(tmp_path):
    prices = Prices(input=1000.0, output=0.0)  # $1 per 1000 prompt tokens: ~0.8 per query
    runner, records = run(tmp_path, Scripted(prompt_tokens=800), samples=5, concurrency=1, prices=prices, max_cost=2.0)
    assert len(records) == 2 and runner.stopped.startswith("max_cost")
    assert sum(r.cost_usd for r in records) <= 2.0


def test_max_cost_counts_what_earlier_runs_of_the_folder_spent(tmp_path):
    prices = Prices(input=1000.0, output=0.0)  # ~0.8 per query
    first, records = run(tmp_path, Scripted(prompt_tokens=800), samples=5, concurrency=1, prices=prices, max_cost=2.0)
    assert len(records) == 2
    again, records = run(tmp_path, Scripted(prompt_tokens=800), samples=5, concurrency=1, prices=prices, max_cost=2.0)
    assert len(records) == 2 and again.requests == 0  # the same budget, already spent: nothing more is sent
    assert again.stopped.startswith("max_cost") and "spent in this run folder" in again.stopped
    more, records = run(tmp_path, Scripted(prompt_tokens=800), samples=5, concurrency=1, prices=prices, max_cost=3.5)
    assert len(records) == 4 and more.requests == 2 and sum(r.cost_usd for r in records) <= 3.5


def test_adaptive_limiter_cuts_on_429_and_recovers_after_the_cooldown():
    limiter = AdaptiveLimiter(10, cooldown=0.05)
    limiter.rate_limited()
    limiter.rate_limited()  # the same burst: one cut
    assert int(limiter.limit) == 8 and limiter.cuts == 1
    limiter.succeeded()
    assert int(limiter.limit) == 8  # still cooling down
    time.sleep(0.06)
    limiter.succeeded()
    limiter.succeeded()
    assert int(limiter.limit) == 10


def test_resume_skips_recorded_queries(tmp_path):
    cells = [make_cell(800, 2, False, None, 0, "chars")]
    with pytest.raises(BackendError):
        run(tmp_path, Scripted([None, None, BackendError("boom")]), cells, samples=2, queries=2, concurrency=1)
    done = read_records(str(tmp_path))
    assert len(done) == 2
    second = Scripted()
    _, records = run(tmp_path, second, cells, samples=2, queries=2)
    assert second.calls == 2 and len(records) == 4 and records[:2] == done
