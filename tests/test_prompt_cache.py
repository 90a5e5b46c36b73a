"""Shared contexts and provider prompt caching, end to end against the caching, billing stubs
(tests/stub_server.py for OpenAI, tests/anthropic_stub.py for Anthropic): one context per (length, seed)
serves every hop count and mode, the first query warms the cache and the rest read it, records carry
cached tokens, their cost is what the stub billed, and the dry-run forecast lands within 10% of it."""

from __future__ import annotations

import json

import pytest
from anthropic_stub import running_stub
from stub_server import StubServer

from hashhop.cli import main
from hashhop.evaluate.cost import Prices
from hashhop.evaluate.forecast import forecast
from hashhop.evaluate.store import read_records, read_results, read_samples
from hashhop.prompt.cell import Cell

OPENAI_PRICES = {"price_in": 3.0, "price_out": 15.0, "price_cached": 0.3}  # the stub's billing
PRICE_FLAGS = ["--price-in", "3", "--price-out", "15"]  # cache prices follow: 0.3 read, 3.75 write


def _eval(url: str, run, *extra: str, model="openai:stub") -> None:
    argv = ["eval", "--model", model, "--base-url", url, "--no-progress", "-o", str(run), *PRICE_FLAGS, *extra]
    assert main(argv) == 0


GRID = ["--tokens", "8K", "--hops", "1,2", "--queries", "2", "--samples", "1"]


def _by_context(run) -> dict[str, list]:
    """Records grouped by the context they were asked on (its prompt digest)."""
    digest = {e["sample_id"]: e["sample"]["prompt_sha256"] for e in read_samples(str(run))}
    out: dict[str, list] = {}
    for r in read_records(str(run)):
        out.setdefault(digest[r.sample_id], []).append(r)
    return out


def test_a_shared_context_serves_every_hop_count_and_mode_and_scores_exactly(tmp_path):
    with StubServer(caching=True) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "run", *GRID, "--share-contexts")
        _eval(f"{stub.url}/v1", tmp_path / "cot", *GRID, "--cot", "--share-contexts")
    records = read_records(str(tmp_path / "run"))
    assert len(records) == 4 and all(r.correct for r in records)  # hops 1 and 2 on one context, exact
    assert len(_by_context(tmp_path / "run")) == 1
    assert {r.cell["hops"] for r in records} == {1, 2}
    one, two = (sorted((r for r in records if r.cell["hops"] == h), key=lambda r: r.query_index) for h in (1, 2))
    assert [r.path[:2] for r in two] == [r.path for r in one]  # 1 hop takes the first link of the same chain
    assert len({r.sample_id for r in records}) == 2  # each cell its own sample id


def test_the_first_query_warms_the_cache_and_the_others_read_it(tmp_path):
    with StubServer(caching=True, **OPENAI_PRICES) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "run", *GRID, "--share-contexts")
        billed = stub.billing.billed - stub.billing.probe
    for group in _by_context(tmp_path / "run").values():
        cold = [r for r in group if r.cached_tokens == 0]
        assert len(cold) == 1 and cold[0].query_index == 0  # one warm-up, sent alone before the rest
        assert all(r.cached_tokens >= 0.9 * r.prompt_tokens for r in group if r is not cold[0])
    cost = read_results(str(tmp_path / "run"))["cost"]
    # priced like the provider bills (the backend's one-token calibration probe is billed but not recorded)
    recorded = sum(r.cost_usd for r in read_records(str(tmp_path / "run")))
    assert recorded == pytest.approx(billed, rel=1e-9)
    assert cost["cache"]["cached_share"] > 0.6 and cost["cache"]["saved_usd"] > 0


def test_without_sharing_each_cell_has_its_own_context(tmp_path):
    with StubServer(caching=True) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "run", *GRID)
    assert len(_by_context(tmp_path / "run")) == 2


def test_a_resumed_shared_run_reuses_its_contexts_and_sends_nothing_twice(tmp_path):
    run = tmp_path / "run"
    with StubServer(caching=True) as stub:
        _eval(f"{stub.url}/v1", run, *GRID, "--share-contexts")
        samples = (run / "samples.jsonl").read_bytes()
        sent = len(stub.queries)
        _eval(f"{stub.url}/v1", run, *GRID, "--share-contexts")
        assert len(stub.queries) == sent
    assert (run / "samples.jsonl").read_bytes() == samples


def test_anthropic_writes_the_context_once_and_reads_it_after(tmp_path, monkeypatch):
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", "sk-ant-test")
    with running_stub() as stub:
        stub.caching = True
        b = stub.billing
        b.price_in, b.price_out, b.price_cached, b.price_write = 3.0, 15.0, 0.3, 3.75
        url = f"http://127.0.0.1:{stub.server_port}"
        _eval(url, tmp_path / "run", *GRID, "--share-contexts", "-M", "api_key_env=HH_TEST_ANTHROPIC_KEY",
              model="anthropic:claude-stub")  # fmt: skip
        billed = stub.billing.billed
    records = read_records(str(tmp_path / "run"))
    assert sum(1 for r in records if r.cache_write_tokens) == 1
    assert sum(1 for r in records if r.cached_tokens) == len(records) - 1
    assert sum(r.cost_usd for r in records) == pytest.approx(billed, rel=1e-6)


def test_the_forecast_lands_within_ten_percent_of_the_bill(tmp_path):
    grid = ["--tokens", "8K,16K", "--hops", "1,2,4", "--queries", "2", "--samples", "2", "--share-contexts"]
    with StubServer(caching=True, **OPENAI_PRICES) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "run", *grid)
        _eval(f"{stub.url}/v1", tmp_path / "cot", *grid, "--cot")
        billed = stub.billing.billed - stub.billing.probe
    cells = [Cell(t, "model", h, c) for c in (False, True) for t in (8000, 16000) for h in (1, 2, 4)]
    prices = Prices(3.0, 15.0)
    forecast_usd = sum(
        forecast([c for c in cells if c.cot == cot], 2, 2, prices, "openai:stub", True).cost_usd
        for cot in (False, True)
    )
    assert forecast_usd == pytest.approx(billed, rel=0.10)


def test_dry_run_prints_the_contexts_and_the_forecast_with_and_without_sharing(capsys, tmp_path):
    argv = ["eval", "--model", "openai:x", "--tokens", "8K", "--hops", "1,2,4", "--dry-run", "-o", str(tmp_path)]
    argv += PRICE_FLAGS
    assert main([*argv, "--share-contexts"]) == 0
    out = capsys.readouterr().out
    assert "distinct context tokens with shared contexts" in out and "forecast with caching" in out
    shared, apart = (int(x.replace(",", "")) for x in json.loads(_numbers(out)))
    assert apart == 3 * shared


def _numbers(out: str) -> str:
    """[distinct with sharing, distinct without] from the dry run's contexts line."""
    line = next(x for x in out.splitlines() if "distinct context tokens with" in x)
    first = line.split("contexts: ")[1].split(" distinct")[0]
    second = line.split("shared contexts, ")[1].split(" without")[0]
    return json.dumps([first, second])


def test_one_pricing_function_prices_reads_writes_and_the_batch_discount():
    from hashhop.evaluate.cost import load_prices, price_tokens

    prices = Prices(3.0, 15.0)  # cache prices follow the input price: read 0.30, write 3.75
    assert price_tokens(prices, 1000, None, None, 10) == prices.cost(1000, 10)  # uncached: as before
    assert price_tokens(prices, 1000, 900, 0, 0) == pytest.approx((100 * 3.0 + 900 * 0.3) / 1e6)
    assert price_tokens(prices, 1000, 0, 900, 0) == pytest.approx((100 * 3.0 + 900 * 3.75) / 1e6)
    assert price_tokens(prices, 1000, 900, 0, 10, discount=0.5) == pytest.approx(
        price_tokens(prices, 1000, 900, 0, 10) / 2
    )
    assert load_prices("openai:m", 3.0, 15.0, cache_read=1.5).read_rate == 1.5


def test_bench_suites_share_contexts_and_say_so_in_the_dry_run(capsys):
    assert main(["bench", "--suite", "quick", "--model", "openai:x", "--price-in", "1", "--dry-run"]) == 0
    assert "(shared in this run)" in capsys.readouterr().out
    assert main(["bench", "--suite", "quick", "--model", "openai:x", "--no-share-contexts", "--dry-run"]) == 0
    assert "(not shared in this run)" in capsys.readouterr().out


def test_a_run_stopped_halfway_resumes_on_the_same_contexts_as_an_uninterrupted_one(tmp_path):
    with StubServer(caching=True) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "whole", *GRID, "--share-contexts")
        _eval(f"{stub.url}/v1", tmp_path / "cut", *GRID, "--share-contexts", "--max-cost", "0.03")
        assert 0 < len(read_records(str(tmp_path / "cut"))) < 4  # the budget stopped it partway
        _eval(f"{stub.url}/v1", tmp_path / "cut", *GRID, "--share-contexts")
    keys = {name: sorted(r.key for r in read_records(str(tmp_path / name))) for name in ("whole", "cut")}
    assert keys["whole"] == keys["cut"] and len(keys["cut"]) == 4
    assert (tmp_path / "whole" / "samples.jsonl").read_bytes() == (tmp_path / "cut" / "samples.jsonl").read_bytes()


def test_a_batch_run_asks_every_query_of_a_shared_context(tmp_path):
    with StubServer(caching=True, **OPENAI_PRICES) as stub:
        _eval(f"{stub.url}/v1", tmp_path / "run", *GRID, "--share-contexts", "--batch", "--batch-poll", "0.01")
        assert stub.batches.created == 1
    records = read_records(str(tmp_path / "run"))
    assert len(records) == 4 and all(r.correct for r in records)  # both hop counts, from one batch
    assert sum(1 for r in records if r.cached_tokens) == 3  # the stub caches the batch's requests in order
