"""Hugging Face datasets: generated and exported datasets load with `datasets.load_dataset`, and
`hashhop export --hub-ready DIR` writes a folder (Parquet, JSONL, card) ready to upload."""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest

from hashhop import Spec, make_sample
from hashhop.cli import main

datasets = pytest.importorskip("datasets")
yaml = pytest.importorskip("yaml")
pytest.importorskip("pyarrow")


def _front_matter(path: str) -> dict:
    text = open(path, encoding="utf-8").read()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _export(tmp_path, *extra) -> str:
    out = str(tmp_path / "hub")
    assert main(["export", "--hub-ready", out, *extra]) == 0
    return out


def test_export_writes_parquet_jsonl_and_card_that_datasets_loads(tmp_path):
    out = _export(tmp_path, "--tokens", "2K", "--hops", "2", "--samples", "3", "--seed", "7")
    expected = [make_sample(Spec(size=2000, hops=2, seed=7), i) for i in range(3)]
    parquet = datasets.load_dataset("parquet", data_files=os.path.join(out, "data/test.parquet"), split="train")
    jsonl = datasets.load_dataset("json", data_files=os.path.join(out, "data/test.jsonl"), split="train")
    for ds in (parquet, jsonl):
        assert ds["id"] == [s.id for s in expected]
        assert ds["prompt"] == [s.prompt for s in expected]
        assert ds["completion"] == [s.completion for s in expected]
    assert json.loads(parquet[0]["queries"])[0]["target"] == expected[0].queries[0].target


def test_exported_folder_loads_by_its_card_as_a_test_split(tmp_path):
    out = _export(tmp_path, "--tokens", "1K", "--samples", "2")
    ds = datasets.load_dataset(out)  # as the Hub would: the card's `configs` name the files
    assert list(ds) == ["test"] and ds["test"].num_rows == 2


def test_card_metadata_holds_spec_seed_and_license(tmp_path):
    out = _export(tmp_path, "--tokens", "1K", "--hops", "3", "--cot", "--seed", "11", "--license", "apache-2.0")
    meta = _front_matter(os.path.join(out, "README.md"))
    assert meta["license"] == "apache-2.0"
    assert meta["hashhop"]["seed"] == 11
    assert Spec.from_dict(meta["hashhop"]["spec"]) == Spec(size=1000, hops=3, cot=True, seed=11)
    assert "hashhop" in meta["tags"]
    assert meta["configs"][0]["data_files"] == [{"split": "test", "path": "data/test.parquet"}]


def test_card_regenerate_command_reproduces_the_samples(tmp_path):
    out = _export(tmp_path, "--tokens", "1500", "--hops", "2", "--samples", "2", "--seed", "5", "--depth", "0.25")
    card = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    command = re.search(r"^hashhop generate .*$", card, re.MULTILINE).group(0)
    args = shlex.split(command)[1:]
    args[args.index("-o") + 1] = str(tmp_path / "again.jsonl")
    assert main(args) == 0
    again = [json.loads(line)["id"] for line in open(tmp_path / "again.jsonl")]
    exported = [json.loads(line)["id"] for line in open(os.path.join(out, "data/test.jsonl"))]
    assert again == exported


def test_export_from_a_recipe_rebuilds_the_prompts(tmp_path):
    recipe = str(tmp_path / "recipe.jsonl")
    assert main(["generate", "--tokens", "1K", "--samples", "2", "--seed", "3", "--recipe", "-o", recipe]) == 0
    out = _export(tmp_path, "--dataset", recipe)
    ds = datasets.load_dataset("parquet", data_files=os.path.join(out, "data/test.parquet"), split="train")
    assert ds["prompt"] == [make_sample(Spec(size=1000, seed=3), i).prompt for i in range(2)]
    assert "recipe.jsonl" in open(os.path.join(out, "README.md")).read()


def test_export_refuses_a_non_empty_folder_without_force(tmp_path, capsys):
    out = tmp_path / "hub"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", "--hub-ready", str(out), "--tokens", "1K"]) == 2
    assert "--force" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["keep.txt"]
    assert main(["export", "--hub-ready", str(out), "--tokens", "1K", "--force"]) == 0
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_generated_dataset_files_load_with_datasets(tmp_path, suffix):
    path = str(tmp_path / f"x.{suffix}")
    assert main(["generate", "--tokens", "1K", "--samples", "2", "-o", path]) == 0
    ds = datasets.load_dataset("json" if suffix == "jsonl" else "parquet", data_files=path, split="train")
    assert ds["id"] == [make_sample(Spec(size=1000), i).id for i in range(2)]


def test_export_never_replaces_a_readme_that_is_not_a_card(tmp_path, capsys):
    out = tmp_path / "hub"
    out.mkdir()
    (out / "README.md").write_text("# my project\n")
    assert main(["export", "--hub-ready", str(out), "--tokens", "1K", "--force"]) == 2
    assert "not a hashhop dataset card" in capsys.readouterr().err
    assert (out / "README.md").read_text() == "# my project\n"
    assert sorted(os.listdir(out)) == ["README.md"]  # refused before any data file was written
    # a card written by an earlier export is replaced
    _export(tmp_path / "again", "--tokens", "1K")
    assert (
        main(["export", "--hub-ready", str(tmp_path / "again" / "hub"), "--tokens", "1K", "--seed", "2", "--force"])
        == 0
    )
    assert _front_matter(str(tmp_path / "again" / "hub" / "README.md"))["hashhop"]["seed"] == 2
