"""The scoring hot path's scalar shortcuts give exactly what the vectorised code gives.

`problem_of` + `score_query` run once per sample and once per answered query, so their lookups
are pure Python on single values (numpy's per-call overhead dominated them) and `locate_hash`
remembers its answers. Each shortcut is checked here against the vectorised path it replaces,
or against the rendered prompt itself; no test here is timed.
"""

import dataclasses
import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashhop.evaluate.score as score_module
import hashhop.generator.problem as problem_module
from hashhop.evaluate.parse import extract_answer_full
from hashhop.evaluate.score import score_query
from hashhop.generator.alphabets import ALPHABETS
from hashhop.generator.build import build, make_sample, problem_of
from hashhop.generator.hashes import SMALL, HashSpace
from hashhop.generator.keyed import KeyedPermutation, _inverse_mod_pow2, derive_key
from hashhop.generator.layout import Placement, Shape, chain_index
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec


def test_the_newton_inverse_is_the_modular_inverse_at_every_width():
    rng = random.Random(0)
    for bits in range(2, 65):
        for m in [1, (1 << bits) - 1] + [rng.getrandbits(bits) | 1 for _ in range(50)]:
            assert _inverse_mod_pow2(m, bits) == pow(m, -1, 1 << bits)


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 52**11, 2**63 + 12345, 2**64])
def test_forward_ints_and_inverse_int_match_the_vectorised_permutation(n):
    perm = KeyedPermutation(n, derive_key("scalar", n))
    xs = sorted({min(x, n - 1) for x in [0, 1, 2, n // 3, n // 2, n - 1] + [random.Random(n).randrange(n)]})
    forward = perm.forward(np.array(xs, dtype=np.uint64)).tolist()
    assert perm.forward_ints(xs) == forward
    assert [perm.inverse_int(y) for y in forward] == xs
    assert perm.inverse(np.array(forward, dtype=np.uint64)).tolist() == xs
    if n < 2**64:
        for bad in ([n], [-1]):
            with pytest.raises(ValueError):
                perm.forward_ints(bad)


SPACES = [(name, length) for name in sorted(ALPHABETS) for length in (1, 3, 8, 12, 16, 17, 24)] + [
    ("custom:abc123", 9),
    ("custom:ab-:!", 5),
]


@pytest.mark.parametrize("alphabet,length", SPACES)
def test_small_batches_of_strings_match_the_vectorised_digits(alphabet, length):
    space = HashSpace(alphabet, length, derive_key(alphabet, length))
    rng = random.Random(length)
    indices = [0, 1, space.capacity - 1] + [rng.randrange(space.capacity) for _ in range(SMALL - 3)]
    vectorised = [space.table[row].tobytes().decode() for row in space.digits(indices)]
    assert space.strings(indices) == vectorised  # SMALL indices: the pure-Python path
    assert space.strings(indices * 3) == vectorised * 3  # more: numpy
    for index, s in zip(indices, vectorised):
        assert space.is_hash_shaped(s)
        assert space.index_of_str(s) == space.index_of(space.encode(s)) == index


def test_index_of_str_rejects_a_string_whose_tail_does_not_match_its_prefix():
    space = HashSpace("letters", 16, derive_key("tail"))
    s = space.strings([42])[0]
    wrong_tail = s[:-1] + ("a" if s[-1] != "a" else "b")
    assert space.index_of_str(wrong_tail) is None
    assert not space.is_hash_shaped(s[:-1]) and not space.is_hash_shaped(s[:-1] + "!")


@pytest.mark.parametrize("pins", [0, 1, 7])
def test_position_of_inverts_lines_at(pins):
    n = 300
    rng = random.Random(pins)
    pinned_lines = rng.sample(range(n), pins)
    pinned_positions = rng.sample(range(n), pins)
    placement = Placement(n, derive_key("placement", pins), pinned_lines, pinned_positions)
    lines = placement.lines_at(np.arange(n))
    assert sorted(lines.tolist()) == list(range(n))
    assert [placement.position_of(int(line)) for line in lines] == list(range(n))
    assert placement.positions_of(lines).tolist() == list(range(n))


@pytest.mark.parametrize("hops", [(1,), (3,), (1, 2, 4), (5, 1)])
def test_chain_index_scalar_methods_match_the_vectorised_ones(hops):
    chains = chain_index(hops)
    assert chain_index(hops) is chains  # shared: immutable
    lines = np.arange(chains.lines_before(40))
    chain, link, key, _ = chains.locate(lines)
    for c, k, h in zip(chain.tolist(), link.tolist(), key.tolist()):
        assert chains.locate_hash_index(h) == (c, k)
        assert chains.hops_of(c) == int(chains.chain_hops(c))
        assert chains.hashes_before(c) + k == h
        assert chains.lines_before(c) == int(chains.hops[np.arange(c) % chains.period].sum())


@pytest.mark.parametrize("variant", [0, 1, 0o7, 0o70, 0o12345670, 8**12 - 1])
def test_the_scalar_fill_choice_is_the_vectorised_one(variant):
    problem = Problem(Spec(size=4000), 0, Shape(20, 40, variant))
    fill = np.arange(40)
    assert [problem._fill_choice_of(f) for f in fill.tolist()] == problem.fill_choice(fill).tolist()
    assert problem._fill_choice_of(10**9) == 0


PROBLEMS = [  # (spec, shape or None to size it): depth pins, decoys, mixed hops, magic, fill variants
    (Spec(size=2000, hops=1, queries=10), None),
    (Spec(size=20_000, hops=3, queries=3, depth=0.5, distractors=2, seed=5), None),
    (
        Spec(
            size=6000,
            hops=4,
            hop_mix=(1, 2, 4),
            queries=4,
            query_hops=1,
            mid_chain=True,
            alphabet="hex",
            hash_len=12,
            format="magic",
            seed=11,
        ),
        None,
    ),
    (Spec(size=4000, hops=2, queries=2, hash_len=5, alphabet="dna", depth=0.0), None),
    (Spec(size=4000, hops=2, queries=3, distractors=1, seed=2), Shape(40, 30, 0o7654321)),
]


def _problem(spec, shape):
    return build(spec, 0)[0] if shape is None else Problem(spec, 0, shape)


@pytest.mark.parametrize("spec,shape", PROBLEMS)
def test_locate_hash_agrees_with_the_rendered_prompt(spec, shape):
    problem = _problem(spec, shape)
    where: dict[str, list] = {}
    for pos, line in enumerate(problem.prompt().split("\n")):
        key, value = line.split(" = ")
        where.setdefault(key, [None, None])[0] = pos
        where.setdefault(value.strip("'"), [None, None])[1] = pos
    for h, (key_line, value_line) in where.items():
        loc = problem.locate_hash(h)
        assert (loc.key_line, loc.value_line) == (key_line, value_line), h
    for q in problem.queries:
        for link, h in enumerate(q.chain):
            loc = problem.locate_hash(h)
            assert (loc.role, loc.chain, loc.link) == ("chain", problem.chain_number(q.index), link)
    rng = random.Random(1)
    for _ in range(300):  # strangers: never located unless the prompt holds them
        s = "".join(rng.choice(problem.hashes.symbols) for _ in range(spec.hash_len))
        assert (problem.locate_hash(s) is None) == (s not in where)
    for s in ["", "!" * spec.hash_len, next(iter(where)) + problem.hashes.symbols[0]]:
        assert problem.locate_hash(s) is None


def test_locate_hash_memory_is_bounded_and_never_changes_an_answer(monkeypatch):
    monkeypatch.setattr(problem_module, "LOCATE_MEMO", 8)
    spec = Spec(size=4000, hops=2, queries=2, distractors=1)
    problem = build(spec, 0)[0]
    probes = [h for line in problem.prompt().split("\n") for h in line.split(" = ")][:40] + ["x" * 16]
    first = [problem.locate_hash(s) for s in probes]
    assert len(problem._located) == 8
    assert [problem.locate_hash(s) for s in probes] == first  # remembered or recomputed: the same
    fresh = build(spec, 0)[0]
    assert [fresh._locate(s) for s in probes] == first


@pytest.mark.parametrize(
    "spec",
    [
        Spec(size=2000, hops=1, queries=10),
        Spec(size=5000, hops=2, queries=3, distractors=2),
        Spec(size=5000, hops=4, hop_mix=(1, 4), queries=3, query_hops=2, mid_chain=True),
    ],
)
def test_a_problem_rebuilt_for_scoring_draws_no_query_hashes_yet_knows_its_queries(spec):
    sample = make_sample(spec, 1, with_prompt=False)
    problem = problem_of(sample)
    assert "_bare_queries" not in problem.__dict__  # n_decoys came from hop counts alone
    assert problem.n_decoys == spec.distractors * sum(q.hops for q in sample.queries)
    assert problem.queries == sample.queries  # and built from the spec alone, they are the sample's


SCORED = [
    Spec(size=2000, hops=1, queries=4),
    Spec(size=3000, hops=3, queries=2, cot=True, distractors=1),
    Spec(size=3000, hops=2, queries=2, hash_len=6, seed=3),
    Spec(size=3000, hops=2, queries=2, alphabet="hex", hash_len=8, format="magic", cot=True),
]
SAMPLES = [make_sample(spec, 0) for spec in SCORED]


@st.composite
def scored_texts(draw):
    sample = draw(st.sampled_from(SAMPLES))
    q = draw(st.sampled_from(sample.queries))
    lines = sample.prompt.split("\n")
    context = [h.strip("'") for line in draw(st.lists(st.sampled_from(lines), max_size=3)) for h in line.split(" = ")]
    pool = list(q.chain) + [o.answer for o in sample.queries] + context + ["abcdefghijklmnop"[: sample.spec.hash_len]]
    pool += [q.answer[:-1], q.answer[1:] + q.answer[0], q.start[:-2]]
    piece = st.sampled_from(pool) | st.sampled_from([" = ", " = ", "\n", " ", "The answer is ", "'", "answer: "])
    parts = draw(st.lists(piece, min_size=1, max_size=6))
    return sample, q, draw(st.sampled_from(["", " ", "\n"])) + "".join(parts)


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scored_texts())
def test_scores_do_not_depend_on_the_parser_route_or_on_what_a_problem_remembers(case):
    sample, q, text = case
    shared = _shared_problem(sample)
    got = score_query(shared, q, text)  # a problem that has located many strings before
    with mock.patch.object(score_module, "extract_answer", extract_answer_full):
        assert score_query(problem_of(sample), q, text) == got  # full parser, fresh problem
    bare = dataclasses.replace(q, positions=())  # positions located instead of read from the query
    assert score_query(shared, bare, text).answer_position == got.answer_position


_SHARED: dict = {}


def _shared_problem(sample):
    return _SHARED.setdefault(sample.id, problem_of(sample))
