"""A small bench run (oracle, random and the built-in model over 64 cells) and two eval runs give the
same records, samples and results as before the pipeline was restructured (tests/data/golden_bench.json,
captured from hashhop 0.1.0; the built-in model's answers re-captured with each new checkpoint, and the
results' cell order once results.json sorted its cells, with every records and samples digest unchanged).
Fields that vary between runs (times, versions, measured memory) are left out."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from golden_run import normalized

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "golden_bench.json").read_text())
EVAL_RUNS = {
    "eval-oracle": [
        "--model",
        "oracle",
        "--tokens",
        "1K,3K",
        "--hops",
        "1,2",
        "--cot",
        "--queries",
        "2",
        "--samples",
        "2",
    ],
    "eval-random": [
        "--model",
        "random",
        "--tokens",
        "2K",
        "--hops",
        "2",
        "--queries",
        "3",
        "--alphabet",
        "hex",
        "--format",
        "magic",
    ],
}


def _hashhop(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "hashhop", *args, "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _same_run(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for folder in want:
        assert got[folder]["answers"] == want[folder]["answers"], folder
        assert got[folder]["records_sha256"] == want[folder]["records_sha256"], folder
        assert got[folder]["samples_sha256"] == want[folder]["samples_sha256"], folder


@pytest.mark.slow
def test_a_small_bench_run_gives_the_golden_records_and_results(tmp_path):
    _hashhop("bench", "--sweep", str(DATA / "golden_sweep.toml"), "-o", str(tmp_path / "bench"), "--no-figures")
    got = normalized(tmp_path / "bench")
    _same_run(got, GOLDEN["bench"])
    for folder, want in GOLDEN["bench"].items():
        for key, value in want["results"].items():
            assert got[folder]["results"][key] == value, (folder, key)


@pytest.mark.parametrize("name", sorted(EVAL_RUNS))
def test_eval_gives_the_golden_records_and_the_same_metrics(tmp_path, name):
    _hashhop("eval", *EVAL_RUNS[name], "--tokenizer", "chars", "-o", str(tmp_path / name))
    got = normalized(tmp_path / name)
    _same_run(got, GOLDEN[name])
    assert got["."]["results"]["metrics"] == GOLDEN[name]["."]["results"]["metrics"]
