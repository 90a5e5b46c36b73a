"""Datasets from other tools (generator/foreign.py, generator/external.py): formats told by their keys,
chains recovered from the prompt, corrupted rows reported with their line number and reason."""

import json
from pathlib import Path

import pytest
from magic_like import make_one

from hashhop.core.errors import DatasetError
from hashhop.generator.dataset import read_samples, scan_samples
from hashhop.generator.external import ExternalSample, sample_from_dict
from hashhop.generator.foreign import Invalid

# ../shared beside the checkout (a worktree sits one folder deeper): the first ancestor that has it.
SHARED = next(
    (f for p in Path(__file__).resolve().parents for f in [p / "shared/reference/magic-samples.jsonl"] if f.exists()),
    None,
)
needs_shared = pytest.mark.skipif(SHARED is None, reason="needs shared/reference beside the checkout (CI has it)")

PROMPT = "aa = bb\ncc = dd\nbb = ee\nff = gg\ndd = hh"  # chains aa-bb-ee, cc-dd-hh, ff-gg


def write_rows(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@needs_shared
def test_the_real_reference_samples_read_as_external_samples_with_their_own_completion():
    rows = [json.loads(line) for line in SHARED.read_text().splitlines()]
    samples = list(read_samples(str(SHARED)))
    assert len(samples) == len(rows) == 5
    for sample, row in zip(samples, rows):
        assert isinstance(sample, ExternalSample) and sample.prompt == row["prompt"]
        assert sample.completion == row["completion"]
        assert sample.spec.hops == row["params"]["hops"] and sample.spec.cot == row["params"]["chain_of_thought"]
        assert sample.spec.hash_len == row["params"]["hash_pair_str_length"] and sample.spec.format == "magic"
        assert len(sample.queries) == row["params"]["num_queries"]


@pytest.mark.parametrize("hops,cot,length", [(1, False, 16), (2, True, 16), (3, False, 8), (4, True, 12)])
def test_reference_samples_made_from_the_layout_recover_every_queried_chain(tmp_path, hops, cot, length):
    rows = [make_one(3000, 3, hops, length, cot, seed) for seed in range(4)]
    for sample, row in zip(read_samples(write_rows(tmp_path / "m.jsonl", rows)), rows):
        table = dict(line.replace("'", "").split(" = ") for line in row["prompt"].split("\n"))
        for q in sample.queries:
            assert q.target == row["targets"][q.start] and q.hops == hops and q.offset == 0
            assert all(table[a] == b for a, b in zip(q.path, q.path[1:]))
            lines = row["prompt"].split("\n")
            assert [lines[p].split(" = ")[0] for p in q.positions] == list(q.path[:-1])


def test_short_hashes_collide_and_those_rows_are_invalid_with_their_line_number(tmp_path):
    rows = [make_one(1500, 2, 2, 16, False, 0), make_one(1500, 2, 2, 2, False, 1), make_one(1500, 2, 2, 16, True, 2)]
    items = list(scan_samples(write_rows(tmp_path / "m.jsonl", rows)))
    assert isinstance(items[0], ExternalSample) and isinstance(items[2], ExternalSample)
    assert isinstance(items[1], Invalid) and items[1].line == 2
    assert "appears twice" in items[1].reason
    with pytest.raises(DatasetError, match=r"m\.jsonl:2: invalid sample: .*appears twice"):
        list(read_samples(str(tmp_path / "m.jsonl")))


def test_many_short_hash_samples_are_never_read_as_valid_when_the_reference_check_fails(tmp_path):
    rows = [make_one(600, 2, 3, 2, False, seed) for seed in range(30)]
    items = list(scan_samples(write_rows(tmp_path / "m.jsonl", rows)))
    for row, item in zip(rows, items):
        keys = [line.split(" = ")[0] for line in row["prompt"].split("\n")]
        if len(set(keys)) != len(keys):  # the reference's own test would fail this row
            assert isinstance(item, Invalid)
    assert any(isinstance(item, Invalid) for item in items)


def test_a_reference_chain_that_does_not_take_hops_steps_is_invalid(tmp_path):
    row = {"prompt": "aa = bb\nbb = 'cc'\ncc = 'dd'", "completion": "COMPLETION:\nHops=2\n\nCoT=False\n\naa = 'cc'\n"}
    row["targets"] = {"aa": "cc"}
    [item] = scan_samples(write_rows(tmp_path / "m.jsonl", [row]))
    assert isinstance(item, Invalid) and "does not end after 2 hop(s)" in item.reason


def test_prompt_answer_rows_recover_start_and_hops_from_the_chain_ending_at_the_answer(tmp_path):
    rows = [
        {"prompt": PROMPT, "answer": "hh"},
        {"prompt": PROMPT, "answer": "gg"},
        {"prompt": PROMPT, "answer": "bb = ee"},
    ]
    samples = list(read_samples(write_rows(tmp_path / "a.jsonl", rows)))
    assert [(s.queries[0].start, s.queries[0].hops, s.spec.cot) for s in samples] == [
        ("cc", 2, False),
        ("ff", 1, False),
        ("aa", 2, True),
    ]
    assert samples[0].queries[0].positions == (1, 4) and samples[0].source == "answer"


@pytest.mark.parametrize(
    "answer,reason",
    [("zz", "answer zz is not reachable"), ("bb", "answer bb does not end a chain: prompt line 3 continues it")],
)
def test_a_prompt_answer_row_whose_answer_ends_no_chain_is_invalid(tmp_path, answer, reason):
    [item] = scan_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": PROMPT, "answer": answer}]))
    assert isinstance(item, Invalid) and item.line == 1 and reason in item.reason


def test_start_hops_rows_may_start_mid_chain_and_must_walk_their_hops(tmp_path):
    rows = [
        {"prompt": PROMPT, "start": "bb", "hops": 1, "answer": "ee"},
        {"prompt": PROMPT, "start": "aa", "hops": 3, "answer": "ee"},
        {"prompt": PROMPT, "start": "xx", "hops": 1, "answer": "ee"},
        {"prompt": PROMPT, "start": "cc", "hops": 1, "answer": "ee"},
    ]
    items = list(scan_samples(write_rows(tmp_path / "h.jsonl", rows)))
    assert isinstance(items[0], ExternalSample) and items[0].queries[0].offset == 1
    assert items[0].queries[0].chain == ("aa", "bb", "ee")
    reasons = [(i.line, i.reason) for i in items[1:]]
    assert reasons == [
        (2, "the chain from aa ends after 2 hop(s), not 3"),
        (3, "start xx is not a key of the prompt"),
        (4, "1 hop(s) from cc reach dd, not the answer ee"),
    ]


def test_hash_shapes_are_inferred_and_mixed_lengths_are_invalid(tmp_path):
    rows = [{"prompt": "01 = 23\n23 = 45", "answer": "45"}, {"prompt": "ab = cde", "answer": "cde"}]
    items = list(scan_samples(write_rows(tmp_path / "s.jsonl", rows)))
    assert items[0].spec.alphabet == "hex" and items[0].spec.hash_len == 2
    assert isinstance(items[1], Invalid) and "different lengths" in items[1].reason


def test_a_row_of_no_known_format_is_one_error_naming_the_accepted_formats(tmp_path):
    path = write_rows(tmp_path / "x.jsonl", [{"text": "aa = bb", "label": "bb"}])
    with pytest.raises(DatasetError, match=r"x\.jsonl:1: unrecognised sample \(label, text\): accepted formats are"):
        list(scan_samples(path))


def test_an_external_sample_reads_back_from_its_hashhop_form(tmp_path):
    [sample] = read_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": PROMPT, "answer": "hh"}]))
    again = sample_from_dict(json.loads(json.dumps(sample.to_dict(with_prompt=False))))
    assert again == sample and again.id == sample.id and again.prompt == PROMPT
    edited = {**sample.to_dict(), "prompt": PROMPT + "\nzz = yy"}
    with pytest.raises(DatasetError, match="does not match its content"):
        sample_from_dict(edited)


def test_errors_and_reasons_stay_on_one_line_whatever_the_input_holds(tmp_path):
    rows = [{"prompt": PROMPT, "answer": "z\nz"}, {"a\nb": 1}]
    path = write_rows(tmp_path / "n.jsonl", rows)
    items = scan_samples(path)
    assert "\n" not in next(items).reason
    with pytest.raises(DatasetError) as error:
        next(items)
    assert "\n" not in str(error.value) and ":2: unrecognised sample (a b)" in str(error.value)


def test_an_edited_external_row_is_refused_naming_its_line(tmp_path):
    [sample] = read_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": PROMPT, "answer": "hh"}]))
    edited = {**sample.to_dict(), "prompt": PROMPT + "\nzz = yy"}
    with pytest.raises(DatasetError, match=r"e\.jsonl:2: external sample .* the file was edited"):
        list(read_samples(write_rows(tmp_path / "e.jsonl", [sample.to_dict(), edited])))
