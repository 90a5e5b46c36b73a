"""Secrets: an API key is read from the environment only and never leaves the request header.

A recognisable key is planted in the variable named by `-M api_key_env=...`; then eval (with
faults, a mid-run 401, a wrong key at preflight), score, report, bench and every dry run are
driven against the stub server, and every file they write and everything they print is searched
for the key (whole, and its distinctive middle, in case of truncation or masking by halves).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from stub_server import StubServer

from hashhop.backends import get_backend
from hashhop.core.errors import HashhopError

KEY = "sk-hh-CANARY-7f3a9c2e41b84d0f-DO-NOT-LEAK"
NEEDLES = (KEY, "CANARY-7f3a9c2e41b84d0f", "7f3a9c2e41b84d0f")
ENV = "HH_SECRET_TEST_KEY"


def _hashhop(*args, key=KEY):
    env = {**os.environ, ENV: key, "PYTHONUNBUFFERED": "1"}
    env.pop("OPENAI_API_KEY", None)
    r = subprocess.run([sys.executable, "-m", "hashhop", *args], capture_output=True, text=True, timeout=300, env=env)
    return r, r.stdout + r.stderr


def _assert_clean(where: str, blob) -> None:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    for needle in NEEDLES:
        assert needle not in text, f"the key leaked into {where}"


def _assert_tree_clean(root: Path) -> int:
    """Every file under `root`, whatever its name or kind; returns how many were searched."""
    n = 0
    for path in root.rglob("*"):
        if path.is_file():
            _assert_clean(str(path), path.read_bytes())
            n += 1
    return n


def _eval_args(url: str, out: Path, *extra) -> list[str]:
    return [
        "eval",
        "--model",
        "openai:stub",
        "--base-url",
        url + "/v1",
        "-M",
        f"api_key_env={ENV}",
        "-M",
        "chat_overhead=11",
        "--tokens",
        "600",
        "--hops",
        "1,2",
        "--queries",
        "2",
        "--retries",
        "1",
        "--backoff",
        "0.01",
        "--timeout",
        "0.5",
        "-o",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_a_planted_key_never_appears_in_any_file_or_output(tmp_path):
    outputs = []
    with StubServer(require_key=KEY) as s:
        run = tmp_path / "run"
        # faults make the error paths write their messages: 500, a reset, malformed JSON, a stall
        s.script({"status": 500}, {"reset": True}, {"malformed": True}, {"stall": 2}, {"stall": 2})
        r, out = _hashhop(*_eval_args(s.url, run), "--progress")
        assert r.returncode == 0, out
        outputs.append(("eval", out))
        assert all(req["headers"].get("authorization") == f"Bearer {KEY}" for req in s.requests)  # it was used

        s.script({"status": 401, "message": "Incorrect API key provided"})  # a 401 in the middle of a run
        r, out = _hashhop(*_eval_args(s.url, run, "--samples", "3"))
        assert r.returncode == 2 and "refused the key" in out
        outputs.append(("eval 401 mid-run", out))

        for args in (
            ["score", str(run)],
            ["score", str(run), "--dry"],
            ["report", str(run), "-o", str(tmp_path / "report" / "r.html"), "--no-figures"],
            _eval_args(s.url, tmp_path / "dry", "--dry-run", "--price-in", "1", "--price-out", "2"),
        ):
            (tmp_path / "report").mkdir(exist_ok=True)
            r, out = _hashhop(*args)
            assert r.returncode == 0, out
            outputs.append((args[0], out))

    with StubServer(require_key="sk-the-right-one") as s:  # a wrong key: refused at preflight
        r, out = _hashhop(*_eval_args(s.url, tmp_path / "wrong"))
        assert r.returncode == 2 and "refused the key" in out
        outputs.append(("eval wrong key", out))

    for where, out in outputs:
        _assert_clean(where, out)
    assert _assert_tree_clean(tmp_path) >= 6  # records, samples, results, lock, report html and csv


@pytest.mark.slow
def test_bench_with_a_key_variable_never_writes_or_prints_the_key(tmp_path):
    with StubServer(require_key=KEY) as s:
        sweep = tmp_path / "s.toml"
        sweep.write_text(
            f'name = "sec"\n[grid]\nlengths = ["600"]\nhops = [1]\nsamples = 1\nqueries = 2\n'
            f'[[models]]\nmodel = "openai:stub"\nbase_url = "{s.url}/v1"\napi_key_env = "{ENV}"\n'
            f"options = {{ chat_overhead = 11 }}\n"
        )
        for extra in (["--dry-run"], ["--no-figures"]):
            r, out = _hashhop("bench", "--sweep", str(sweep), "-o", str(tmp_path / "bench"), *extra)
            assert r.returncode == 0, out
            _assert_clean(f"bench {extra}", out)
        assert s.queries  # the real run did call the stub with the key
    _assert_tree_clean(tmp_path / "bench")


def test_a_key_on_the_command_line_is_refused_without_echoing_it(tmp_path):
    r, out = _hashhop(
        "eval",
        "--model",
        "openai:m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "-M",
        f"api_key={KEY}",
        "-o",
        str(tmp_path / "r"),
    )
    assert r.returncode == 2 and out.startswith("error:")
    _assert_clean("the refusal", out)
    assert not (tmp_path / "r" / "results.json").exists()


def test_a_key_in_a_sweep_file_is_refused_without_echoing_it(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'[grid]\nlengths = ["1K"]\nhops = [1]\n[[models]]\nmodel = "openai:m"\napi_key = "{KEY}"\n')
    r, out = _hashhop("bench", "--sweep", str(sweep), "-o", str(tmp_path / "b"), "--dry-run")
    assert r.returncode == 2 and "never put a key" in out
    _assert_clean("the refusal", out)
    sweep.write_text(f'[grid]\nlengths = ["1K"]\nhops = [1]\n[[models]]\nmodel = "openai:m"\napi_key_env = "{KEY}"\n')
    r, out = _hashhop("bench", "--sweep", str(sweep), "-o", str(tmp_path / "b"), "--dry-run")
    assert r.returncode == 2 and "NAME of an environment variable" in out  # the key pasted where its name goes
    _assert_clean("the refusal", out)


def test_the_backend_object_and_its_errors_never_show_the_key(monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    backend = get_backend("openai:m", base_url="http://127.0.0.1:9/v1", api_key_env=ENV)
    _assert_clean("repr", repr(backend))
    _assert_clean("options", repr(backend.options()))
    monkeypatch.delenv(ENV)
    with pytest.raises(HashhopError) as err:
        get_backend("openai:m", base_url="http://127.0.0.1:9/v1", api_key_env=ENV)
    assert ENV in str(err.value)  # names the variable to set, which is all it can say
