"""`hashhop generate / verify / materialize` as a user runs them."""

import json
import subprocess
import sys

import pytest


def hashhop(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hashhop", *args], capture_output=True, text=True, cwd=cwd)


def test_generate_then_verify(tmp_path):
    out = tmp_path / "out.jsonl"
    r = hashhop(
        "generate",
        "--tokens",
        "4K",
        "--hops",
        "2",
        "--queries",
        "5",
        "--hash-len",
        "16",
        "--seed",
        "0",
        "--cot",
        "--tokenizer",
        "tiktoken:cl100k_base",
        "--samples",
        "2",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "wrote 2 sample(s)" in r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(abs(row["n_tokens"] - 4000) <= 20 for row in rows)
    v = hashhop("verify", str(out))
    assert v.returncode == 0 and "2/2 samples ok" in v.stderr


def test_generate_in_backward_order_then_verify(tmp_path):
    out = tmp_path / "out.jsonl"
    r = hashhop("generate", "--tokens", "2K", "--hops", "3", "--queries", "3", "--order", "backward", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["spec"]["order"] == "backward"
    v = hashhop("verify", str(out))
    assert v.returncode == 0 and "1/1 samples ok" in v.stderr
    bad = hashhop("generate", "--order", "sideways", "-o", str(tmp_path / "x.jsonl"))
    assert bad.returncode == 2 and "invalid choice: 'sideways'" in bad.stderr


def test_recipe_and_materialize_from_the_cli(tmp_path):
    full, recipe, rebuilt = tmp_path / "f.jsonl", tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    assert hashhop("generate", "--tokens", "20K", "--samples", "2", "-o", str(full)).returncode == 0
    assert hashhop("generate", "--tokens", "20K", "--samples", "2", "--recipe", "-o", str(recipe)).returncode == 0
    r = hashhop("materialize", str(recipe), "-o", str(rebuilt), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert rebuilt.read_bytes() == full.read_bytes()


def test_parquet_output(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "d.parquet"
    assert hashhop("generate", "--tokens", "2K", "--samples", "3", "-o", str(out)).returncode == 0
    assert hashhop("verify", str(out)).returncode == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--hops", "0"], "hops must be at least 1"),
        (["--tokens", "200", "--hops", "4", "--queries", "5"], "too small"),
        (["--tokens", "1K", "--hash-len", "2", "--alphabet", "dna"], "hash space"),
        (["--tokenizer", "nope"], "unknown tokenizer"),
        (["--tokens", "lots"], "bad size"),
        (["--samples", "0"], "--samples must be at least 1"),
    ],
)
def test_impossible_specs_exit_2_with_one_line_and_no_file(tmp_path, args, message):
    out = tmp_path / "x.jsonl"
    r = hashhop("generate", *args, "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and message in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unwritable_output_exits_2(tmp_path):
    r = hashhop("generate", "-o", str(tmp_path / "no" / "x.jsonl"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_verify_rejects_a_corrupt_file_with_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    r = hashhop("verify", str(bad))
    assert r.returncode == 2 and "bad.jsonl:1: not valid JSON" in r.stderr


def test_verify_fails_a_tampered_sample_with_exit_1(tmp_path):
    out = tmp_path / "d.jsonl"
    hashhop("generate", "--tokens", "2K", "-o", str(out))
    row = json.loads(out.read_text())
    row["n_tokens"] += 3
    out.write_text(json.dumps(row) + "\n")
    r = hashhop("verify", str(out))
    assert r.returncode == 1 and "n_tokens says" in r.stdout


def test_version_and_help():
    r = hashhop("--version")
    assert r.returncode == 0 and r.stdout.startswith("hashhop ")
    assert "generate" in hashhop("--help").stdout
