"""Link order (Spec.order, layout.ChainOrder): forward and backward chains on the shuffled layout's slots."""

import dataclasses

import numpy as np
import pytest

from hashhop.core.errors import SpecError
from hashhop.generator.build import make_sample, problem_of
from hashhop.generator.layout import Placement
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec
from hashhop.generator.verify import verify_sample

SPECS = [
    Spec(size=4000, hops=3, queries=3),
    Spec(size=4000, hop_mix=(1, 3, 4), queries=3, depth=0.5, distractors=1),
    Spec(size=3000, hops=4, queries=2, format="magic", cot=True, mid_chain=True, query_hops=2),
]


def _problem(spec: Spec, order: str) -> Problem:
    return problem_of(make_sample(spec.replace(order=order), with_prompt=False))


def _chain_positions(problem: Problem) -> list[list[int]]:
    """Prompt positions of every chain's lines, link by link, read off the rendered layout."""
    lines = problem.placement.lines_at(np.arange(problem.n_lines))
    where = {int(line): p for p, line in enumerate(lines.tolist())}
    return [
        [where[x] for x in range(problem.chains.lines_before(c), problem.chains.lines_before(c + 1))]
        for c in range(problem.shape.n_chains)
    ]


@pytest.mark.parametrize("spec", SPECS)
def test_forward_and_backward_order_every_chain_on_the_shuffled_slots(spec):
    shuffled, forward, backward = (_problem(spec, o) for o in ("shuffled", "forward", "backward"))
    for before, up, down in zip(*(_chain_positions(p) for p in (shuffled, forward, backward))):
        assert up == sorted(before)
        assert down == sorted(before, reverse=True)
    everywhere = np.arange(shuffled.n_lines)
    before, after = shuffled.placement.lines_at(everywhere), forward.placement.lines_at(everywhere)
    not_chain = before >= shuffled.n_chain_lines  # decoys and filler stay where they were
    assert (after[not_chain] == before[not_chain]).all()


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_random_access_inverts_rendering_in_every_order(order):
    problem = _problem(SPECS[1], order)
    lines = problem.placement.lines_at(np.arange(problem.n_lines))
    assert sorted(lines.tolist()) == list(range(problem.n_lines))
    assert [problem.placement.position_of(int(x)) for x in lines] == list(range(problem.n_lines))
    assert problem.render(5, 9) == problem.prompt().encode()[len(problem.render(0, 5)) :][: len(problem.render(5, 9))]


def test_query_positions_follow_the_order():
    forward, backward = (make_sample(SPECS[0].replace(order=o)) for o in ("forward", "backward"))
    assert all(list(q.positions) == sorted(q.positions) for q in forward.queries)
    assert all(list(q.positions) == sorted(q.positions, reverse=True) for q in backward.queries)


def test_vectorised_positions_match_one_at_a_time_with_pins():
    placement = Placement(500, b"k" * 16, pinned_lines=[3, 4, 200, 499], pinned_positions=[10, 400, 11, 0])
    lines = np.arange(500)
    assert placement.positions_of(lines).tolist() == [placement.position_of(x) for x in range(500)]


@pytest.mark.parametrize(
    "spec",
    [*SPECS, Spec(size=3000, hops=2, queries=2, tokenizer="tiktoken:cl100k_base")],
)
@pytest.mark.parametrize("order", ["forward", "backward"])
def test_ordered_samples_verify_and_keep_their_size(spec, order):
    sample = make_sample(spec.replace(order=order))
    assert verify_sample(sample).ok
    assert verify_sample(dataclasses.replace(sample, prompt=None)).ok  # rebuilt from the recipe


def test_verify_reports_links_out_of_the_declared_order():
    sample = make_sample(SPECS[0].replace(order="forward"))
    claimed = dataclasses.replace(sample, spec=sample.spec.replace(order="backward"))
    verdict = verify_sample(claimed)
    assert any("not in backward order" in p for p in verdict.problems)


def test_shuffled_is_absent_from_the_spec_dict_and_other_orders_are_written():
    assert "order" not in Spec().to_dict()
    assert Spec(order="forward").to_dict()["order"] == "forward"
    assert Spec.from_dict(Spec(order="backward").to_dict()).order == "backward"


def test_every_order_has_its_own_sample_id_even_when_the_bytes_coincide():
    samples = [make_sample(Spec(size=2000, hops=1, order=o)) for o in ("shuffled", "forward", "backward")]
    assert len({s.prompt_sha256 for s in samples}) == 1  # one-link chains: every order is the same prompt
    assert len({s.id for s in samples}) == 3


def test_an_unknown_order_is_refused_with_the_choices():
    with pytest.raises(SpecError, match="unknown order 'reversed': use shuffled, forward, backward"):
        Spec(order="reversed")
