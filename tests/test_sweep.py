"""Sweep files: parsing TOML and YAML, one-line errors for bad files, key variables, dry runs."""

import re
import textwrap

import pytest

from hashhop.bench.suites import get_suite
from hashhop.bench.sweep import load_sweep, parse_sweep
from hashhop.cli import main
from hashhop.cli.bench import DEFAULT_MODEL
from hashhop.core.errors import SweepError

FULL = """
name = "mine"
[grid]
lengths = ["1K", "4K", 2000]
hops = [1, 2]
cot = "both"
depth = [0.1, 0.9]
seeds = [0, 1]
hash_len = [8, 16]
alphabet = ["letters", "hex"]
samples = 2
queries = 3

[[models]]
model = "openai:gpt-4o-mini"
base_url = "https://api.example.com/v1"
api_key_env = "HASHHOP_TEST_KEY"
concurrency = 4
price_in = 0.15
price_out = 0.6
max_cost = 2.5
options = { api = "chat" }

[[models]]
model = "oracle"
"""


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_full_sweep_file_gives_the_grid_and_per_model_options(tmp_path):
    sweep = load_sweep(write(tmp_path, FULL))
    g = sweep.grid
    assert sweep.tag == "sweep:mine" and g.lengths == (1000, 4000, 2000) and g.cot == (True, False)
    assert g.depths == (0.1, 0.9) and g.seeds == (0, 1) and g.hash_lens == (8, 16) and g.alphabets == ("letters", "hex")
    assert g.n_cells == 3 * 2 * 2 * 2 * 2 * 2 * 2 and g.n_queries == g.n_cells * 6
    api, oracle = sweep.models
    assert api.backend_options() == {
        "api": "chat",
        "base_url": "https://api.example.com/v1",
        "api_key_env": "HASHHOP_TEST_KEY",
    }
    assert (api.concurrency, api.price_in, api.price_out, api.max_cost) == (4, 0.15, 0.6, 2.5)
    assert oracle.max_cost is None
    assert api.folder == "openai-gpt-4o-mini" and oracle.folder == "oracle"


def test_the_order_key_crosses_link_orders_and_a_single_name_is_a_list(tmp_path):
    grid = parse_sweep({"grid": {"lengths": ["1K"], "hops": [2], "order": ["forward", "backward"]}}).grid
    assert grid.orders == ("forward", "backward") and grid.n_cells == 2 * 2  # x cot and skip
    assert parse_sweep({"suite": "quick", "grid": {"order": "backward"}}).grid.orders == ("backward",)


def test_yaml_sweep_files_read_the_same_as_toml(tmp_path):
    pytest.importorskip("yaml")
    path = write(
        tmp_path,
        """
        name: y
        grid: {lengths: [1K, 2K], hops: [2], cot: [true]}
        models: [{model: oracle, concurrency: 2}]
    """,
        "s.yaml",
    )
    sweep = load_sweep(path)
    assert sweep.grid.lengths == (1000, 2000) and sweep.grid.cot == (True,) and sweep.models[0].concurrency == 2


def test_a_sweep_may_start_from_a_suite_and_keeps_its_tag_only_when_unchanged(tmp_path):
    same = parse_sweep({"suite": "quick", "models": ["oracle"]}, "a.toml")
    assert same.tag == get_suite("quick").tag and same.grid == get_suite("quick").grid
    changed = parse_sweep({"name": "q2", "suite": "quick", "grid": {"hops": [8]}}, "b.toml")
    assert (
        changed.tag == "sweep:q2"
        and changed.grid.hops == (8,)
        and changed.grid.lengths == get_suite("quick").grid.lengths
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "modles": []},
            "unknown key(s) modles: known keys are name, suite, grid, models",
        ),
        (
            {"grid": {"lengths": ["1K"], "hops": [1], "hop": [2]}},
            "[grid]: unknown key(s) hop: known keys are lengths, hops",
        ),
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "oracle", "concurency": 2}]},
            "models[0] (oracle): unknown key(s) concurency: known keys are model, name, base_url",
        ),
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "openai:x", "api_key": "sk-123"}]},
            "never put a key in a sweep file",
        ),
        ({"grid": {"lengths": ["1K"], "hops": [0]}}, "bad hops 0"),
        ({"grid": {"lengths": ["4X"], "hops": [1]}}, "bad length '4X'"),
        ({"grid": {"lengths": ["1K"], "hops": [1], "cot": ["maybe"]}}, "bad cot 'maybe'"),
        ({"grid": {"lengths": ["1K"], "hops": [1], "depth": [1.5]}}, "bad depth 1.5"),
        ({"grid": {"lengths": ["1K"], "hops": [1], "alphabet": ["greek"]}}, "unknown alphabet 'greek'"),
        ({"grid": {"lengths": ["1K"], "hops": [1], "order": ["sideways"]}}, "unknown order 'sideways'"),
        ({"grid": {"lengths": ["1K"], "hops": [1], "format": "xml"}}, "unknown format 'xml'"),
        ({"grid": {"hops": [1]}}, "missing lengths"),
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "oracle", "concurrency": 0}]},
            "bad concurrency 0",
        ),
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "openai:x", "api_key_env": "sk-abc123"}]},
            "must be the NAME of an environment variable",
        ),
        ({"grid": {"lengths": ["1K"], "hops": [1]}, "models": ["oracle", "oracle"]}, "share the run folder 'oracle'"),
        (
            {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "oracle", "max_cost": -1}]},
            "bad max_cost -1",
        ),
        ({"suite": "fast"}, "unknown suite 'fast'"),
    ],
)
def test_bad_files_get_one_line_errors_naming_the_problem(data, message):
    with pytest.raises(Exception, match=re.escape(message)) as info:
        parse_sweep(data, "s.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("s.toml")


def test_invalid_toml_and_a_missing_file_are_errors(tmp_path):
    with pytest.raises(SweepError, match="not valid TOML"):
        load_sweep(write(tmp_path, "grid = [unclosed"))
    with pytest.raises(SweepError, match="cannot read sweep file"):
        load_sweep(str(tmp_path / "none.toml"))


def test_a_missing_key_variable_is_named_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HASHHOP_TEST_KEY", raising=False)
    path = write(tmp_path, FULL)
    with pytest.raises(SweepError, match="the key variable HASHHOP_TEST_KEY is not set"):
        load_sweep(path).check_env()
    assert main(["bench", "--sweep", path, "-o", str(tmp_path / "run")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "run").exists()
    monkeypatch.setenv("HASHHOP_TEST_KEY", "sk-test")
    load_sweep(path).check_env()  # set: no error


def test_dry_run_lists_cells_token_counts_and_cost_without_calling_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HASHHOP_TEST_KEY", raising=False)
    path = write(
        tmp_path,
        """
        name = "dry"
        [grid]
        lengths = ["1K", "4K"]
        hops = [2]
        cot = false
        samples = 2
        queries = 5
        [[models]]
        model = "openai:gpt-4o"
        base_url = "http://127.0.0.1:9/v1"
        api_key_env = "HASHHOP_TEST_KEY"
        price_in = 2.5
        price_out = 10
    """,
    )
    assert main(["bench", "--sweep", path, "--dry-run"]) == 0  # port 9: nothing listens; nothing is called
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip().startswith(("1K", "4K"))]
    assert len(lines) == 2 and lines[0].split()[-1] == "10,000" and lines[1].split()[-1] == "40,000"
    prompt = 10 * 1000 + 10 * 4000
    completion = 10 * 2 * (32 + 2 * 19)  # answer_budget of a skip query of 16-char hashes, per query
    expected = (prompt * 2.5 + completion * 10) / 1e6
    assert f"{prompt:,} prompt tokens" in out and f"${expected:.4f}" in out
    assert "key variable HASHHOP_TEST_KEY is not set" in out


def test_without_a_model_the_built_in_model_is_used(tmp_path, capsys):
    assert main(["bench", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{DEFAULT_MODEL}:" in out and "quick@3" in out


def test_model_on_the_command_line_replaces_the_models_of_a_sweep_file(tmp_path, capsys):
    assert main(["bench", "--sweep", write(tmp_path, FULL), "--model", "random", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "random:" in out and "oracle:" not in out and "openai:gpt-4o-mini:" not in out


def test_dry_run_of_a_shipped_suite_lists_every_cell(capsys):
    assert main(["bench", "--suite", "standard", "--model", "oracle", "--dry-run"]) == 0
    out = capsys.readouterr().out
    cells = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(cells) == get_suite("standard").grid.n_cells == 8 * 4 * 2 * 3
    assert "oracle: 1536 queries" in out and "standard@2" in out


def test_share_contexts_follows_the_suite_unless_the_file_says_otherwise():
    from hashhop.bench.sweep import parse_sweep

    assert parse_sweep({"suite": "quick"}).share_contexts is True  # shipped suites share since @2
    assert parse_sweep({"suite": "quick", "share_contexts": False}).share_contexts is False
    assert parse_sweep({"grid": {"lengths": ["1K"], "hops": [1, 2]}}).share_contexts is False
    assert parse_sweep({"grid": {"lengths": ["1K"], "hops": [1, 2]}, "share_contexts": True}).share_contexts is True
    with pytest.raises(SweepError, match="share_contexts"):
        parse_sweep({"suite": "quick", "share_contexts": "yes"})
