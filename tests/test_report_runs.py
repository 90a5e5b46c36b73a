"""Stored runs for the report tests, and the report's run reader.

`write_runs(root)` writes run folders that follow docs/records.md exactly, from real
`hashhop.generator.build.build` problems: an oracle-like model (always right), a random-like model (a
random hash of the context), a stub with planted failures of every kind, a partial run (no
results.json, a torn last line) and a hostile run whose completions carry `<script>` and `onerror=`.
Other test_report_* files import it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hashhop import Spec
from hashhop.core.errors import DatasetError
from hashhop.generator.build import build, sample_from_problem
from hashhop.report.runs import load_runs, read_run

TOKENS = (500, 1000, 2000)
HOPS = (1, 2)
SAMPLES, QUERIES = 2, 4
PLANTED = (
    "correct",
    "stopped_early",
    "went_too_far",
    "other_chain",
    "hallucinated",
    "partial_hash",
    "no_answer",
    "over_length",
    "error",
)
SECRET_PATH = "/home/alice/secret-models/stub.gguf"
XSS = "<script>document.title='PWNED';window.__hh_pwned=1</script><img src=x onerror=\"window.__hh_pwned=2\">"


def _cell(tokens, hops, cot):
    return {
        "tokens": tokens,
        "tokenizer": "chars",
        "hops": hops,
        "cot": cot,
        "depth": None,
        "seed": 7 + cot,
        "hash_len": 16,
        "alphabet": "letters",
        "format": "plain",
    }


def problems():
    """(cell, sample, problem, n_tokens) for the whole grid; chains one hop longer than asked,
    so an answer can go too far."""
    out = []
    for tokens in TOKENS:
        for hops in HOPS:
            for cot in (False, True):
                # one seed per mode: at 1 hop a cot sample equals its skip twin, and keys must be unique
                spec = Spec(size=tokens, hops=hops + 1, query_hops=hops, queries=QUERIES, cot=cot, seed=7 + cot)
                for index in range(SAMPLES):
                    problem, n_tokens = build(spec, index)
                    sample = sample_from_problem(problem, n_tokens, with_prompt=False)
                    out.append((_cell(tokens, hops, cot), sample, problem, n_tokens))
    return out


def _line(problem, h):
    loc = problem.locate_hash(h) if h else None
    if loc is None:
        return None
    return loc.value_line if loc.value_line is not None else loc.key_line


def record(model, cell, sample, problem, n_tokens, qi, kind, answer_hashes, completion, status="ok", error=None):
    """One record of docs/records.md; credit, hops_correct and broke_at follow from the planted kind."""
    q = sample.queries[qi]
    expected = list(q.path[1:]) if q.cot else [q.answer]
    answer = " = ".join(answer_hashes) if answer_hashes else None
    prefix = 0
    while prefix < min(len(answer_hashes), len(expected)) and answer_hashes[prefix] == expected[prefix]:
        prefix += 1
    correct = kind == "correct"
    hops_correct = q.hops if correct else (prefix if q.cot else (q.hops - 1 if kind == "stopped_early" else 0))
    credit = 1.0 if correct else (prefix / max(q.hops, len(answer_hashes)) if q.cot and status == "ok" else 0.0)
    prompt_tokens = n_tokens + 40
    completion_tokens = max(1, len(completion) // 4)
    return {
        "sample_id": sample.id,
        "query_index": qi,
        "model": model,
        "cell": cell,
        "status": status,
        "kind": kind,
        "correct": correct,
        "credit": credit,
        "hops_correct": hops_correct,
        "broke_at": None if correct or status != "ok" else hops_correct + 1,
        "answer": answer,
        "completion": completion,
        "error": error,
        "start": q.start,
        "target": q.target,
        "path": list(q.path),
        "query_depth": round(q.depth, 6),
        "answer_position": _line(problem, answer_hashes[-1]) if answer_hashes else None,
        "n_tokens": n_tokens,
        "prompt_tokens": prompt_tokens if status != "error" else None,
        "completion_tokens": completion_tokens if status == "ok" else None,
        "latency_s": round(0.05 + n_tokens / 20000, 4),
        "cost_usd": round(prompt_tokens * 1e-6, 8),
        "attempts": 3 if status == "error" else 1,
        "time": "2026-01-01T00:00:00.000Z",
    }


def _correct(q):
    return list(q.path[1:]) if q.cot else [q.answer]


def oracle(cell, sample, problem, qi, rng):
    q = sample.queries[qi]
    return "correct", _correct(q), f"{q.start} = {q.target}", "ok", None


def randomish(cell, sample, problem, qi, rng):
    """A random hash of another queried chain: wrong on every query, found in the context."""
    q = sample.queries[qi]
    other = sample.queries[(qi + 1 + rng.randrange(len(sample.queries) - 1)) % len(sample.queries)]
    guess = [rng.choice(other.path[1:])]
    return "other_chain", guess, f"{q.start} = {guess[0]}", "ok", None


def planted(kind, sample, qi):
    """(answer hashes, completion, status, error) for a planted failure of `kind`."""
    q = sample.queries[qi]
    good = _correct(q)
    nxt = q.chain[q.offset + q.hops + 1]
    bad = {
        "correct": good,
        "stopped_early": good[:-1] if q.cot else [q.path[-2]],
        "went_too_far": good + [nxt] if q.cot else [nxt],
        "other_chain": [sample.queries[(qi + 1) % len(sample.queries)].answer],
        "hallucinated": ["Z" * 16],
        "partial_hash": [q.path[1][:9]],
        "no_answer": [],
        "over_length": [],
        "error": [],
    }[kind]
    text = f"{q.start} = {' = '.join(bad)}" if bad else ("I do not know." if kind == "no_answer" else "")
    status = {"over_length": "over_length", "error": "error"}.get(kind, "ok")
    error = f"HTTP 500 from {SECRET_PATH} after 3 attempts" if kind == "error" else None
    if kind == "stopped_early" and not good[:-1] and q.cot:
        text = f"{q.start} ="
    return bad, text, status, error


def stub(cell, sample, problem, qi, rng):
    kind = PLANTED[
        (PLANTED.index("correct") + qi + 4 * sample.index + cell["tokens"] // 500 + cell["hops"]) % len(PLANTED)
    ]
    bad, text, status, error = planted(kind, sample, qi)
    return kind, bad, text, status, error


def fading(cell, sample, problem, qi, rng):
    """Right up to 1000 tokens x hops, wrong beyond, except a recovery at 2K for 2 hops."""
    if cell["tokens"] * cell["hops"] <= 1000 or (cell["tokens"], cell["hops"]) == (2000, 2):
        return oracle(cell, sample, problem, qi, rng)
    return randomish(cell, sample, problem, qi, rng)


def hostile(cell, sample, problem, qi, rng):
    return "hallucinated", ["Q" * 16], f"{XSS} {sample.queries[qi].start} = {'Q' * 16}", "ok", None


def write_run(folder: Path, model, answer, grid, complete=True, torn=False, seed=0):
    """One run folder: samples.jsonl, records.jsonl, and results.json unless partial."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    records, entries = [], []
    for cell, sample, problem, n_tokens in grid:
        entries.append(
            {
                "cell_key": json.dumps(cell, sort_keys=True),
                "cell": cell,
                "index": sample.index,
                "sample_id": sample.id,
                "n_tokens": n_tokens,
                "sample": sample.to_dict(with_prompt=False),
            }
        )
        for qi in range(len(sample.queries)):
            kind, hashes, text, status, error = answer(cell, sample, problem, qi, rng)
            records.append(record(model, cell, sample, problem, n_tokens, qi, kind, hashes, text, status, error))
    (folder / "samples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    body = "".join(json.dumps(r) + "\n" for r in records)
    if torn:
        body += json.dumps(records[0])[:57]  # a writer killed mid-line
    (folder / "records.jsonl").write_text(body)
    if complete:
        (folder / "results.json").write_text(
            json.dumps({"config": {"model": model, "model_path": SECRET_PATH}, "partial": False, "metrics": {}})
        )
    return records


def write_runs(root: Path) -> dict:
    """Every fixture run under root; returns name -> (folder, records)."""
    grid = problems()
    runs = {
        "oracle": write_run(root / "oracle", "oracle", oracle, grid),
        "random": write_run(root / "random", "random", randomish, grid, seed=1),
        "stub": write_run(root / "stub", f"stub:{SECRET_PATH}", stub, grid),
        "fading": write_run(root / "fading", "fading", fading, grid, seed=2),
        "partial": write_run(
            root / "partial", "oracle-partial", oracle, grid[: len(grid) // 3], complete=False, torn=True
        ),
        "hostile": write_run(root / "hostile", "<b>hostile</b> $x^$", hostile, grid[:4]),
    }
    return {name: (root / name, records) for name, records in runs.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return write_runs(tmp_path_factory.mktemp("runs"))


def test_reader_returns_every_record_once_in_write_order(runs):
    folder, records = runs["stub"]
    run = read_run(folder)
    assert [(r["sample_id"], r["query_index"]) for r in run.records] == [
        (r["sample_id"], r["query_index"]) for r in records
    ]
    assert not run.partial and run.torn_lines == 0


def test_reader_skips_a_torn_last_line_and_calls_the_run_partial(runs):
    folder, records = runs["partial"]
    run = read_run(folder)
    assert len(run.records) == len(records)
    assert run.torn_lines == 1 and run.partial


def test_reader_keeps_the_first_record_of_a_duplicated_key(tmp_path, runs):
    folder, records = runs["oracle"]
    dup = dict(records[0], kind="hallucinated", correct=False)
    (tmp_path / "records.jsonl").write_text(json.dumps(records[0]) + "\n" + json.dumps(dup) + "\n")
    run = read_run(tmp_path)
    assert len(run.records) == 1 and run.records[0]["kind"] == "correct"


def test_results_json_saying_partial_makes_the_run_partial(tmp_path, runs):
    folder, records = runs["oracle"]
    (tmp_path / "records.jsonl").write_text(json.dumps(records[0]) + "\n")
    (tmp_path / "results.json").write_text(json.dumps({"partial": True}))
    assert read_run(tmp_path).partial
    (tmp_path / "results.json").write_text(json.dumps({"partial": False}))
    assert not read_run(tmp_path).partial


def test_reader_finds_the_sample_recipes(runs):
    run = read_run(runs["oracle"][0])
    assert set(run.samples) == {r["sample_id"] for r in run.records}


def test_a_folder_without_records_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no records.jsonl"):
        read_run(tmp_path)


def test_runs_with_the_same_folder_name_get_distinct_names(tmp_path, runs):
    folder, records = runs["oracle"]
    for side in ("a", "b"):
        (tmp_path / side / "oracle").mkdir(parents=True)
        (tmp_path / side / "oracle" / "records.jsonl").write_text(json.dumps(records[0]) + "\n")
    names = [r.name for r in load_runs([tmp_path / "a" / "oracle", tmp_path / "b" / "oracle"])]
    assert names == ["oracle", "oracle#2"]
