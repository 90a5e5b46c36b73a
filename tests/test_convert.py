"""`hashhop convert` (generator/convert.py): hashhop <-> Magic's reference layout, round trips, refusals."""

import json

import pytest
from magic_like import make_one
from test_foreign import SHARED, needs_shared, write_rows
from test_reference import reference_checks

from hashhop.cli import main
from hashhop.core.errors import DatasetError
from hashhop.generator.build import make_sample
from hashhop.generator.convert import convert
from hashhop.generator.dataset import read_samples, write_jsonl
from hashhop.generator.spec import Spec


def rows_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def layout(row):
    return {k: row[k] for k in ("prompt", "completion", "targets")}


def round_trip(source, tmp_path):
    assert convert(str(source), str(tmp_path / "h.jsonl"), "hashhop") > 0
    assert convert(str(tmp_path / "h.jsonl"), str(tmp_path / "m.jsonl"), "magic") > 0
    return rows_of(tmp_path / "m.jsonl")


@needs_shared
def test_the_real_reference_samples_survive_magic_to_hashhop_to_magic(tmp_path):
    assert [layout(r) for r in round_trip(SHARED, tmp_path)] == [layout(r) for r in rows_of(SHARED)]


@pytest.mark.parametrize("hops,cot,length", [(1, True, 16), (3, False, 6)])
def test_layout_made_samples_survive_magic_to_hashhop_to_magic(tmp_path, hops, cot, length):
    source = write_rows(tmp_path / "in.jsonl", [make_one(2500, 3, hops, length, cot, s) for s in range(3)])
    assert [layout(r) for r in round_trip(source, tmp_path)] == [layout(json.loads(x)) for x in open(source)]


def test_a_generated_magic_sample_converts_to_its_own_bytes_and_passes_the_reference_checks(tmp_path):
    spec = Spec(size=3000, hops=3, queries=4, hash_len=8, cot=True, format="magic", filler=False, seed=5)
    samples = write_jsonl(spec, 2, str(tmp_path / "g.jsonl"), progress=False)
    convert(str(tmp_path / "g.jsonl"), str(tmp_path / "m.jsonl"), "magic")
    for sample, row in zip(samples, rows_of(tmp_path / "m.jsonl")):
        assert row["prompt"] == make_sample(spec, sample.index).prompt and row["completion"] == sample.completion
        assert row["params"]["hops"] == 3 and row["params"]["num_queries"] == 4
        reference_checks(row["prompt"], row["completion"], row["targets"], 3, 4)
        assert list(row["targets"])[:4] == [q.start for q in sample.queries]


def test_a_plain_prompt_gets_its_last_values_quoted_and_its_filler_left_out_of_targets(tmp_path):
    spec = Spec(size=2000, hops=2, queries=2, seed=1)  # plain, with single-pair filler lines
    write_jsonl(spec, 1, str(tmp_path / "g.jsonl"), recipe=True, progress=False)
    convert(str(tmp_path / "g.jsonl"), str(tmp_path / "m.jsonl"), "magic")
    [row] = rows_of(tmp_path / "m.jsonl")
    reference_checks(row["prompt"], row["completion"], row["targets"], 2, 2)
    pairs = [line.split(" = ") for line in row["prompt"].split("\n")]
    keys = {key for key, _ in pairs}
    assert all(value.startswith("'") == (value.strip("'") not in keys) for _, value in pairs)
    assert any(value.startswith("'") for _, value in pairs) and any(not v.startswith("'") for _, v in pairs)
    [again] = read_samples(str(tmp_path / "m.jsonl"))
    assert [q.target for q in again.queries] == [
        q.target for q in next(read_samples(str(tmp_path / "g.jsonl"))).queries
    ]


def test_a_file_with_invalid_samples_is_refused_and_no_output_is_left(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [make_one(1500, 2, 2, 16, False, 0), make_one(1500, 2, 2, 2, False, 1)])
    with pytest.raises(DatasetError, match=r"1 invalid sample\(s\), never scored: line 2: "):
        convert(source, str(tmp_path / "out.jsonl"), "hashhop")
    assert not (tmp_path / "out.jsonl").exists()


def test_hashhop_convert_from_the_command_line(tmp_path, capsys):
    source = write_rows(tmp_path / "in.jsonl", [{"prompt": "aa = bb\nbb = cc", "answer": "cc"}])
    assert main(["convert", source, "-o", str(tmp_path / "m.jsonl"), "--to", "magic"]) == 0
    [row] = rows_of(tmp_path / "m.jsonl")
    assert (
        row["prompt"] == "aa = bb\nbb = 'cc'" and row["completion"] == "COMPLETION:\nHops=2\n\nCoT=False\n\naa = 'cc'\n"
    )
    assert "wrote 1 sample(s)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # argparse names the two layouts
        main(["convert", source, "-o", str(tmp_path / "x.jsonl"), "--to", "csv"])
    assert exited.value.code == 2 and "choose from 'magic', 'hashhop'" in capsys.readouterr().err
