"""Datasets on disk: JSONL, Parquet, recipes, materialize, atomic writes, corrupt input."""

import json
import os

import pytest

from hashhop.core.errors import DatasetError, OutputError
from hashhop.generator.dataset import materialize, read_samples, write_jsonl, write_parquet
from hashhop.generator.spec import Spec

SPEC = Spec(size=3000, hops=2, queries=2, tokenizer="tiktoken:cl100k_base", cot=True)


def test_jsonl_rows_hold_id_spec_seed_prompt_completion_queries_and_counts(tmp_path):
    path = tmp_path / "d.jsonl"
    samples = write_jsonl(SPEC, 3, str(path), progress=False)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 3
    for row, sample in zip(rows, samples):
        assert row["id"] == sample.id and row["id"].startswith("hh-")
        assert row["seed"] == 0 and row["spec"]["hops"] == 2
        assert len(row["prompt"]) == row["n_chars"]
        assert row["n_tokens"] == sample.n_tokens and row["tokenizer"] == SPEC.tokenizer
        assert row["completion"].count("\n") == 2
        assert {q["start"] for q in row["queries"]} <= set(row["prompt"].replace(" = ", "\n").split("\n"))
        assert len(row["queries"][0]["chain"]) == 3


def test_reading_back_gives_equal_samples(tmp_path):
    path = tmp_path / "d.jsonl"
    written = write_jsonl(SPEC, 2, str(path), progress=False)
    read = list(read_samples(str(path)))
    assert [s.id for s in read] == [s.id for s in written]
    assert read[0].queries == written[0].queries


def test_recipe_then_materialize_rebuilds_byte_for_byte(tmp_path):
    full, recipe, rebuilt = tmp_path / "full.jsonl", tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    write_jsonl(SPEC, 2, str(full), progress=False)
    write_jsonl(SPEC, 2, str(recipe), recipe=True, progress=False)
    assert "prompt" not in json.loads(recipe.read_text().splitlines()[0])
    assert recipe.stat().st_size < full.stat().st_size / 3
    materialize(str(recipe), str(rebuilt), progress=False)
    assert rebuilt.read_bytes() == full.read_bytes()


def test_two_workers_write_the_same_bytes_as_one(tmp_path):
    spec = Spec(size=200_000, hops=3, tokenizer="tiktoken:cl100k_base")
    write_jsonl(spec, 1, str(tmp_path / "a.jsonl"), workers=1, progress=False)
    write_jsonl(spec, 1, str(tmp_path / "b.jsonl"), workers=2, progress=False)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_parquet_round_trips_and_loads_with_pyarrow(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "d.parquet"
    written = write_parquet(SPEC, 2, str(path), progress=False)
    table = pq.read_table(path)
    assert table.num_rows == 2 and {"id", "prompt", "completion", "queries"} <= set(table.column_names)
    assert [s.id for s in read_samples(str(path))] == [s.id for s in written]


def test_a_failure_midway_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    path.write_text("precious\n")
    from hashhop.generator import (
        dataset,  # `import hashhop.generator.dataset as` meets hashhop.generate(), the function
    )

    calls = {"n": 0}
    real = dataset._write_row

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "_write_row", failing)
    with pytest.raises(RuntimeError):
        write_jsonl(SPEC, 3, str(path), progress=False)
    assert path.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["d.jsonl"]


def test_unwritable_paths_fail_with_a_fix(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_jsonl(SPEC, 1, str(tmp_path / "missing" / "d.jsonl"), progress=False)


@pytest.mark.parametrize(
    "content,message",
    [
        ("not json\n", "not valid JSON"),
        ('{"prompt": "x"}\n', r"unrecognised sample \(prompt\): accepted formats are hashhop's own"),
        ("[1, 2]\n", r"unrecognised sample \(list\): accepted formats are"),
        ('{"spec": {}, "id": "x"}\n', "not a hashhop sample"),
    ],
)
def test_corrupt_or_foreign_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DatasetError, match=f"bad.jsonl:1: {message}"):
        list(read_samples(str(path)))


def test_a_truncated_file_and_an_edited_sample_are_caught(tmp_path):
    path = tmp_path / "d.jsonl"
    write_jsonl(SPEC, 2, str(path), progress=False)
    data = path.read_bytes()
    (tmp_path / "t.jsonl").write_bytes(data[: len(data) - 40])
    with pytest.raises(DatasetError, match="t.jsonl:2: not valid JSON"):
        list(read_samples(str(tmp_path / "t.jsonl")))
    row = json.loads(data.splitlines()[0])
    row["queries"][0]["chain"][1] = "x" * 16
    (tmp_path / "e.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError, match="does not match"):
        list(read_samples(str(tmp_path / "e.jsonl")))


def test_missing_dataset_names_the_command_to_make_it(tmp_path):
    with pytest.raises(DatasetError, match="hashhop generate"):
        list(read_samples(str(tmp_path / "none.jsonl")))
