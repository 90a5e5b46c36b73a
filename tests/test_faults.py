"""Fault injection: `hashhop eval` against a stub server that misbehaves in every way real ones do.

Each fault is scripted into tests/stub_server.py (429 with and without Retry-After, 500/502/503,
stalls past the timeout, resets mid-body, truncated and malformed JSON, empty choices, gigantic
bodies with and without Content-Length). The contract checked every time: the run finishes, every
query ends as exactly one record (scored, or `error` with its reason), nothing is dropped, nothing
is counted twice, and results.json counts what records.jsonl holds.
"""

import json
import random
import time

import pytest
from stub_server import StubServer

from hashhop.cli import main
from hashhop.evaluate.store import read_records, read_results

FAULTS = {
    "429_retry_after": {"status": 429, "retry_after": "0"},
    "429_bare": {"status": 429},
    "429_http_date": {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"},  # in the past: no wait
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503, "message": "overloaded"},
    "stall": {"stall": 1.5},
    "reset": {"reset": True},
    "truncated": {"truncated": True},
    "malformed": {"malformed": True},
    "empty_choices": {"empty_choices": True},
    "huge": {"huge": 8 * 2**20},  # Content-Length above the limit: refused before reading
    "huge_chunked": {"huge": 8 * 2**20, "chunked": True},  # no length: cut at the limit while reading
}
# A fault that outlives the retries leaves this much in the error record.
REASONS = {
    "429_retry_after": "rate limited",
    "429_bare": "rate limited",
    "429_http_date": "rate limited",
    "500": "500",
    "502": "502",
    "503": "overloaded",
    "stall": "timeout",
    "reset": "connection",
    "truncated": "connection",
    "malformed": "malformed",
    "empty_choices": "malformed",
    "huge": "limit",
    "huge_chunked": "limit",
}


def _eval(server, run, *extra, queries=3, samples=2, concurrency=1, retries=2):
    args = [
        "eval",
        "--model",
        "openai:stub",
        "--base-url",
        server.url + "/v1",
        "-M",
        "chat_overhead=11",
        "-M",
        "max_response_bytes=1048576",
        "--tokens",
        "600",
        "--hops",
        "1,2",
        "--samples",
        str(samples),
        "--queries",
        str(queries),
        "--concurrency",
        str(concurrency),
        "--retries",
        str(retries),
        "--backoff",
        "0.01",
        "--timeout",
        "0.8",
        "-o",
        str(run),
        *extra,
    ]
    return main(args)


def _check_complete(run, expected: int):
    """Every query is in records.jsonl exactly once, and results.json counts the same."""
    lines = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines() if x.strip()]
    keys = [(d["sample_id"], d["query_index"]) for d in lines]
    assert len(keys) == len(set(keys)) == expected, "a query was dropped or recorded twice"
    records = read_records(str(run))
    for r in records:
        assert r.status in ("ok", "error")
        assert (r.status == "error") == bool(r.error), r  # an error always says why; a scored answer never has one
    overall = read_results(str(run))["metrics"]["overall"]
    assert overall["n"] == expected and read_results(str(run))["partial"] is False
    return records


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_once_is_retried_and_the_query_is_scored(tmp_path, fault):
    with StubServer() as s:
        s.script(FAULTS[fault])
        assert _eval(s, tmp_path / "run", queries=1, samples=1) == 0
        assert len(s.queries) == 3  # two queries (hops 1 and 2), one retried once: no retry storm
    records = _check_complete(tmp_path / "run", 2)
    assert all(r.status == "ok" and r.correct for r in records)
    assert sorted(r.attempts for r in records) == [1, 2]


RATE_LIMIT_WAITS = 20  # RunConfig.rate_limit_retries: 429s are waited out longer than other failures


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - {"429_bare"}))  # bare 429s back off for minutes
def test_a_fault_that_outlives_the_retries_is_an_error_record_with_its_reason(tmp_path, fault):
    attempts = RATE_LIMIT_WAITS + 1 if fault.startswith("429") else 3  # retries=2: three attempts
    with StubServer() as s:
        s.script(*[FAULTS[fault]] * attempts)  # every attempt of the first query fails
        assert _eval(s, tmp_path / "run", queries=2, samples=1, retries=2) == 0
    records = _check_complete(tmp_path / "run", 4)
    errors = [r for r in records if r.status == "error"]
    assert len(errors) == 1 and errors[0].attempts == attempts
    assert REASONS[fault].lower() in errors[0].error.lower(), errors[0].error
    assert f"after {attempts} attempts" in errors[0].error
    assert all(r.correct for r in records if r.status == "ok")


def test_retry_after_is_honoured_before_the_retry(tmp_path):
    with StubServer() as s:
        s.script({"status": 429, "retry_after": "1"})
        t0 = time.monotonic()
        assert _eval(s, tmp_path / "run", queries=1, samples=1) == 0
        assert time.monotonic() - t0 >= 1.0  # waited as told, not the 0.01 s backoff
    assert read_results(str(tmp_path / "run"))["concurrency"]["rate_limit_cuts"] >= 1


@pytest.mark.slow
def test_a_random_storm_of_every_fault_under_concurrency_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(8)
    kinds = sorted(FAULTS)
    # About half the requests fail, in a seeded mix; stalls are short so the test stays quick.
    storm = [dict(FAULTS[rng.choice(kinds)]) if rng.random() < 0.5 else {} for _ in range(120)]
    for action in storm:
        if "stall" in action:
            action["stall"] = 1.0
    with StubServer() as s:
        s.script(*storm)
        assert _eval(s, tmp_path / "run", queries=5, samples=3, concurrency=4, retries=3) == 0
        sent = len(s.queries)
    records = _check_complete(tmp_path / "run", 2 * 3 * 5)
    assert sent >= len(records)
    assert all(r.correct for r in records if r.status == "ok")
    # Resuming finished work sends nothing and changes nothing.
    before = (tmp_path / "run" / "records.jsonl").read_bytes()
    with StubServer() as s:
        assert _eval(s, tmp_path / "run", queries=5, samples=3, concurrency=4, retries=3) == 0
        assert s.queries == []
    assert (tmp_path / "run" / "records.jsonl").read_bytes() == before


def test_a_server_that_dies_mid_run_leaves_error_records_and_a_readable_store(tmp_path):
    with StubServer() as s:
        s.script({}, *[{"reset": True}] * 50)  # the first query answers, then every connection is reset
        assert _eval(s, tmp_path / "run", queries=3, samples=1, retries=1) == 0
    records = _check_complete(tmp_path / "run", 6)
    assert records[0].status == "ok" and sum(r.status == "error" for r in records) == 5


class RawStub(StubServer):
    """The stub, plus one more fault: a 200 whose JSON body is exactly `{"body": ...}`."""

    async def _act(self, a, chat, prompt, n_prompt, writer):
        if "body" in a:
            return await self._send(writer, 200, raw=json.dumps(a["body"]).encode())
        return await super()._act(a, chat, prompt, n_prompt, writer)


def _choice(content, usage=None):
    return {
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage if usage is not None else {"completion_tokens": 1},
    }


ODD_BODIES = {
    "null_content": _choice(None),
    "list_content": _choice([{"type": "text", "text": "abc"}]),
    "number_content": _choice(42),
    "object_content": _choice({"text": "abc"}),
    "string_usage": _choice("abc", {"prompt_tokens": "x", "completion_tokens": "12"}),
    "null_usage": _choice("abc", None) | {"usage": None},
    "negative_usage": _choice("abc", {"prompt_tokens": 10**30, "completion_tokens": -5}),
    "choices_object": {"choices": {"0": {"message": {"content": "abc"}}}},
    "choice_is_string": {"choices": ["abc"]},
    "body_is_list": [1, 2, 3],
    "body_is_string": "hello",
    "no_message": {"choices": [{"text": "abc"}]},
}


@pytest.mark.parametrize("body", sorted(ODD_BODIES))
def test_an_odd_but_valid_json_body_is_scored_or_an_error_record_never_a_crash(tmp_path, body):
    with RawStub() as s:
        s.script(*[{"body": ODD_BODIES[body]}] * 3)
        assert _eval(s, tmp_path / "run", queries=2, samples=1, retries=2) == 0
    records = _check_complete(tmp_path / "run", 4)
    for r in records:  # what is stored is what the report and the rescorer can read
        assert isinstance(r.completion, str)
        assert all(v is None or (isinstance(v, int) and v >= 0) for v in (r.prompt_tokens, r.completion_tokens))
        assert isinstance(r.cost_usd, float)
    assert sum(r.status == "ok" and r.correct for r in records) >= 1


class _FakeResponse:
    def __init__(self, data):
        self.data = data

    def json(self):
        return self.data


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": "x", "output_tokens": 3},
        {"input_tokens": 5, "output_tokens": "y"},
        {"input_tokens": 5, "cache_read_input_tokens": "z"},
        {"input_tokens": None},
        {"input_tokens": -1, "output_tokens": True},
        "not a table",
        [1],
    ],
)
def test_the_anthropic_backend_reads_odd_usage_as_unknown_or_malformed_never_a_crash(usage):
    from hashhop.backends import TransientError
    from hashhop.backends.anthropic import _completion

    body = {"content": [{"type": "text", "text": "abc"}], "usage": usage, "model": "m", "stop_reason": "end_turn"}
    try:
        c = _completion(_FakeResponse(body), 0.1)
    except TransientError:
        return  # retried like any malformed body
    assert c.text == "abc"
    assert all(
        v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
        for v in (c.prompt_tokens, c.completion_tokens)
    )
