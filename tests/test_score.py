"""Hop-level scoring against real generated problems: every failure kind, credit, intervals, summaries."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.evaluate.score import KINDS, Score, score_query, score_sample, summarize, wilson_interval
from hashhop.generator.build import build, make_sample, problem_of
from hashhop.generator.sample import Sample
from hashhop.generator.spec import Spec

SPEC = Spec(size=2000, hops=3, queries=2, distractors=1)


@pytest.fixture(scope="module")
def problem():
    return build(SPEC, 0)[0]


@pytest.fixture(scope="module")
def lines(problem):
    return problem.prompt().split("\n")


def _line_of_role(problem, lines, role):
    """A context line whose key has `role`, and that key."""
    for i, line in enumerate(lines):
        key = line.split(" = ")[0]
        if problem.locate_hash(key).role == role:
            return i, key
    raise AssertionError(f"no {role} line in the context")


def test_kinds_are_in_the_documented_order():
    assert KINDS == (
        "correct",
        "stopped_early",
        "went_too_far",
        "other_chain",
        "hallucinated",
        "partial_hash",
        "no_answer",
        "cut_off",
        "over_length",
        "error",
    )


def test_correct_answer(problem, lines):
    q = problem.queries[0]
    s = score_query(problem, q, f"The answer is {q.answer}.")
    # Correct and lenient, not strict: the reply does not begin with the hash.
    assert s == Score(True, "correct", 1.0, 3, None, q.answer, s.answer_position, strict=False, lenient=True)
    assert lines[s.answer_position].endswith(" = " + q.answer)  # where the model read it, as a value


def test_answer_position_is_where_the_context_holds_the_hash(problem):
    import dataclasses

    q, other = problem.queries
    bare = dataclasses.replace(q, positions=())  # a query stored without positions: located instead
    for answer in (*q.chain[1:], other.answer):  # (the start alone is an echo, no answer)
        loc = problem.locate_hash(answer)
        line = loc.value_line if loc.value_line is not None else loc.key_line
        assert score_query(problem, q, answer).answer_position == line
        assert score_query(problem, bare, answer).answer_position == line


def test_stopped_early(problem):
    q = problem.queries[0]
    s = score_query(problem, q, q.path[1])
    assert (s.kind, s.correct, s.credit, s.hops_correct, s.broke_at) == ("stopped_early", False, 0.0, 1, 2)


def test_went_too_far():
    problem = build(Spec(size=2000, hops=3, query_hops=2, queries=1), 0)[0]
    q = problem.queries[0]
    assert q.hops == 2 and len(q.chain) == 4
    s = score_query(problem, q, q.chain[3])
    assert (s.kind, s.hops_correct, s.broke_at, s.credit) == ("went_too_far", 2, 3, 0.0)


def test_other_chain(problem):
    q, other = problem.queries
    s = score_query(problem, q, other.answer)
    assert (s.kind, s.hops_correct, s.broke_at) == ("other_chain", 0, 1)
    assert s.answer_position is not None


def test_a_decoy_counts_as_other_chain(problem, lines):
    line, decoy = _line_of_role(problem, lines, "decoy_key")
    s = score_query(problem, problem.queries[0], decoy)
    assert s.kind == "other_chain" and s.answer_position == line


def test_a_filler_hash_counts_as_other_chain(problem, lines):
    line, fill = _line_of_role(problem, lines, "fill")
    s = score_query(problem, problem.queries[0], fill)
    assert s.kind == "other_chain" and s.answer_position == line


def test_hallucinated(problem):
    fake = "abCdeFghIjkLmnOp"  # hash-like mixed case: an all-lowercase run reads as a word
    assert problem.locate_hash(fake) is None
    s = score_query(problem, problem.queries[0], f"It is {fake}.")
    assert (s.kind, s.answer, s.answer_position) == ("hallucinated", fake, None)


@pytest.mark.parametrize(
    "garble",
    [
        lambda h: h[:12] + "zzzz",  # right length, last symbols wrong, not in the context
        lambda h: "ZZZZ" + h[4:],  # right length, first symbols wrong
        lambda h: h[:10],  # truncated
        lambda h: h + "xyz",  # overlong
    ],
    ids=["suffix-garbled", "prefix-garbled", "truncated", "overlong"],
)
def test_partial_hash(problem, garble):
    q = problem.queries[0]
    given = garble(q.answer)
    assert problem.locate_hash(given) is None
    s = score_query(problem, q, f"{q.start} = {given}")
    assert (s.kind, s.answer, s.correct, s.broke_at) == ("partial_hash", given, False, 1)


def test_a_placeholder_cased_like_a_word_is_no_answer(problem):
    assert score_query(problem, problem.queries[0], "abcdefghijklmnop").kind == "no_answer"


def test_no_answer(problem):
    s = score_query(problem, problem.queries[0], "I cannot tell.")
    assert (s.kind, s.answer, s.answer_position, s.credit) == ("no_answer", None, None, 0.0)


# -- chain of thought ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cot_problem():
    return build(SPEC.replace(cot=True), 0)[0]


def test_cot_full_chain_is_correct(cot_problem):
    q = cot_problem.queries[0]
    s = score_query(cot_problem, q, f"{q.start} = '{q.target}'")
    assert (s.correct, s.kind, s.credit, s.hops_correct, s.broke_at) == (True, "correct", 1.0, 3, None)


def test_cot_credit_is_the_correct_prefix(cot_problem):
    q, other = cot_problem.queries
    s = score_query(cot_problem, q, f"{q.start} = {q.path[1]} = {q.path[2]} = {other.answer}")
    assert (s.kind, s.hops_correct, s.broke_at, s.credit) == ("other_chain", 2, 3, pytest.approx(2 / 3))


def test_cot_stopping_early_keeps_credit_for_the_hops_given(cot_problem):
    q = cot_problem.queries[0]
    s = score_query(cot_problem, q, f"{q.start} = {q.path[1]}")
    assert (s.kind, s.hops_correct, s.broke_at, s.credit) == ("stopped_early", 1, 2, pytest.approx(1 / 3))


def test_cot_skipping_a_hop_goes_too_far(cot_problem):
    q = cot_problem.queries[0]
    s = score_query(cot_problem, q, f"{q.start} = {q.path[2]} = {q.path[3]}")
    assert (s.kind, s.hops_correct, s.broke_at, s.credit) == ("went_too_far", 0, 1, 0.0)


def test_cot_walking_past_the_target_is_never_full_credit():
    problem = build(Spec(size=2000, hops=3, query_hops=2, queries=1, cot=True), 0)[0]
    q = problem.queries[0]
    s = score_query(problem, q, " = ".join(q.chain))
    assert (s.correct, s.kind, s.hops_correct, s.broke_at) == (False, "went_too_far", 2, 3)
    assert s.credit == pytest.approx(2 / 3)


def test_cot_hallucinated_hop(cot_problem):
    q = cot_problem.queries[0]
    s = score_query(cot_problem, q, f"{q.start} = {q.path[1]} = abCdeFghIjkLmnOp = {q.path[3]}")
    assert (s.kind, s.hops_correct, s.broke_at) == ("hallucinated", 1, 2)


def test_cot_truncated_last_hop_is_a_partial_hash(cot_problem):
    q = cot_problem.queries[0]
    s = score_query(cot_problem, q, f"{q.start} = {q.path[1]} = {q.path[2]} = {q.path[3][:9]}")
    assert (s.kind, s.hops_correct, s.broke_at, s.answer) == ("partial_hash", 2, 3, q.path[3][:9])


def test_english_words_of_the_hash_length_do_not_hide_the_answer():
    problem = build(Spec(size=2000, hops=2, queries=1, hash_len=8), 0)[0]
    q = problem.queries[0]
    s = score_query(problem, q, f"I believe the answer is {q.answer}, probably. Anything else?")
    assert s.correct, s


# -- stored samples and the oracle --------------------------------------------------------------


def test_scoring_from_a_stored_recipe_matches_the_built_problem(problem):
    sample = make_sample(SPEC, 0, with_prompt=False)
    stored = Sample.from_dict(json.loads(json.dumps(sample.to_dict(with_prompt=False))))
    for q in problem.queries:
        for text in (q.answer, q.path[1], "nothing"):
            assert score_sample(stored, q.index, text) == score_query(problem, q, text)


def test_the_reference_completion_scores_every_query_correct():
    for fmt in ("plain", "magic"):
        sample = make_sample(Spec(size=3000, hops=2, queries=3, cot=True, format=fmt), 1)
        problem = problem_of(sample)
        assert all(score_sample(sample, q.index, sample.completion, problem).correct for q in sample.queries)


specs = st.builds(
    Spec,
    size=st.integers(600, 2500),
    hops=st.integers(1, 4),
    queries=st.integers(1, 2),
    cot=st.booleans(),
    format=st.sampled_from(["plain", "magic"]),
    seed=st.integers(0, 10**6),
    alphabet=st.sampled_from(["letters", "hex", "base32"]),
    mid_chain=st.booleans(),
    distractors=st.integers(0, 1),
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from(["{start} = '{target}'", "The answer is {target}", "**{target}**"]))
def test_scoring_the_oracle_answer_is_always_correct(spec, template):
    problem = build(spec, 0)[0]
    for q in problem.queries:
        text = template.format(start=q.start, target=q.target)
        s = score_query(problem, q, text)
        assert (s.correct, s.kind, s.credit, s.hops_correct) == (True, "correct", 1.0, q.hops), text


# -- intervals and summaries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "k,n,lo,hi",
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_known_values(k, n, lo, hi):
    assert wilson_interval(k, n) == (pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4))


def test_wilson_interval_of_nothing_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_summarize_counts_errors_and_over_length_apart():
    rows = (
        [{"status": "ok", "kind": "correct", "correct": True, "credit": 1.0}] * 5
        + [{"status": "ok", "kind": "stopped_early", "correct": False, "credit": 0.5}] * 5
        + [{"status": "error", "kind": "error", "correct": False, "credit": 0.0}] * 3
        + [{"status": "over_length", "kind": "over_length", "correct": False, "credit": 0.0}] * 2
    )
    out = summarize(iter(rows))
    assert (out["n"], out["n_scored"], out["n_correct"]) == (15, 10, 5)
    assert out["accuracy"] == 0.5 and out["mean_credit"] == 0.75
    assert out["accuracy_ci95"] == [pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4)]
    assert (out["n_errors"], out["n_over_length"]) == (3, 2)
    assert out["kinds"] == {
        "correct": 5,
        "stopped_early": 5,
        "went_too_far": 0,
        "other_chain": 0,
        "hallucinated": 0,
        "partial_hash": 0,
        "no_answer": 0,
        "cut_off": 0,
        "over_length": 2,
        "error": 3,
    }


def test_summarize_with_nothing_scored_has_no_accuracy():
    out = summarize([{"status": "error", "kind": "error", "correct": False}])
    assert (out["n"], out["n_scored"], out["accuracy"], out["accuracy_ci95"], out["n_errors"]) == (1, 0, None, None, 1)


def test_summarize_keeps_unknown_kinds_visible():
    out = summarize([{"status": "ok", "kind": "mystery", "correct": False, "credit": 0.0}])
    assert out["kinds"]["mystery"] == 1 and out["n_scored"] == 1


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(), st.sampled_from([0, 1]))
def test_scoring_any_text_gives_a_known_kind_and_bounded_credit(problem, text, index):
    s = score_query(problem, problem.queries[index], text)
    assert s.kind in KINDS[:7] and 0.0 <= s.credit <= 1.0 and s.correct == (s.kind == "correct")
