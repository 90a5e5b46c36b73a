"""`hashhop eval` and `hashhop score` end to end: grids, resume, bad input, cost, kill -9."""

import json
import os
import random
import subprocess
import sys

import pytest
from killing import kill_after
from stub_server import StubServer

from hashhop.cli import main
from hashhop.core.errors import PricingError
from hashhop.evaluate.cost import Prices, estimate, load_prices
from hashhop.evaluate.results import redact
from hashhop.evaluate.store import RunStore, read_records, read_results, read_samples
from hashhop.generator.build import make_sample
from hashhop.generator.spec import Spec

VOLATILE = ("time", "latency_s", "attempts", "cost_usd", "peak_memory_bytes")


def hashhop(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "hashhop", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def stable(records):
    return sorted(
        tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in r.to_dict().items() if k not in VOLATILE))
        for r in records
    )


def files(run):
    return {name: (run / name).read_bytes() for name in ("records.jsonl", "samples.jsonl")}


def test_oracle_grid_writes_records_samples_and_results(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "eval",
                "--model",
                "oracle",
                "--tokens",
                "1K,2K",
                "--hops",
                "1,2",
                "--cot",
                "--samples",
                "2",
                "--queries",
                "2",
                "--depth",
                "0.2,0.8",
                "-o",
                str(run),
            ]
        )
        == 0
    )
    records = read_records(str(run))
    assert len(records) == 2 * 2 * 2 * 2 * 2 and all(r.correct for r in records)
    assert len(read_samples(str(run))) == 16  # each context once, not once per query
    results = read_results(str(run))
    for key in ("config", "versions", "git_hash", "tokenizer", "template", "timing", "metrics", "partial"):
        assert key in results
    assert results["partial"] is False and results["metrics"]["overall"]["accuracy"] == 1.0
    assert results["template"]["system"] and results["config"]["model"] == "oracle"
    assert {c["cell"]["depth"] for c in results["metrics"]["cells"]} == {0.2, 0.8}
    assert "1.000" in capsys.readouterr().out


def test_order_flag_crosses_link_orders_and_records_them_in_cells_and_samples(tmp_path):
    run = tmp_path / "run"
    args = ["eval", "--model", "oracle", "--tokens", "1K", "--hops", "2", "--order", "forward,backward"]
    assert main([*args, "--queries", "2", "--no-progress", "-o", str(run)]) == 0
    records = read_records(str(run))
    assert sorted(r.cell["order"] for r in records) == ["backward"] * 2 + ["forward"] * 2
    assert all(r.correct for r in records)
    assert {s["sample"]["spec"]["order"] for s in read_samples(str(run))} == {"forward", "backward"}
    assert main([*args[:-1], "sideways", "-o", str(tmp_path / "bad")]) == 2


def test_running_the_same_command_again_resumes_without_new_requests(tmp_path):
    run = tmp_path / "run"
    with StubServer() as s:
        args = [
            "eval",
            "--model",
            "openai:stub",
            "--base-url",
            s.url + "/v1",
            "--tokens",
            "1K",
            "--hops",
            "1,2",
            "--samples",
            "2",
            "--queries",
            "2",
            "-o",
            str(run),
        ]
        assert main(args) == 0
        before, n = files(run), len(s.queries)
        assert n == 8 and all(r.correct for r in read_records(str(run)))
        assert main(args) == 0
        assert len(s.queries) == n and files(run) == before


def test_stub_server_path_is_token_exact_and_scored(tmp_path):
    run = tmp_path / "run"
    with StubServer() as s:
        assert (
            main(
                [
                    "eval",
                    "--model",
                    "openai:stub",
                    "--base-url",
                    s.url + "/v1",
                    "--tokens",
                    "2K",
                    "--hops",
                    "2",
                    "--queries",
                    "3",
                    "-o",
                    str(run),
                ]
            )
            == 0
        )
        sent = s.queries
    results = read_results(str(run))
    assert results["tokenizer"] == "model:openai:stub"
    check = results["token_check"]
    assert check["compared"] == 3 and check["max_abs_diff"] <= 3  # our count vs the server's
    assert all(abs(r.prompt_tokens - 2000) <= 10 for r in read_records(str(run)))  # the whole prompt, +-0.5%
    assert all(r["json"]["cache_prompt"] for r in sent)
    # Queries of one context share it as a prefix; the first is sent alone, then the others.
    contents = [r["json"]["messages"][1]["content"] for r in sent]
    prefix = os.path.commonprefix(contents)
    assert len(prefix) > 0.9 * len(contents[0])


def test_dry_run_prints_the_estimate_and_calls_nothing(tmp_path, capsys):
    with StubServer() as s:
        assert (
            main(
                [
                    "eval",
                    "--model",
                    "openai:stub",
                    "--base-url",
                    s.url + "/v1",
                    "--tokens",
                    "1K,4K",
                    "--hops",
                    "1,2",
                    "--samples",
                    "3",
                    "--queries",
                    "2",
                    "--price-in",
                    "2",
                    "--price-out",
                    "10",
                    "--dry-run",
                    "-o",
                    str(tmp_path / "run"),
                ]
            )
            == 0
        )
        assert s.requests == []
    out = capsys.readouterr().out
    assert "24 queries" in out and "60,000 prompt tokens" in out and "$0.1" in out
    assert not (tmp_path / "run").exists()


def test_max_cost_stops_early_and_a_larger_budget_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    with StubServer() as s:
        args = [
            "eval",
            "--model",
            "openai:stub",
            "--base-url",
            s.url + "/v1",
            "--tokens",
            "1K",
            "--samples",
            "6",
            "--concurrency",
            "1",
            "--price-in",
            "1000",
            "-o",
            str(run),
        ]
        assert main([*args, "--max-cost", "2.5"]) == 0
        assert len(read_records(str(run))) == 2 and read_results(str(run))["partial"] is True
        assert "max_cost" in capsys.readouterr().err
        assert main([*args, "--max-cost", "100"]) == 0
    assert len(read_records(str(run))) == 6 and read_results(str(run))["partial"] is False


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--max-cost needs prices for oracle: pass --price-in"),
        (["--price-in", "1"], "--max-cost must be 0 or more"),
    ],
)
def test_a_budget_that_could_not_work_is_refused_before_anything_is_written(tmp_path, capsys, extra, message):
    run = tmp_path / "run"
    budget = "-1" if extra else "5"
    assert main(["eval", "--model", "oracle", "--max-cost", budget, *extra, "-o", str(run)]) == 2
    assert message in capsys.readouterr().err and not run.exists()


def test_prices_come_from_options_or_a_pricing_file(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text('["openai:m"]\ninput = 0.5\noutput = 2.0\n')
    js = tmp_path / "p.json"
    js.write_text('{"m": {"input": 1.0, "output": 3.0}}')
    assert load_prices("openai:m", pricing_file=str(toml)) == Prices(0.5, 2.0)
    assert load_prices("openai:m", pricing_file=str(js)) == Prices(1.0, 3.0)  # bare model name
    assert load_prices("openai:m", price_out=9.0, pricing_file=str(toml)) == Prices(0.5, 9.0)
    with pytest.raises(PricingError, match="no price for 'openai:x'"):
        load_prices("openai:x", pricing_file=str(toml))
    e = estimate([(1000, 4, 50), (4000, 2, 50)], Prices(1.0, 10.0))
    assert (e.queries, e.prompt_tokens, e.completion_tokens) == (6, 12000, 300)
    assert e.cost_usd == pytest.approx(0.012 + 0.003)


def test_recorded_options_never_hold_a_credential():
    assert redact({"api_key": "sk-1", "token": "t", "api_key_env": "NAME", "n_ctx": 4}) == {
        "api_key": "<redacted>",
        "token": "<redacted>",
        "api_key_env": "NAME",
        "n_ctx": 4,
    }


def test_unreachable_server_is_a_one_line_error(tmp_path):
    r = hashhop("eval", "--model", "openai:stub", "--base-url", "http://127.0.0.1:9/v1", "-o", str(tmp_path / "r"))
    assert r.returncode == 2 and r.stderr.startswith("error: cannot reach") and r.stderr.count("\n") == 1


def test_wrong_key_is_one_error_with_no_retry_storm_and_the_store_stays_intact(tmp_path):
    run = tmp_path / "run"
    with StubServer(require_key="sk-right") as s:
        base = [
            "eval",
            "--model",
            "openai:stub",
            "--base-url",
            s.url + "/v1",
            "-M",
            "api_key_env=HH_TEST_KEY",
            "--tokens",
            "1K",
            "-o",
            str(run),
        ]
        assert hashhop(*base, env={"HH_TEST_KEY": "sk-right"}).returncode == 0
        before = files(run)
        r = hashhop(*base, "--samples", "3", env={"HH_TEST_KEY": "sk-wrong"})
        assert r.returncode == 2 and "refused the key" in r.stderr and r.stderr.count("\n") == 1
        assert len(s.queries) == 1  # only the good run's query: the bad key never reached generation
    assert files(run) == before
    for name in os.listdir(run):
        assert b"sk-right" not in (run / name).read_bytes()  # the key is never written


def test_unknown_model_stops_at_the_first_404(tmp_path):
    with StubServer(models=("other",)) as s:
        r = hashhop(
            "eval",
            "--model",
            "openai:stub",
            "--base-url",
            s.url + "/v1",
            "--samples",
            "4",
            "--concurrency",
            "1",
            "-o",
            str(tmp_path / "r"),
        )
        assert r.returncode == 2 and "not found" in r.stderr and len(s.generations) == 1


def test_malformed_responses_become_error_records_reported_apart(tmp_path, capsys):
    run = tmp_path / "run"
    with StubServer() as s:
        s.script(*[{"malformed": True}] * 3)
        assert (
            main(
                [
                    "eval",
                    "--model",
                    "openai:stub",
                    "--base-url",
                    s.url + "/v1",
                    "--tokens",
                    "1K",
                    "-M",
                    "chat_overhead=11",
                    "--samples",
                    "2",
                    "--concurrency",
                    "1",
                    "--retries",
                    "2",
                    "--backoff",
                    "0.001",
                    "-o",
                    str(run),
                ]
            )
            == 0
        )
    records = read_records(str(run))
    assert [r.status for r in records] == ["error", "ok"] and "malformed" in records[0].error
    overall = read_results(str(run))["metrics"]["overall"]
    assert (overall["n_errors"], overall["n_scored"], overall["accuracy"]) == (1, 1, 1.0)


def test_over_length_prompts_are_recorded_or_stop_the_run(tmp_path):
    with StubServer(context_window=600) as s:
        base = ["eval", "--model", "openai:stub", "--base-url", s.url + "/v1", "--tokens", "500,1K"]
        assert main([*base, "-o", str(tmp_path / "a")]) == 0
        kinds = {r.cell["tokens"]: r.status for r in read_records(str(tmp_path / "a"))}
        assert kinds == {500: "ok", 1000: "over_length"}
        r = hashhop(*base, "--tokens", "1K", "--on-over-length", "stop", "-o", str(tmp_path / "b"))
        assert r.returncode == 2 and "--on-over-length record" in r.stderr


def test_a_second_runner_on_the_same_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    with RunStore(str(run)):
        r = hashhop("eval", "--model", "oracle", "-o", str(run))
    assert r.returncode == 2 and "in use by another hashhop process" in r.stderr


def test_an_output_path_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    r = hashhop("eval", "--model", "oracle", "-o", str(tmp_path / "file"))
    assert r.returncode == 2 and r.stderr.startswith("error: cannot create run folder") and r.stderr.count("\n") == 1


def test_a_run_folder_of_another_model_is_refused(tmp_path):
    run = tmp_path / "run"
    assert main(["eval", "--model", "oracle", "-o", str(run)]) == 0
    assert main(["eval", "--model", "random", "-o", str(run)]) == 2
    assert len(read_records(str(run))) == 1


def test_resuming_with_prompts_sized_in_another_tokenizer_is_refused(tmp_path, capsys):
    run = tmp_path / "run"  # oracle cannot count: sized in the fallback tokenizer, as bench sizes it
    assert main(["eval", "--model", "oracle", "-o", str(run)]) == 0
    assert main(["eval", "--model", "oracle", "--tokenizer", "chars", "-o", str(run)]) == 2
    assert "sized prompts in tiktoken:cl100k_base" in capsys.readouterr().err
    assert len(read_records(str(run))) == 1


def test_dataset_files_are_evaluated_and_foreign_files_refused(tmp_path):
    data = tmp_path / "d.jsonl"
    samples = [make_sample(Spec(size=1500, hops=2, queries=2, seed=4), i) for i in range(2)]
    data.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples))
    assert main(["eval", "--model", "oracle", "--dataset", str(data), "-o", str(tmp_path / "run")]) == 0
    records = read_records(str(tmp_path / "run"))
    assert len(records) == 4 and all(r.correct for r in records)
    assert {r.sample_id for r in records} == {s.id for s in samples}
    foreign = tmp_path / "f.jsonl"
    foreign.write_text('{"question": "what?", "answer": "x"}\n')
    r = hashhop("eval", "--model", "oracle", "--dataset", str(foreign), "-o", str(tmp_path / "run2"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert ":1: unrecognised sample (answer, question): accepted formats are hashhop's own" in r.stderr
    assert not (tmp_path / "run2" / "records.jsonl").exists() or read_records(str(tmp_path / "run2")) == []


def test_progress_bar_shows_eta_and_running_accuracy(tmp_path, capsys):
    assert main(["eval", "--model", "oracle", "--samples", "3", "--progress", "-o", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "3/3" in err and "ETA" in err and "acc 1.000" in err


def test_score_rescores_stored_completions(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["eval", "--model", "oracle", "--hops", "2", "--samples", "2", "-o", str(run)]) == 0
    path = run / "records.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0].update(kind="hallucinated", correct=False, credit=0.0)  # as an older scorer might have stored
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    assert main(["score", str(run)]) == 0
    assert all(r.kind == "correct" for r in read_records(str(run)))
    assert "1 changed" in capsys.readouterr().err
    assert read_results(str(run))["metrics"]["overall"]["accuracy"] == 1.0
    assert main(["score", str(tmp_path / "missing")]) == 2


def _kill_at_random_moment(cmd, records, rng, odd: bool) -> bool:
    """Kill `cmd` after a random delay (startup, sizing or querying), or, on odd turns, once 1-4 more
    records are written (mid-run). True if it was killed before finishing."""
    seconds = 30.0 if odd else rng.uniform(0.2, 1.2)
    more = rng.randint(1, 4)
    return kill_after(cmd, records, seconds, more if odd else None)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_and_counts_nothing_twice(tmp_path):
    rng = random.Random(1234)
    # Slow enough answers (24 queries, 3 at a time: about 2.4 s) that random kills land mid-run.
    with StubServer(delay=0.3) as s:

        def args(out):
            return [
                "eval",
                "--model",
                "openai:stub",
                "--base-url",
                s.url + "/v1",
                "--tokens",
                "1K,2K",
                "--hops",
                "1,2",
                "--samples",
                "2",
                "--queries",
                "3",
                "--concurrency",
                "3",
                "-o",
                str(out),
            ]

        assert hashhop(*args(tmp_path / "ref")).returncode == 0
        victim = tmp_path / "victim"
        cmd = [sys.executable, "-m", "hashhop", *args(victim)]
        progress = []
        for i in range(8):
            if _kill_at_random_moment(cmd, victim / "records.jsonl", rng, odd=i % 2 == 1):
                progress.append(len(read_records(str(victim))) if victim.exists() else 0)
        assert sum(0 < n < 24 for n in progress) >= 2, progress  # killed mid-run more than once
        assert hashhop(*args(victim)).returncode == 0
    reference, resumed = read_records(str(tmp_path / "ref")), read_records(str(victim))
    assert len(reference) == 24 and stable(resumed) == stable(reference)
    parsed = []
    for line in (victim / "records.jsonl").read_text().splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pass  # a line torn by a kill
    assert len(parsed) == len({(d["sample_id"], d["query_index"]) for d in parsed}) == 24  # no duplicates
    assert read_results(str(victim))["metrics"]["overall"]["n"] == 24


@pytest.mark.slow
@pytest.mark.server
def test_real_llama_cpp_server_prompts_are_token_exact_and_over_length_is_recorded(llama_server, tmp_path):
    # conftest's server runs SmolLM2-135M with n_ctx 4096: 600 tokens fit, 5K do not.
    run = tmp_path / "run"
    assert (
        main(
            [
                "eval",
                "--model",
                "openai:smollm2",
                "--base-url",
                llama_server + "/v1",
                "--tokens",
                "600,5K",
                "--hops",
                "1",
                "--queries",
                "2",
                "--max-tokens",
                "24",
                "--concurrency",
                "2",
                "-o",
                str(run),
            ]
        )
        == 0
    )
    records = read_records(str(run))
    by_size = {t: [r for r in records if r.cell["tokens"] == t] for t in (600, 5000)}
    assert [r.status for r in by_size[600]] == ["ok", "ok"]
    assert all(abs(r.prompt_tokens - 600) <= 20 for r in by_size[600])  # within about one context line
    assert [r.status for r in by_size[5000]] == ["over_length", "over_length"]
    results = read_results(str(run))
    assert results["tokenizer"] == "model:openai:smollm2"
    assert results["token_check"]["compared"] == 2 and results["token_check"]["max_abs_diff"] <= 5
    assert results["config"]["options"]["cache_prompt"] is True
    assert results["timing"]["prefix_cache"]["contexts"] == 1  # first vs later query latency measured
