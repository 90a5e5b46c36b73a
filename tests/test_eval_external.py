"""`hashhop eval --dataset`, `verify` and `score` on other tools' files: scored exactly, invalid rows
refused (or skipped and counted), never scored silently."""

import json

import pytest
from magic_like import make_one
from test_foreign import PROMPT, SHARED, needs_shared, write_rows

from hashhop.cli import main
from hashhop.evaluate.score import score_query
from hashhop.evaluate.store import read_records, read_results
from hashhop.generator.dataset import read_samples


def evaluate(model, dataset, run, *extra):
    return main(["eval", "--model", model, "--dataset", str(dataset), "-o", str(run), *extra])


def accuracy(run):
    return read_results(str(run))["metrics"]["overall"]["accuracy"]


@needs_shared
def test_the_oracle_scores_every_query_of_the_real_reference_file_and_random_none(tmp_path):
    assert evaluate("oracle", SHARED, tmp_path / "o") == 0 and accuracy(tmp_path / "o") == 1.0
    assert len(read_records(str(tmp_path / "o"))) == 19  # 3 + 5 + 5 + 4 + 2 queries
    assert evaluate("random", SHARED, tmp_path / "r") == 0 and accuracy(tmp_path / "r") <= 0.1


def test_the_oracle_scores_layout_made_and_prompt_answer_files_exactly(tmp_path):
    rows = [make_one(2000, 2, hops, 16, cot, seed) for seed, (hops, cot) in enumerate([(1, False), (3, True)])]
    assert evaluate("oracle", write_rows(tmp_path / "m.jsonl", rows), tmp_path / "m") == 0
    assert accuracy(tmp_path / "m") == 1.0
    plain = [{"prompt": PROMPT, "answer": "hh"}, {"prompt": PROMPT, "start": "bb", "hops": 1, "answer": "ee"}]
    assert evaluate("oracle", write_rows(tmp_path / "a.jsonl", plain), tmp_path / "a") == 0
    assert accuracy(tmp_path / "a") == 1.0


def test_invalid_rows_refuse_the_file_naming_their_lines_and_nothing_is_scored(tmp_path, capsys):
    rows = [make_one(1500, 2, 2, 16, False, 0), make_one(1500, 2, 2, 2, False, 1), {"prompt": PROMPT, "answer": "zz"}]
    dataset = write_rows(tmp_path / "m.jsonl", rows)
    assert evaluate("oracle", dataset, tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert "error: " in err and "2 invalid sample(s), never scored: line 2: " in err and "line 3: answer zz" in err
    assert "--skip-invalid" in err and read_records(str(tmp_path / "run")) == []


def test_skip_invalid_scores_the_rest_and_records_how_many_were_skipped(tmp_path, capsys):
    rows = [make_one(1500, 2, 2, 16, False, 0), make_one(1500, 2, 2, 2, False, 1)]
    dataset = write_rows(tmp_path / "m.jsonl", rows)
    assert evaluate("oracle", dataset, tmp_path / "run", "--skip-invalid") == 0
    assert "skipped 1 invalid sample(s)" in capsys.readouterr().err
    results = read_results(str(tmp_path / "run"))
    assert results["config"]["skipped_invalid"] == 1 and results["metrics"]["overall"]["n"] == 2


def test_verify_lists_invalid_rows_with_line_numbers_and_fails(tmp_path, capsys):
    rows = [{"prompt": PROMPT, "answer": "hh"}, {"prompt": "aa = bb\naa = cc", "answer": "cc"}]
    assert main(["verify", write_rows(tmp_path / "a.jsonl", rows)]) == 1
    captured = capsys.readouterr()
    assert "a.jsonl:2: key aa appears twice (prompt lines 1 and 2)" in captured.out
    assert "1/2 samples ok" in captured.err
    assert main(["verify", write_rows(tmp_path / "ok.jsonl", rows[:1])]) == 0


def test_a_run_on_an_external_file_rescores_to_the_same_records(tmp_path):
    rows = [make_one(2000, 3, 2, 8, True, 3)]
    assert evaluate("random", write_rows(tmp_path / "m.jsonl", rows), tmp_path / "run") == 0
    before = [r.to_dict() for r in read_records(str(tmp_path / "run"))]
    assert main(["score", str(tmp_path / "run")]) == 0
    assert [r.to_dict() for r in read_records(str(tmp_path / "run"))] == before


LONG = PROMPT.replace("aa", "aaXk").replace("bb", "bbXk").replace("cc", "ccXk").replace("dd", "ddXk")
LONG = LONG.replace("ee", "eeXk").replace("ff", "ffXk").replace("gg", "ggXk").replace("hh", "hhXk")


@pytest.mark.parametrize(
    "text,kind,credit",
    [
        ("bbXk = eeXk", "correct", 1.0),
        ("bbXk = ddXk", "other_chain", 0.5),
        ("bbXk = qwZv", "hallucinated", 0.5),
        ("bbXk", "stopped_early", 0.5),
        ("bbXk = eeXa", "partial_hash", 0.5),
    ],
)
def test_an_external_prompt_explains_wrong_answers_by_where_the_hashes_live(tmp_path, text, kind, credit):
    [sample] = read_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": LONG, "answer": "bbXk = eeXk"}]))
    score = score_query(sample.context, sample.queries[0], text)
    assert (score.kind, score.credit) == (kind, credit)
    if kind == "other_chain":
        assert score.answer_position == 1  # ddXk is the value of prompt line 2
    json.dumps(score.to_dict())


def test_an_external_prompt_gets_the_strict_and_lenient_scores_too(tmp_path):
    [sample] = read_samples(write_rows(tmp_path / "a.jsonl", [{"prompt": LONG, "answer": "bbXk = eeXk"}]))
    ctx, query = sample.context, sample.queries[0]
    texts = ("bbXk = eeXk", "Following the links: bbXk = eeXk.", "bbXk = ddXk")
    assert [(s.strict, s.correct, s.lenient) for s in (score_query(ctx, query, t) for t in texts)] == [
        (True, True, True),
        (False, True, True),
        (False, False, False),
    ]
