"""Property tests over the spec space: every generated sample is well formed."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.generator.build import build, make_sample
from hashhop.generator.lines import parse_pairs, walk
from hashhop.generator.spec import Spec
from hashhop.generator.verify import verify_sample


@st.composite
def specs(draw):
    hops = draw(st.integers(1, 5))
    alphabet = draw(st.sampled_from(["letters", "hex", "base32", "digits", "dna"]))
    hash_len = draw(st.integers(6 if alphabet in ("dna", "digits") else 4, 20))
    queries = draw(st.integers(1, 4))
    mix = draw(st.sampled_from([(), (1, hops), (hops, 1, 2)]))
    depth = draw(st.none() | st.floats(0, 1))
    return Spec(
        size=draw(st.integers(1500, 12000)),
        hops=hops,
        queries=queries,
        hash_len=hash_len,
        alphabet=alphabet,
        cot=draw(st.booleans()),
        format=draw(st.sampled_from(["plain", "magic"])),
        seed=draw(st.integers(0, 2**32)),
        hop_mix=mix,
        query_hops=draw(st.none() | st.integers(1, min(mix or (hops,)))),
        mid_chain=draw(st.booleans()),
        depth=depth,
        distractors=draw(st.integers(0, 2)),
    )


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_every_sample_verifies(spec):
    assert verify_sample(make_sample(spec)).ok


@settings(max_examples=40, deadline=None, derandomize=True)
@given(specs())
def test_no_hash_repeats_and_queries_resolve(spec):
    problem, measured = build(spec)
    lines = problem.prompt().split("\n")
    table, faults = parse_pairs(lines)
    assert faults == []
    for q in problem.queries:
        assert tuple(walk(table, q.start, q.hops)) == q.path
    assert measured == problem.n_chars == len("\n".join(lines))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(specs())
def test_generation_is_deterministic(spec):
    a, b = make_sample(spec), make_sample(spec)
    assert a.prompt == b.prompt and a.id == b.id
