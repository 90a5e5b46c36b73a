"""Strict and lenient scores (evaluate/match.py through score_query) on crafted replies, and cut_off."""

import pytest

from hashhop.evaluate.match import lenient_match, strict_match
from hashhop.evaluate.score import score_query, summarize
from hashhop.generator.alphabets import alphabet_chars
from hashhop.generator.build import build
from hashhop.generator.spec import Spec

SYMBOLS = frozenset(alphabet_chars("letters"))


@pytest.fixture(scope="module")
def skip():
    problem = build(Spec(size=2000, hops=3, queries=2), 0)[0]
    return problem, problem.queries[0]


@pytest.fixture(scope="module")
def cot():
    problem = build(Spec(size=2000, hops=3, queries=2, cot=True), 0)[0]
    return problem, problem.queries[0]


def _scores(problem, q, text, **kw):
    s = score_query(problem, q, text, **kw)
    return s.strict, s.correct, s.lenient


@pytest.mark.parametrize(
    "reply",
    ["{a}", "  {a}\n", "{s} = {a}", "{s}={a}", "'{a}'", "`{a}`", "{s} = '{a}'", "{a}\nI followed the links."],
)
def test_a_reply_that_begins_with_the_hash_is_strict(skip, reply):
    problem, q = skip
    assert _scores(problem, q, reply.format(a=q.answer, s=q.start)) == (True, True, True)


@pytest.mark.parametrize(
    "reply",
    ["The answer is {a}.", "**{a}**", "```\n{a}\n```", "Answer: {a}", "I think {x}. No: the answer is {a}."],
)
def test_a_right_answer_not_first_is_correct_and_lenient_but_not_strict(skip, reply):
    problem, q = skip
    assert _scores(problem, q, reply.format(a=q.answer, x=q.path[1])) == (False, True, True)


def test_the_right_hash_anywhere_but_not_picked_is_lenient_only(skip):
    problem, q = skip
    # The parser takes the marked answer (a wrong hash); the right one appears earlier: MRCR's scorer accepts it.
    reply = f"Maybe {q.answer}, but the answer is {q.path[1]}."
    assert _scores(problem, q, reply) == (False, False, True)


def test_a_reply_that_links_the_answer_on_is_lenient_only(skip):
    problem, q = skip
    # `H4 = X`: the parser reads X as the answer (the end of the written walk), so it is not exact.
    assert _scores(problem, q, f"{q.answer} = {q.path[1]}") == (False, False, True)


def test_a_hash_inside_a_longer_run_is_not_that_hash(skip):
    problem, q = skip
    assert _scores(problem, q, f"x{q.answer}y") == (False, False, False)
    assert not strict_match(q.answer + "Q", q.start, (q.answer,), SYMBOLS)


def test_a_walk_past_the_target_is_not_strict(cot):
    problem, q = cot
    walk = " = ".join(q.path[1:])
    assert _scores(problem, q, walk) == (True, True, True)
    assert _scores(problem, q, f"{q.start} = {walk}") == (True, True, True)
    assert _scores(problem, q, f"{walk} = {q.start}")[0] is False


def test_lenient_chain_of_thought_needs_the_walk_in_order(cot):
    problem, q = cot
    h2, h3, h4 = q.path[1:]
    assert lenient_match(f"first {h2}, then {h3}; finally {h4}", (h2, h3, h4), SYMBOLS)
    assert not lenient_match(f"{h3} {h2} {h4}", (h2, h3, h4), SYMBOLS)
    # the last occurrence of the final hash, then earlier ones before it
    assert lenient_match(f"{h4} {h2} {h3} {h4}", (h2, h3, h4), SYMBOLS)
    assert not lenient_match(f"{h2} {h3}", (h2, h3, h4), SYMBOLS)


def test_the_prefill_counts_for_strict(skip):
    problem, q = skip
    assert _scores(problem, q, q.answer, prefill=f"{q.start} = ")[0] is True
    assert _scores(problem, q, f"{q.answer}'", prefill=f"{q.start} = '")[0] is True


def test_a_wrong_reply_ended_by_the_budget_is_cut_off(skip):
    problem, q = skip
    for reason in ("length", "max_tokens"):
        s = score_query(problem, q, f"Let me follow {q.start} to", finish_reason=reason)
        assert (s.kind, s.correct) == ("cut_off", False)
    assert score_query(problem, q, "Let me follow", finish_reason="stop").kind == "no_answer"


def test_a_right_reply_ended_by_the_budget_is_still_correct(skip):
    problem, q = skip
    assert score_query(problem, q, q.answer, finish_reason="length").kind == "correct"


def test_summaries_lead_with_strict_and_state_exact_and_lenient_beside_it():
    rows = [
        {"status": "ok", "kind": "correct", "correct": True, "strict": True, "lenient": True},
        {"status": "ok", "kind": "correct", "correct": True, "strict": False, "lenient": True},
        {"status": "ok", "kind": "other_chain", "correct": False, "strict": False, "lenient": True},
        {"status": "ok", "kind": "cut_off", "correct": False, "strict": False, "lenient": False},
    ]
    out = summarize(rows)
    assert (out["accuracy"], out["accuracy_exact"], out["accuracy_lenient"]) == (0.25, 0.5, 0.75)
    assert (out["n_strict"], out["n_correct"], out["n_lenient"], out["n_strict_from_exact"]) == (1, 2, 3, 0)
    assert out["kinds"]["cut_off"] == 1
    assert out["accuracy_ci95"][0] < 0.25 < out["accuracy_ci95"][1]
    assert out["accuracy_exact_ci95"][0] < 0.5 < out["accuracy_exact_ci95"][1]


def test_records_written_before_strict_existed_count_with_their_exact_score():
    old = [  # no strict/lenient keys: hashhop before 0.2
        {"status": "ok", "kind": "correct", "correct": True},
        {"status": "ok", "kind": "hallucinated", "correct": False},
        {"status": "error", "kind": "error", "correct": False},
    ]
    new = {"status": "ok", "kind": "correct", "correct": True, "strict": False, "lenient": True}
    out = summarize([*old, new])
    assert (out["n_strict"], out["n_correct"], out["n_lenient"]) == (1, 2, 2)
    assert out["n_strict_from_exact"] == 2 and out["accuracy"] == pytest.approx(1 / 3)
