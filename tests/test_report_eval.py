"""Reports of real runs made by `hashhop eval --model oracle` and `--model random`: the tables
must agree with the records the runner wrote and with the scorer's own summary."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest

from hashhop.cli import main
from hashhop.evaluate.score import summarize
from hashhop.evaluate.store import read_records
from hashhop.report import collect

GRID = [
    "--tokens",
    "1K,2K,4K",
    "--hops",
    "1,2",
    "--samples",
    "1",
    "--queries",
    "4",
    "--depth",
    "0.1,0.9",
    "--no-progress",
]


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    for model in ("oracle", "random"):
        assert main(["eval", "--model", model, *GRID, "-o", str(root / model)]) == 0
    return root


def _rows(folder):
    return [r.to_dict() for r in read_records(str(folder))]


def test_report_of_real_runs_matches_the_records_and_the_scorer(real_runs):
    data = collect([real_runs / "oracle", real_runs / "random"])
    assert data.labels == ("oracle", "random") and not data.partial_runs
    for label in data.labels:
        groups = defaultdict(list)
        for r in _rows(real_runs / label):
            groups[(r["cell"]["tokens"], r["cell"]["hops"], r["cell"]["cot"])].append(r)
        cells = {(c.tokens, c.hops, c.cot): c for c in data.cells if c.series == label}
        assert set(cells) == set(groups)
        for key, rows in groups.items():
            expected, c = summarize(rows), cells[key]
            assert (c.n, c.scored, c.correct) == (expected["n"], expected["n_scored"], expected["n_correct"])
            assert list(c.interval) == pytest.approx(expected["accuracy_ci95"])
            assert {k: c.count(k) for k in expected["kinds"]} == expected["kinds"]


def test_effective_length_of_oracle_and_random(real_runs):
    data = collect([real_runs / "oracle", real_runs / "random"])
    texts = {(e.series, e.hops): e.text for e in data.effective}
    assert texts == {("oracle", 1): "≥ 4K", ("oracle", 2): "≥ 4K", ("random", 1): "< 1K", ("random", 2): "< 1K"}


def test_requested_depths_become_the_depth_rows(real_runs):
    data = collect([real_runs / "oracle"])
    assert {c.depth for c in data.depth_cells} == {0.1, 0.9}
    assert sum(c.n for c in data.depth_cells) == len(_rows(real_runs / "oracle"))


def test_random_answers_are_located_in_the_context(real_runs):
    data = collect([real_runs / "random"])
    rows = {(r["sample_id"], r["query_index"]): r for r in _rows(real_runs / "random")}
    assert data.diagrams
    for d in data.diagrams:
        record = rows[(d.sample_id, d.query_index)]
        assert d.path == tuple(record["path"]) and d.kind == record["kind"]
        assert d.answer_line == record["answer_position"] and d.n_lines and d.link_lines


def test_report_command_on_real_runs(real_runs, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(real_runs / "oracle"), str(real_runs / "random"), "-o", str(out), "--no-figures"]) == 0
    runs = {r["series"]: r for r in csv.DictReader(open(tmp_path / "report.runs.csv"))}
    for label in ("oracle", "random"):
        rows = _rows(real_runs / label)
        assert runs[label]["correct"] == str(sum(r["correct"] for r in rows))
        assert runs[label]["records"] == str(len(rows))
    assert runs["oracle"]["correct"] == runs["oracle"]["records"]
    assert runs["oracle"]["status"] == runs["random"]["status"] == "complete"
