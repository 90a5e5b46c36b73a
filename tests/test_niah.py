"""The niah tasks: a seeded haystack sized in the model's tokens, needles at the requested depth,
multikey distractors, exact scoring with failure kinds, the task axis in grids and sweeps."""

import hashlib

import pytest

from hashhop.bench.suites import Grid, get_suite
from hashhop.bench.sweep import parse_sweep
from hashhop.core.errors import SpecError, SweepError
from hashhop.evaluate.niah_score import extract_number, score_needle
from hashhop.evaluate.score import score_query
from hashhop.generator.build import make_sample, problem_of
from hashhop.generator.lines import index_context
from hashhop.generator.niah import NEEDLE_PATTERN, Haystack
from hashhop.generator.spec import Spec
from hashhop.generator.verify import verify_sample
from hashhop.prompt.cell import Cell
from hashhop.prompt.template import DEFAULT_TEMPLATE, render


def _spec(**changes) -> Spec:
    return Spec(**{"size": 3000, "hops": 1, "queries": 2, "task": "niah", **changes})


def test_the_same_spec_gives_the_same_bytes_and_another_seed_others():
    a, b = make_sample(_spec()), make_sample(_spec())
    assert a.prompt == b.prompt and a.id == b.id
    assert make_sample(_spec(seed=1)).prompt != a.prompt


def test_the_haystack_is_plain_sentences_with_one_needle_per_query():
    sample = make_sample(_spec())
    lines = sample.prompt.split("\n")
    needles = [line for line in lines if NEEDLE_PATTERN.fullmatch(line)]
    assert len(needles) == 2
    assert not any(c.isdigit() for line in lines if line not in needles for c in line)
    assert verify_sample(sample).ok


@pytest.mark.parametrize("tokenizer", ["chars", "tiktoken:cl100k_base"])
def test_the_haystack_is_sized_within_tolerance_and_the_size_is_measured(tokenizer):
    sample = make_sample(_spec(size=8000, tokenizer=tokenizer))
    assert abs(sample.n_tokens - 8000) <= 8000 * 0.005 + 60
    assert verify_sample(sample).ok  # the stored n_tokens is the measured count


def test_a_budget_below_the_needles_is_refused():
    with pytest.raises(SpecError, match="too small"):
        make_sample(_spec(size=50))


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_the_needle_sits_at_the_requested_depth(depth):
    sample = make_sample(_spec(size=20000, queries=1, depth=depth))
    query = sample.queries[0]
    assert abs(query.depth - depth) <= 0.05
    assert query.start in sample.prompt.split("\n")[query.positions[0]]


def test_multikey_adds_distractor_needles_some_of_them_near_misses():
    sample = make_sample(_spec(task="niah-multikey", size=6000, queries=2, distractors=4))
    pairs = NEEDLE_PATTERN.findall(sample.prompt)
    assert len(pairs) == 2 * (1 + 4)
    keys = [k for k, _ in pairs]
    assert len(set(keys)) == len(keys) and len({v for _, v in pairs}) == len(pairs)
    for q in sample.queries:
        first = q.start.split("-")[0]
        assert sum(k.split("-")[0] == first for k in keys) >= 2  # a near miss shares the first word


def test_the_spec_dict_holds_the_task_only_when_it_is_not_hashhop():
    assert "task" not in Spec().to_dict()
    assert _spec().to_dict()["task"] == "niah"
    assert Spec.from_dict(_spec().to_dict()) == _spec()
    assert "task" not in Cell(1000, "chars", 1, False).as_dict
    assert Cell.from_dict(Cell(1000, "chars", 1, False, task="niah").as_dict).task == "niah"


def test_niah_with_hops_or_chain_of_thought_is_refused():
    with pytest.raises(SpecError, match="one lookup"):
        Spec(task="niah", hops=2)
    with pytest.raises(SpecError, match="unknown task"):
        Spec(task="needle")


def test_a_recipe_rebuilds_the_same_haystack():
    sample = make_sample(_spec(), with_prompt=False)
    problem = problem_of(sample)
    assert isinstance(problem, Haystack)
    assert hashlib.sha256(problem.prompt().encode()).hexdigest() == sample.prompt_sha256


def test_scoring_names_each_failure_kind():
    sample = make_sample(_spec(task="niah-multikey", size=4000, queries=1))
    problem, query = problem_of(sample), sample.queries[0]
    other = next(v for _, v in NEEDLE_PATTERN.findall(sample.prompt) if v != query.target)
    garbled = query.target[:5] + ("00" if query.target[5:] != "00" else "11")
    kinds = {
        query.target: "correct",
        f"The special magic number for {query.start} is: {query.target}.": "correct",
        other: "distractor",
        garbled: "partial",
        "9" * 7 if query.target[0] != "9" else "1" * 7: "hallucinated",
        "I do not know.": "no_answer",
    }
    for text, kind in kinds.items():
        score = score_query(problem, query, text)
        assert score.kind == kind, text
        assert score.correct == (kind == "correct")
    assert score_needle(problem, query, other).answer_position is not None


def test_the_answer_is_the_last_number_of_the_values_length():
    assert extract_number("For 12 keys, the number is 1,234,567; not 7654321.") == "7654321"
    assert extract_number("It is 1,234,567.") == "1234567"
    assert extract_number("maybe 42") == "42"
    assert extract_number("none") is None


def test_the_question_and_system_prompt_are_the_niahs():
    prompt = render(DEFAULT_TEMPLATE, "CTX", "amber-badger", 1, False, task="niah")
    assert "special magic number for amber-badger" in prompt.question
    assert prompt.messages[0]["content"] == DEFAULT_TEMPLATE.system_niah
    assert "system_niah" not in DEFAULT_TEMPLATE.to_dict() and "question_niah" in DEFAULT_TEMPLATE.to_dict(niah=True)


def test_the_oracle_reads_needles():
    sample = make_sample(_spec())
    table = index_context(sample.prompt)
    assert all(table[q.start] == q.target for q in sample.queries)


def test_a_grid_with_tasks_gives_one_niah_cell_per_length_and_keeps_hashhop_cells():
    grid = Grid((1000, 2000), (1, 2), cot=(True, False), tasks=("niah", "hashhop"))
    cells = grid.cells("chars")
    assert len(cells) == grid.n_cells == 2 * (1 + 4)
    niah = [c for c in cells if c.task == "niah"]
    assert [(c.tokens, c.hops, c.cot) for c in niah] == [(1000, 1, False), (2000, 1, False)]
    assert [c for c in cells if c.task == "hashhop"] == Grid((1000, 2000), (1, 2)).cells("chars")
    assert "tasks" not in Grid((1000,), (1,)).to_dict()
    with pytest.raises(SpecError, match="unknown task"):
        Grid((1000,), (1,), tasks=("nope",))


def test_a_sweep_file_takes_a_task_list():
    sweep = parse_sweep({"grid": {"lengths": ["1K"], "hops": [1], "task": ["niah", "hashhop"]}, "models": ["oracle"]})
    assert sweep.grid.tasks == ("niah", "hashhop")
    with pytest.raises(SweepError, match="unknown task"):
        parse_sweep({"grid": {"lengths": ["1K"], "hops": [1], "task": "needle"}, "models": ["oracle"]})


def test_the_niah_suite_crosses_tasks_lengths_and_hops():
    grid = get_suite("niah-vs-hashhop@2").grid
    assert set(grid.tasks) == {"niah", "niah-multikey", "hashhop"} and grid.hops == (1, 2, 4)


def test_niah_strict_is_the_value_first_and_lenient_the_value_anywhere():
    sample = make_sample(_spec(task="niah-multikey", size=4000, queries=1))
    problem, query = problem_of(sample), sample.queries[0]
    value = query.target
    other = next(v for _, v in NEEDLE_PATTERN.findall(sample.prompt) if v != value)
    grouped = f"{value[0]},{value[1:4]},{value[4:]}"
    cases = {  # reply: (strict, exact, lenient)
        value: (True, True, True),
        f"  '{value}'\n": (True, True, True),
        f"{grouped} is the number.": (True, True, True),
        f"The number is {value}.": (False, True, True),
        f"{value}.5": (False, True, True),
        f"{value} or maybe {other}": (False, False, True),
        other: (False, False, False),
    }
    for text, expected in cases.items():
        s = score_query(problem, query, text)
        assert (s.strict, s.correct, s.lenient) == expected, text
    assert score_query(problem, query, value[3:], prefill=value[:3]).strict  # the prefill began the answer


def test_a_wrong_niah_answer_the_budget_ended_is_cut_off():
    sample = make_sample(_spec())
    problem, query = problem_of(sample), sample.queries[0]
    assert score_query(problem, query, "The number", finish_reason="length").kind == "cut_off"
    assert score_query(problem, query, query.target, finish_reason="length").kind == "correct"
