"""`hashhop bench` end to end on the local executor: one command to a report, resume, interruption."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from stub_server import StubServer

from hashhop.cli import main
from hashhop.evaluate.store import read_records, read_results

TIMING = ("time", "latency_s", "peak_memory_bytes")  # measured, not computed

SWEEP = """
name = "t"
[grid]
lengths = ["1K", "2K"]
hops = [2]
cot = "both"
samples = 2
queries = 2
tokenizer = "chars"
"""


def sweep_file(tmp_path, text=SWEEP, name="t.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def stable(run_dir):
    """Records minus timing fields, keyed: what two runs of the same grid must agree on."""
    return {r.key: {k: v for k, v in r.to_dict().items() if k not in TIMING} for r in read_records(str(run_dir))}


def _default_sigint():
    # A shell without job control starts background jobs with SIGINT ignored, and a child inherits
    # that: give the command the Ctrl-C a user's terminal would, whatever launched the tests.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def bench_proc(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "hashhop", "bench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def wait_for_records(path, n, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and sum(1 for _ in open(path, "rb")) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail(f"no {n} records in {timeout} s")


def test_one_command_evaluates_scores_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "runs" / "t"
    assert main(["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path), "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    records = read_records(str(out / "oracle"))
    assert len(records) == 2 * 2 * 2 * 2 and all(r.correct for r in records)
    assert {r.cell["suite"] for r in records} == {"sweep:t"}
    results = read_results(str(out / "oracle"))
    assert results["suite"] == "sweep:t" and results["config"]["suite"] == "sweep:t" and results["partial"] is False
    assert results["config"]["grid"]["lengths"] == [1000, 2000]
    html = (out / "report.html").read_text()
    assert "oracle" in html and ("<svg" in html or "<img" in html)  # figures drawn
    assert f"report: {out / 'report.html'}" in stdout
    assert "effective context length" in stdout and "≥ 2K" in stdout  # the headline: oracle passes everywhere
    assert json.loads((out / "bench.json").read_text())["suite"] == "sweep:t"


def test_running_the_same_command_again_resumes_without_asking_again(tmp_path):
    out = tmp_path / "run"
    args = ["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path), "--no-figures", "-o", str(out)]
    assert main(args) == 0
    before = (out / "oracle" / "records.jsonl").read_bytes()
    assert main(args) == 0
    assert (out / "oracle" / "records.jsonl").read_bytes() == before
    assert read_results(str(out / "oracle"))["timing"]["requests"] == 0


def test_a_folder_holding_another_grid_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path), "--no-figures", "-o", str(out)]) == 0
    assert main(["bench", "--model", "oracle", "--suite", "quick", "-o", str(out)]) == 2
    assert "holds a bench of sweep:t, not quick@3" in capsys.readouterr().err


def test_each_model_gets_its_own_run_folder_and_all_share_one_report(tmp_path, monkeypatch):
    monkeypatch.setenv("HASHHOP_STUB_KEY", "sk-test")
    with StubServer() as server:
        text = (
            SWEEP
            + f"""
[[models]]
model = "oracle"
[[models]]
model = "openai:stub"
base_url = "{server.url}/v1"
api_key_env = "HASHHOP_STUB_KEY"
concurrency = 2
price_in = 1.0
"""
        )
        out = tmp_path / "run"
        assert main(["bench", "--sweep", sweep_file(tmp_path, text), "--no-figures", "-o", str(out)]) == 0
    stub = read_records(str(out / "openai-stub"))
    assert len(stub) == 16 and len(read_records(str(out / "oracle"))) == 16
    assert all(r.correct for r in stub) and sum(r.cost_usd for r in stub) > 0
    assert read_results(str(out / "openai-stub"))["config"]["options"]["api_key_env"] == "HASHHOP_STUB_KEY"
    report = (out / "report.md").read_text()
    assert "oracle" in report and "openai:stub" in report


def test_max_cost_caps_each_model_and_a_larger_budget_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    with StubServer() as server:
        args = [
            "bench",
            "--model",
            "openai:stub",
            "--base-url",
            server.url + "/v1",
            "--price-in",
            "1000",
            "--concurrency",
            "1",
            "--sweep",
            sweep_file(tmp_path),
            "--no-figures",
            "-o",
            str(out),
        ]
        assert main([*args, "--max-cost", "5"]) == 0
        first = read_records(str(out / "openai-stub"))
        assert 0 < len(first) < 16 and sum(r.cost_usd for r in first) <= 5
        assert "openai:stub stopped: max_cost" in capsys.readouterr().err
        assert read_results(str(out / "openai-stub"))["partial"] is True
        assert main([*args, "--max-cost", "5"]) == 0  # the same budget: spent already, nothing more is sent
        assert len(read_records(str(out / "openai-stub"))) == len(first)
        assert main([*args, "--max-cost", "1000"]) == 0
    assert len(read_records(str(out / "openai-stub"))) == 16
    assert read_results(str(out / "openai-stub"))["partial"] is False


def test_dry_run_says_when_the_estimate_is_over_the_budget(tmp_path, capsys):
    args = ["bench", "--model", "oracle", "--price-in", "1000", "--sweep", sweep_file(tmp_path), "--dry-run"]
    assert main([*args, "--max-cost", "1"]) == 0
    assert "over its max_cost $1.0000: the run would stop early" in capsys.readouterr().out
    assert main([*args, "--max-cost", "1000000"]) == 0
    assert "over its max_cost" not in capsys.readouterr().out
    assert main([*args, "--max-cost", "-1"]) == 2
    assert "--max-cost must be 0 or more" in capsys.readouterr().err
    free = ["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path), "--max-cost", "5", "-o", str(tmp_path / "r")]
    assert main(free) == 2  # no prices: every query would cost $0 and the budget could never stop anything
    assert "--max-cost needs prices for oracle: pass --price-in" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_killed_bench_loses_nothing_and_the_rerun_matches_an_uninterrupted_run(tmp_path):
    sweep = sweep_file(tmp_path)
    common = ["--model", "oracle", "-M", "delay=0.1", "--concurrency", "1", "--sweep", sweep, "--no-figures"]
    full = tmp_path / "full"
    assert main(["bench", *common, "-o", str(full)]) == 0
    killed = tmp_path / "killed"
    proc = bench_proc(*common, "-o", str(killed))
    wait_for_records(killed / "oracle" / "records.jsonl", 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = stable(killed / "oracle")
    assert 5 <= len(partial) < 16
    assert main(["bench", *common, "-o", str(killed)]) == 0
    assert stable(killed / "oracle") == stable(full / "oracle")
    assert read_results(str(killed / "oracle"))["timing"]["requests"] == 16 - len(partial)


def test_ctrl_c_marks_the_run_partial_and_the_same_command_finishes_it(tmp_path):
    common = [
        "--model",
        "oracle",
        "-M",
        "delay=0.5",  # 13 queries left take 6.5 s: the interrupt lands mid-run even on a loaded machine
        "--concurrency",
        "1",
        "--sweep",
        sweep_file(tmp_path),
        "--no-figures",
        "-o",
        str(tmp_path / "run"),
    ]
    proc = bench_proc(*common)
    wait_for_records(tmp_path / "run" / "oracle" / "records.jsonl", 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "run the same command again to resume" in err
    assert read_results(str(tmp_path / "run" / "oracle"))["partial"] is True
    assert main(["bench", *common]) == 0
    assert len(read_records(str(tmp_path / "run" / "oracle"))) == 16
    assert read_results(str(tmp_path / "run" / "oracle"))["partial"] is False


def test_executor_options_that_do_not_fit_are_refused(tmp_path, capsys):
    args = ["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path), "-o", str(tmp_path / "run")]
    assert main([*args, "--address", "auto"]) == 2
    assert "--address is for --executor ray" in capsys.readouterr().err
    assert main([*args, "--workers", "2"]) == 2
    assert "--workers is for --executor ray" in capsys.readouterr().err


@pytest.mark.slow
def test_without_a_model_the_built_in_trained_model_runs(tmp_path, capsys):
    text = SWEEP.replace('lengths = ["1K", "2K"]', 'lengths = ["1K"]').replace("samples = 2", "samples = 1")
    out = tmp_path / "run"
    assert main(["bench", "--sweep", sweep_file(tmp_path, text), "--no-figures", "-o", str(out)]) == 0
    records = read_records(str(out / "ltm-builtin"))
    assert len(records) == 4 and {r.model for r in records} == {"ltm:builtin"}
    assert "ltm:builtin" in capsys.readouterr().out


@pytest.mark.slow
def test_local_models_run_in_their_own_processes(tmp_path):
    text = (
        SWEEP.replace('lengths = ["1K", "2K"]', 'lengths = ["1K"]').replace("samples = 2", "samples = 1")
        + """
[[models]]
model = "ltm:builtin"
name = "dense"
options = { attention = "dense", threads = 1 }
[[models]]
model = "ltm:builtin"
name = "sparse"
options = { threads = 1 }
"""
    )
    out = tmp_path / "run"
    assert main(["bench", "--sweep", sweep_file(tmp_path, text), "--no-figures", "-o", str(out)]) == 0
    for name in ("dense", "sparse"):
        assert len(read_records(str(out / name))) == 4


def test_the_main_job_runs_the_built_in_model_and_its_dense_twin_which_refuses_long_prompts():
    from hashhop.cli import build_parser
    from hashhop.cli.bench import DENSE_TWIN_SEGMENTS, resolve

    sweep = resolve(build_parser().parse_args(["bench", "-o", "runs/quick"]))
    sparse, dense = sweep.models
    assert sweep.tag == "quick@3" and sparse.model == dense.model == "ltm:builtin"
    assert dense.options["attention"] == "dense" and dense.options["max_dense_segments"] == DENSE_TWIN_SEGMENTS
    assert "attention" not in sparse.options and dense.folder != sparse.folder
