"""The run store: records.jsonl, samples as recipes, results.json, lock, resume."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hashhop.core.errors import MissingExtraError, StoreError
from hashhop.evaluate.store import (
    Record,
    RunStore,
    load_run,
    read_records,
    read_results,
    read_samples,
    write_json_atomic,
)
from hashhop.evaluate.summary import metrics, prefix_cache
from hashhop.generator.build import make_sample, problem_of
from hashhop.generator.sample import Sample
from hashhop.generator.spec import Spec
from hashhop.prompt.cell import Cell

DOC = Path(__file__).resolve().parents[1] / "docs" / "records.md"


def rec(sample_id="hh-1", q=0, status="ok", correct=True, latency=0.1, **kw):
    base = dict(
        sample_id=sample_id,
        query_index=q,
        model="oracle",
        cell={"tokens": 1000, "hops": 1},
        status=status,
        kind="correct" if correct else "other_chain",
        correct=correct,
        credit=1.0 if correct else 0.0,
        hops_correct=1,
        broke_at=None,
        answer="h",
        completion="h",
        error=None,
        start="s",
        target="h",
        path=["s", "h"],
        query_depth=0.5,
        answer_position=3,
        n_tokens=900,
        prompt_tokens=None,
        completion_tokens=None,
        latency_s=latency,
        cost_usd=0.0,
        attempts=1,
        time="2026-01-01T00:00:00Z",
    )
    base.update(kw)
    return Record(**base)


def test_record_has_exactly_the_fields_of_the_records_doc():
    table = DOC.read_text().split("## Record fields")[1]
    documented = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            documented.update(re.findall(r"`(\w+)`", row.split("|")[1]))
    assert documented == set(rec().to_dict())


def test_records_round_trip_in_write_order(tmp_path):
    with RunStore(str(tmp_path)) as store:
        for q in range(3):
            assert store.add_record(rec(q=q))
    assert [r.query_index for r in read_records(str(tmp_path))] == [0, 1, 2]
    assert read_records(str(tmp_path))[0] == rec(q=0)


def test_a_key_already_recorded_is_not_written_twice_even_after_reopening(tmp_path):
    with RunStore(str(tmp_path)) as store:
        assert store.add_record(rec())
        assert not store.add_record(rec())
    with RunStore(str(tmp_path)) as store:
        assert ("hh-1", 0) in store.done
        assert not store.add_record(rec())
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 1


def test_a_torn_last_line_is_ignored_and_the_next_append_is_readable(tmp_path):
    with RunStore(str(tmp_path)) as store:
        store.add_record(rec(q=0))
    with open(tmp_path / "records.jsonl", "ab") as f:
        f.write(json.dumps(rec(q=1).to_dict()).encode()[:57])  # a crash mid-write
    assert [r.query_index for r in read_records(str(tmp_path))] == [0]
    with RunStore(str(tmp_path)) as store:
        assert store.done == {("hh-1", 0)}
        store.add_record(rec(q=1))
    assert [r.query_index for r in read_records(str(tmp_path))] == [0, 1]


def test_a_second_store_on_the_same_folder_gets_a_clear_error(tmp_path):
    with RunStore(str(tmp_path)), pytest.raises(StoreError, match="in use by another hashhop process"):
        RunStore(str(tmp_path))
    RunStore(str(tmp_path)).close()  # released on close


def test_the_lock_is_held_across_processes_and_released_when_the_holder_dies(tmp_path):
    code = (
        "import sys,time; from hashhop.evaluate.store import RunStore; s=RunStore(sys.argv[1]); "
        "print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=f"pid {proc.pid}"):
            RunStore(str(tmp_path))
    finally:
        proc.kill()
        proc.wait()
    RunStore(str(tmp_path)).close()


def test_samples_are_stored_once_as_recipes_that_rebuild_the_same_prompt(tmp_path):
    sample = make_sample(Spec(size=2000, hops=2, queries=2), 1)
    cell = Cell(2000, "chars", 2, False)
    with RunStore(str(tmp_path)) as store:
        store.add_sample(cell, 1, sample, sample.n_tokens, 2100)
        store.add_sample(cell, 1, sample, sample.n_tokens, 2100)
    entries = read_samples(str(tmp_path))
    assert len(entries) == 1 and "prompt" not in entries[0]["sample"]
    assert entries[0]["prompt_tokens"] == 2100
    rebuilt = Sample.from_dict(entries[0]["sample"])
    assert rebuilt.id == sample.id and problem_of(rebuilt).prompt() == sample.prompt
    with RunStore(str(tmp_path)) as store:
        assert (json.dumps(cell.to_dict(), sort_keys=True, separators=(",", ":")), 1) in store.samples
    assert entries[0]["cell"] == cell.to_dict()


def test_results_are_written_atomically(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomic(str(path), {"a": 1})
    write_json_atomic(str(path), {"a": 2})
    assert read_results(str(tmp_path)) == {"a": 2}
    assert os.listdir(tmp_path) == ["results.json"]  # no temp file left behind


def test_missing_or_corrupt_results_give_a_one_line_error(tmp_path):
    with pytest.raises(StoreError, match="run `hashhop eval"):
        read_results(str(tmp_path))
    (tmp_path / "results.json").write_text("{")
    with pytest.raises(StoreError, match="not valid JSON"):
        read_results(str(tmp_path))


def test_metrics_count_errors_and_over_length_apart_from_accuracy():
    records = [
        rec(q=0),
        rec(q=1, correct=False),
        rec(q=2, status="error", correct=False, kind="error"),
        rec(q=3, status="over_length", correct=False, kind="over_length"),
    ]
    m = metrics(records)["overall"]
    assert (m["n"], m["n_scored"], m["accuracy"], m["n_errors"], m["n_over_length"]) == (4, 2, 0.5, 1, 1)


def test_prefix_cache_compares_first_and_later_queries_of_a_context():
    records = [rec(q=0, latency=1.0), rec(q=1, latency=0.25), rec(q=2, latency=0.25), rec("hh-2", 0, latency=5.0)]
    pc = prefix_cache(records)
    assert pc == {"contexts": 1, "first_latency_s": 1.0, "later_latency_s": 0.25, "saving": 0.75}


def test_load_run_gives_a_dataframe_or_names_the_extra(tmp_path):
    with RunStore(str(tmp_path)) as store:
        store.add_record(rec())
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match="pip install"):
            load_run(str(tmp_path))
    else:
        df = load_run(str(tmp_path))
        assert list(df["cell_tokens"]) == [1000] and len(df) == 1


def test_a_record_survives_kill_9_right_after_it_is_added(tmp_path):
    # fsync is grouped; the line itself is in the OS as soon as add_record returns.
    code = (
        "import sys,time; sys.path.insert(0, sys.argv[2]); from test_store import rec; "
        "from hashhop.evaluate.store import RunStore; s=RunStore(sys.argv[1], fsync_interval=3600); "
        "s.add_record(rec(q=7)); print('added', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "added"
    finally:
        proc.kill()
        proc.wait()
    assert [r.query_index for r in read_records(str(tmp_path))] == [7]


def test_samples_are_fsynced_before_the_records_that_need_them(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    sample = make_sample(Spec(size=800, hops=1), 0)
    with RunStore(str(tmp_path / "run"), fsync_interval=0.0) as store:
        store.add_sample(Cell(800, "chars", 1, False), 0, sample, sample.n_tokens)
        assert synced == []  # written at once, not fsync'd on its own
        store.add_record(rec(sample_id=sample.id))
        assert synced[:2] == [store._smp.fileno(), store._rec.fileno()]
        synced.clear()
        store.add_record(rec(sample_id=sample.id, q=1))
        assert synced == [store._rec.fileno()]  # nothing new among the samples
    assert [s["sample_id"] for s in read_samples(str(tmp_path / "run"))] == [sample.id]
