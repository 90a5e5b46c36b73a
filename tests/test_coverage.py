"""Coverage accounting (attempted, scored, errors, over length, cut off), the noise floor, --min-coverage
from eval and bench, and the reasoning options and tokens of the openai backend (through the stub server)."""

import json

import pytest
from stub_server import StubServer

from hashhop.backends.random import _hash_pool
from hashhop.bench.sweep import parse_sweep
from hashhop.cli import main
from hashhop.core.errors import SweepError
from hashhop.evaluate.coverage import COVERAGE_EXIT, context_hashes, coverage, noise_floor, shortfall
from hashhop.evaluate.store import read_records, read_results
from hashhop.generator.build import build
from hashhop.generator.spec import Spec


@pytest.mark.parametrize(
    "spec",
    [
        Spec(size=2000, hops=3, queries=2, distractors=1),
        Spec(size=3000, hops=2, queries=3, format="magic", alphabet="hex"),
        Spec(size=1500, hops=1, queries=1, hash_len=8, cot=True),
    ],
)
def test_the_recipe_counts_the_hashes_the_random_backend_picks_from(spec):
    problem = build(spec, 1)[0]
    assert context_hashes(problem) == len(_hash_pool(problem.prompt()))


def test_the_noise_floor_is_one_in_the_context_hashes_per_hash_asked():
    problem = build(Spec(size=2000, hops=2, queries=2, cot=True), 0)[0]
    q = problem.queries[0]
    assert noise_floor(problem, q) == pytest.approx(context_hashes(problem) ** -2)


def test_coverage_counts_every_query_once():
    rows = (
        [{"status": "ok", "kind": "correct"}] * 6
        + [{"status": "ok", "kind": "cut_off"}] * 2
        + [{"status": "error", "kind": "error"}]
        + [{"status": "over_length", "kind": "over_length"}]
    )
    assert coverage(rows) == {
        "attempted": 10,
        "scored": 6,
        "errors": 1,
        "over_length": 1,
        "cut_off": 2,
        "coverage": 0.6,
    }
    metrics = {"overall": {"coverage": coverage(rows)}}
    assert shortfall(metrics, 0.6) is None and shortfall(metrics, None) is None
    assert "60.0% is below --min-coverage 0.9" in shortfall(metrics, 0.9)


def test_eval_results_carry_coverage_and_the_noise_floor_of_each_cell(tmp_path):
    run = tmp_path / "run"
    assert main(["eval", "--model", "random", "--tokens", "1K", "--hops", "1,2", "--queries", "2", "-o", str(run)]) == 0
    metrics = read_results(str(run))["metrics"]
    samples = {json.loads(line)["sample_id"] for line in (run / "samples.jsonl").read_text().splitlines()}
    assert len(samples) == 2  # one context per cell
    for cell in metrics["cells"]:
        assert cell["coverage"] == {
            "attempted": 2,
            "scored": 2,
            "errors": 0,
            "over_length": 0,
            "cut_off": 0,
            "coverage": 1.0,
        }
        # A 1K context holds about 80 hashes: one in 80 for a hash, one in 80**2 for two.
        assert 0 < cell["noise_floor"] < 0.05
    assert metrics["headline"] == "strict" and metrics["overall"]["coverage"]["attempted"] == 4


def _stub_eval(s, run, *extra):
    """An eval of 4 queries through the stub (whose first scripted action answers the backend's calibration probe)."""
    args = ["eval", "--model", "openai:stub", "--base-url", s.url + "/v1", "--tokens", "1K", "--hops", "1"]
    return main(
        [*args, "--queries", "4", "--retries", "0", "--backoff", "0", "--concurrency", "1", "-o", str(run), *extra]
    )


def test_a_reply_cut_off_by_the_budget_is_counted_apart_and_fails_min_coverage(tmp_path, capsys):
    run = tmp_path / "run"
    with StubServer() as s:
        s.script({}, {"text": "Let me think", "finish_reason": "length"}, {"status": 500})
        assert _stub_eval(s, run, "--min-coverage", "0.9") == COVERAGE_EXIT
    err = capsys.readouterr().err
    assert "error: coverage 50.0% is below --min-coverage 0.9: 2 of 4 queries scored (1 errors" in err
    assert "1 cut off" in err
    records = {r.kind: r for r in read_records(str(run))}
    assert records["cut_off"].finish_reason == "length" and records["cut_off"].status == "ok"
    cov = read_results(str(run))["metrics"]["overall"]["coverage"]  # written before the exit
    assert (cov["scored"], cov["errors"], cov["cut_off"], cov["coverage"]) == (2, 1, 1, 0.5)


def test_eval_has_no_minimum_coverage_by_default(tmp_path):
    with StubServer() as s:
        s.script({}, {"status": 500}, {"status": 500}, {"status": 500})
        assert _stub_eval(s, tmp_path / "run") == 0


def test_min_coverage_must_be_a_fraction(tmp_path, capsys):
    assert main(["eval", "--model", "random", "-o", str(tmp_path / "r"), "--min-coverage", "90"]) == 2
    assert "--min-coverage must be a fraction between 0 and 1" in capsys.readouterr().err


def test_reasoning_options_pass_through_and_reasoning_tokens_are_recorded_and_billed(tmp_path):
    run = tmp_path / "run"
    with StubServer() as s:
        s.script({}, *[{"reasoning_tokens": 100}] * 4)
        extra = ["-M", "max_completion_tokens=2000", "-M", "reasoning_effort=low", "--price-out", "10"]
        assert _stub_eval(s, run, *extra) == 0
        bodies = [r["json"] for r in s.queries]
    assert bodies and all(b["max_completion_tokens"] == 2000 and b["reasoning_effort"] == "low" for b in bodies)
    assert not any("max_tokens" in b for b in bodies)
    records = read_records(str(run))
    assert all(r.reasoning_tokens == 100 and r.completion_tokens > 100 for r in records)
    assert all(r.cost_usd == pytest.approx(r.completion_tokens * 10 / 1e6) for r in records)
    results = read_results(str(run))
    assert results["cost"]["reasoning_tokens"] == 400
    assert results["config"]["options"]["reasoning_effort"] == "low"


def test_a_bad_reasoning_effort_is_a_one_line_error(tmp_path, capsys):
    with StubServer() as s:
        assert _stub_eval(s, tmp_path / "run", "-M", "reasoning_effort=extreme") == 2
    assert "bad reasoning_effort 'extreme'" in capsys.readouterr().err


def _sweep_file(tmp_path, url, min_coverage):
    text = f"""name = "cov"
min_coverage = {min_coverage}
[grid]
lengths = ["1K"]
hops = [1]
queries = 2
[[models]]
model = "openai:stub"
base_url = "{url}/v1"
retries = 0
concurrency = 1
"""
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return str(path)


def test_bench_fails_below_the_sweep_files_min_coverage_and_the_flag_overrides_it(tmp_path, capsys):
    with StubServer() as s:
        s.script({}, {"status": 500})
        sweep = _sweep_file(tmp_path, s.url, 0.8)  # 4 queries (cot and skip), 1 error: 75%
        assert main(["bench", "--sweep", sweep, "-o", str(tmp_path / "b"), "--no-figures"]) == COVERAGE_EXIT
        assert "openai:stub: coverage 75.0% is below --min-coverage 0.8" in capsys.readouterr().err
        assert (tmp_path / "b" / "report.html").exists()
        assert (
            main(["bench", "--sweep", sweep, "-o", str(tmp_path / "b"), "--no-figures", "--min-coverage", "0.5"]) == 0
        )


def test_bench_requires_90_percent_coverage_by_default(tmp_path):
    with StubServer() as s:
        s.script({}, {"status": 500})
        sweep = _sweep_file(tmp_path, s.url, 0.9)
        with open(sweep) as f:
            text = f.read().replace("min_coverage = 0.9\n", "")  # no minimum in the file: bench's 0.9
        with open(sweep, "w") as f:
            f.write(text)
        assert main(["bench", "--sweep", sweep, "-o", str(tmp_path / "b"), "--no-figures"]) == COVERAGE_EXIT


def test_a_models_own_min_coverage_wins_over_the_files_and_the_flag_over_both(tmp_path, capsys):
    with StubServer() as s:
        s.script({}, {"status": 500})
        sweep = _sweep_file(tmp_path, s.url, 0.9)  # 75% scored: below the file's 0.9
        with open(sweep) as f:
            text = f.read().replace("concurrency = 1\n", "concurrency = 1\nmin_coverage = 0.7\n")
        with open(sweep, "w") as f:
            f.write(text)
        assert main(["bench", "--sweep", sweep, "-o", str(tmp_path / "b"), "--no-figures"]) == 0
        flag = ["--min-coverage", "0.8"]
        assert main(["bench", "--sweep", sweep, "-o", str(tmp_path / "b"), "--no-figures", *flag]) == COVERAGE_EXIT
        assert "coverage 75.0% is below --min-coverage 0.8" in capsys.readouterr().err


def test_the_main_jobs_dense_twin_is_not_held_to_coverage_its_limit_makes_over_length():
    from hashhop.cli import build_parser
    from hashhop.cli.bench import DENSE_TWIN_SEGMENTS, resolve

    sparse, dense = resolve(build_parser().parse_args(["bench", "-o", "x"])).models
    assert dense.options["max_dense_segments"] == DENSE_TWIN_SEGMENTS and dense.min_coverage == 0.0
    assert sparse.min_coverage is None  # the sparse model is held to bench's 0.9


@pytest.mark.parametrize("value", [1.5, -0.1, "0.9", True])
def test_a_models_min_coverage_is_a_fraction(value):
    with pytest.raises(SweepError, match="min_coverage"):
        parse_sweep(
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "oracle", "min_coverage": value}]}, "s.toml"
        )


@pytest.mark.parametrize("value", [1.5, -0.1, "0.9", True])
def test_a_sweep_files_min_coverage_is_a_fraction(value):
    with pytest.raises(SweepError, match="bad min_coverage"):
        parse_sweep({"grid": {"lengths": ["1K"], "hops": [1]}, "min_coverage": value}, "s.toml")


def test_anthropic_reports_a_reply_the_budget_ended_as_max_tokens():
    from hashhop.backends.anthropic import _completion

    body = {"content": [{"type": "text", "text": "Let"}], "stop_reason": "max_tokens", "usage": {"output_tokens": 5}}
    assert _completion(json.dumps(body).encode(), 0.1).finish_reason == "max_tokens"


def test_niah_haystacks_and_external_samples_have_no_noise_floor(tmp_path):
    from test_foreign import PROMPT, write_rows

    from hashhop.evaluate.coverage import cell_noise_floor
    from hashhop.generator.build import make_sample, problem_of
    from hashhop.generator.dataset import read_samples

    niah = make_sample(Spec(size=3000, hops=1, queries=2, task="niah"))
    assert noise_floor(problem_of(niah), niah.queries[0]) is None
    [external] = read_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": PROMPT, "answer": "hh"}]))
    assert noise_floor(external.context, external.queries[0]) is None
    samples = {niah.id: {"sample": niah.to_dict()}, external.id: {"sample": external.to_dict()}}
    rows = [{"sample_id": s.id, "query_index": 0, "status": "ok"} for s in (niah, external)]
    assert cell_noise_floor(rows, samples) is None
