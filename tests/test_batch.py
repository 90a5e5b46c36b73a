"""--batch end to end against the billing stubs (OpenAI Batch API, Anthropic Message Batches): the same
records as a synchronous run at half the price, retries of expired and failed requests, the budget
stop, kill -9 while polling and the resume that submits nothing twice, and `hashhop bench --batch`."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from anthropic_stub import running_stub
from stub_server import StubServer

from hashhop.cli import main
from hashhop.evaluate.store import read_records, read_results

VOLATILE = ("time", "latency_s", "cost_usd")  # what a batch changes: when, how fast, how much
GRID = ["--tokens", "1K,2K", "--hops", "1,2", "--samples", "2", "--queries", "2"]
PRICES = ["--price-in", "2.5", "--price-out", "10"]
SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def openai_eval(url, out, *extra):
    # chat_overhead given: no calibration probe, so the stub bills the queries alone.
    model = ["--model", "openai:stub", "--base-url", f"{url}/v1", "-M", "chat_overhead=12"]
    return ["eval", *model, *GRID, *PRICES, "--batch-poll", "0.01", "--retries", "1", "-o", str(out), *extra]


def stable(records):
    return sorted(json.dumps({k: v for k, v in r.to_dict().items() if k not in VOLATILE}) for r in records)


def spent(run):
    return sum(r.cost_usd for r in read_records(str(run)))


def test_openai_batch_records_equal_a_synchronous_run_billed_at_half(tmp_path):
    with StubServer(price_in=2.5, price_out=10) as sync:
        assert main(openai_eval(sync.url, tmp_path / "sync")) == 0
    with StubServer(price_in=2.5, price_out=10) as stub:
        assert main(openai_eval(stub.url, tmp_path / "batch", "--batch")) == 0
        assert stub.queries == []  # nothing went through /chat/completions
        assert stub.batches.created == 1
    records = read_records(str(tmp_path / "batch"))
    assert len(records) == 16 and all(r.status == "ok" and r.correct for r in records)
    assert stable(records) == stable(read_records(str(tmp_path / "sync")))
    assert stub.billing.billed == pytest.approx(sync.billing.billed / 2)
    assert spent(tmp_path / "batch") == pytest.approx(stub.billing.billed)
    results = read_results(str(tmp_path / "batch"))
    assert results["config"]["batch"] is True and results["config"]["batch_discount"] == 0.5
    lines = (tmp_path / "batch" / "batches.jsonl").read_text().splitlines()
    assert [json.loads(x)["event"] for x in lines] == ["submitted", "collected"]


@pytest.fixture
def anthropic(monkeypatch):
    pytest.importorskip("httpx")
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", "sk-ant-test")
    with running_stub() as server:
        server.billing.price_in, server.billing.price_out = 3.0, 15.0
        yield server


def anthropic_eval(server, out, *extra):
    url = f"http://127.0.0.1:{server.server_port}"
    model = ["--model", "anthropic:claude-stub", "--base-url", url, "-M", "api_key_env=HH_TEST_ANTHROPIC_KEY"]
    return [
        "eval",
        *model,
        *GRID,
        "--price-in",
        "3",
        "--price-out",
        "15",
        "--batch-poll",
        "0.01",
        "-o",
        str(out),
        *extra,
    ]


def test_anthropic_message_batches_record_as_messages_do_at_half(tmp_path, anthropic):
    assert main(anthropic_eval(anthropic, tmp_path / "sync")) == 0
    sync_billed = anthropic.billing.billed
    assert main(anthropic_eval(anthropic, tmp_path / "batch", "--batch")) == 0
    assert anthropic.batches.created == 1
    records = read_records(str(tmp_path / "batch"))
    assert len(records) == 16 and all(r.status == "ok" and r.correct for r in records)
    assert stable(records) == stable(read_records(str(tmp_path / "sync")))
    assert anthropic.billing.billed - sync_billed == pytest.approx(sync_billed / 2)
    assert spent(tmp_path / "batch") == pytest.approx(sync_billed / 2)
    batch = next(s["body"] for s in anthropic.seen if s["path"] == "/v1/messages/batches")
    assert batch["requests"][0]["params"]["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_anthropic_expired_and_errored_results_are_retried_or_recorded(tmp_path, anthropic):
    anthropic.batches.script = ["expired", "invalid"]
    assert main(anthropic_eval(anthropic, tmp_path / "run", "--retries", "1", "--batch")) == 0
    by_status = {}
    for r in read_records(str(tmp_path / "run")):
        by_status.setdefault(r.status, []).append(r)
    assert len(by_status["error"]) == 1 and "invalid" not in by_status  # the 400 is final, not retried
    assert "rejected" in by_status["error"][0].error and by_status["error"][0].attempts == 1
    assert [r.attempts for r in by_status["ok"]].count(2) == 1  # the expired one, answered in the 2nd batch
    assert anthropic.batches.created == 2  # the expired one went into a second batch, and was answered


@pytest.mark.parametrize("fault", ["expired", "failed"])
def test_a_failed_request_goes_into_a_new_batch_then_is_recorded_as_an_error(tmp_path, fault):
    with StubServer(price_in=2.5, price_out=10) as stub:
        # Two fail in the first batch; in the second, one fails again (given up: --retries 1), one is answered.
        stub.batches.script = [fault, fault] + [None] * 14 + [fault, None]
        assert main(openai_eval(stub.url, tmp_path / "run", "--batch")) == 0
        assert stub.batches.created == 2
    records = read_records(str(tmp_path / "run"))
    assert len(records) == 16
    errors = [r for r in records if r.status == "error"]
    assert len(errors) == 1 and errors[0].attempts == 2 and "(after 2 attempts)" in errors[0].error
    assert sum(r.attempts == 2 and r.status == "ok" for r in records) == 1
    assert spent(tmp_path / "run") == pytest.approx(stub.billing.billed)


def test_a_batch_over_the_budget_is_not_submitted(tmp_path, capsys):
    with StubServer(price_in=2.5, price_out=10) as stub:
        assert main(openai_eval(stub.url, tmp_path / "run", "--batch", "--max-cost", "0.001")) == 0
        assert stub.batches.created == 0 and stub.billing.billed == 0
    results = read_results(str(tmp_path / "run"))
    assert results["partial"] is True and results["stopped"].startswith("max_cost: the next batch")
    assert "stopped: max_cost" in capsys.readouterr().err


def test_batch_with_a_backend_without_a_batch_api_is_one_line_before_anything(tmp_path, capsys):
    assert main(["eval", "--model", "oracle", "--batch", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --batch: oracle has no batch API (openai and anthropic have one): drop --batch for this model"
    assert not (tmp_path / "run" / "records.jsonl").exists() or not (tmp_path / "run" / "records.jsonl").read_bytes()


def _wait_for_batch_id(proc, ledger, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists() and b'"submitted"' in ledger.read_bytes():
            return True
        time.sleep(0.01)
    return False


def test_kill_9_while_polling_then_resume_polls_the_same_batch(tmp_path):
    run = tmp_path / "run"
    with StubServer(price_in=2.5, price_out=10, batch_delay=2.0) as stub:
        cmd = [sys.executable, "-m", "hashhop", *openai_eval(stub.url, run, "--batch", "--batch-poll", "0.05")]
        env = {**os.environ, "PYTHONPATH": SRC}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert _wait_for_batch_id(proc, run / "batches.jsonl"), "the batch id never reached batches.jsonl"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert stub.batches.created == 1 and not read_records(str(run))
        assert main(openai_eval(stub.url, run, "--batch")) == 0  # the resume: polls, collects, submits nothing
        assert stub.batches.created == 1
    records = read_records(str(run))
    assert len(records) == 16 and all(r.correct for r in records)
    assert read_results(str(run))["partial"] is False
    assert spent(run) == pytest.approx(stub.billing.billed)


def test_bench_batch_from_a_sweep_file(tmp_path):
    with StubServer(price_in=2.5, price_out=10) as stub:
        sweep = tmp_path / "s.toml"
        sweep.write_text(
            'name = "b"\n[grid]\nlengths = ["1K"]\nhops = [1, 2]\ncot = "both"\nsamples = 1\nqueries = 2\n'
            f'[[models]]\nmodel = "openai:stub"\nbase_url = "{stub.url}/v1"\nbatch = true\nbatch_discount = 0.4\n'
            "price_in = 2.5\nprice_out = 10\noptions = { chat_overhead = 12 }\n"
        )
        args = ["bench", "--sweep", str(sweep), "-o", str(tmp_path / "out"), "--no-figures", "--no-progress"]
        assert main(args) == 0
        assert stub.batches.created == 1 and stub.queries == []
    run = tmp_path / "out" / "openai-stub"
    assert len(read_records(str(run))) == 8
    assert spent(run) == pytest.approx(stub.billing.billed / 0.5 * 0.4)  # the sweep's discount, not the stub's
    assert read_results(str(run))["config"]["batch_discount"] == 0.4
