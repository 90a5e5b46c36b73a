"""Problems: random access rendering, chains, queries, depth, mixed hops, decoys."""

import pytest

from hashhop.generator.build import build
from hashhop.generator.layout import Shape
from hashhop.generator.lines import parse_pairs, walk
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec


def _lines(problem):
    return problem.prompt().split("\n")


def test_any_line_range_renders_the_same_bytes_as_the_whole_prompt():
    problem = Problem(Spec(hops=3, queries=2, format="magic"), 0, Shape(300, 2))
    lines = _lines(problem)
    assert len(lines) == problem.n_lines
    for start, stop in [(0, 1), (5, 17), (100, 300), (problem.n_lines - 3, problem.n_lines)]:
        text = problem.render(start, stop).decode()
        assert text.rstrip("\n").split("\n") == lines[start:stop]


def test_chunks_cut_at_line_boundaries_and_join_to_the_prompt():
    problem = Problem(Spec(hops=2), 0, Shape(5000, 1))
    chunks = list(problem.chunks(batch=777))
    assert all(c.endswith("\n") for c in chunks[:-1]) and not chunks[-1].endswith("\n")
    assert "".join(chunks) == problem.prompt()
    assert len(problem.prompt()) == problem.n_chars


@pytest.mark.parametrize("fmt", ["plain", "magic"])
def test_every_chain_has_exactly_hops_links_and_queries_walk_to_their_targets(fmt):
    problem, _ = build(Spec(size=20_000, hops=4, queries=6, format=fmt, cot=True))
    table, faults = parse_pairs(_lines(problem))
    assert faults == []
    for q in problem.queries:
        assert tuple(walk(table, q.start, 10)) == q.path  # the chain ends exactly at the target
        assert q.target == " = ".join(q.path[1:])


def test_magic_format_quotes_only_the_last_link_of_each_chain():
    problem = Problem(Spec(hops=3, format="magic", filler=False), 0, Shape(50, 0))
    lines = _lines(problem)
    quoted = [line for line in lines if line.endswith("'")]
    assert len(quoted) == 50
    table = {line.split(" = ")[0]: line.split(" = ")[1] for line in lines}
    for line in quoted:
        assert line.split(" = ")[1].strip("'") not in table  # a quoted value ends its chain


def test_queries_are_chosen_at_random_not_the_first_chains():
    chains = {Problem(Spec(queries=3, seed=s), 0, Shape(1000)).chain_number(0) for s in range(20)}
    assert len(chains) > 15


def test_query_positions_point_at_their_links():
    problem, _ = build(Spec(size=30_000, hops=3, queries=3))
    lines = _lines(problem)
    for q in problem.queries:
        for k, pos in enumerate(q.positions):
            assert lines[pos] == f"{q.path[k]} = {q.path[k + 1]}"


@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 1.0])
def test_depth_control_places_the_queried_chain_in_its_window(depth):
    spec = Spec(size=100_000, hops=3, queries=2, depth=depth, depth_window=0.1)
    problem, _ = build(spec)
    lines = _lines(problem)
    for q in problem.queries:
        for pos in q.positions:  # inside the window (shifted inward at the edges)
            assert abs(pos / (problem.n_lines - 1) - depth) <= 0.1 + 1e-9
        assert abs(q.depth - depth) <= 0.1
        for k, pos in enumerate(q.positions):
            assert lines[pos] == f"{q.path[k]} = {q.path[k + 1]}"
    table, faults = parse_pairs(lines)
    assert faults == [] and len(lines) == problem.n_lines


def test_without_depth_control_query_depths_spread_over_the_context():
    depths = [build(Spec(size=20_000, seed=s))[0].queries[0].depth for s in range(30)]
    assert min(depths) < 0.25 and max(depths) > 0.75


def test_mixed_hop_counts_and_mid_chain_queries():
    spec = Spec(size=30_000, hops=4, hop_mix=(1, 2, 4), queries=9, query_hops=1, mid_chain=True)
    problem, _ = build(spec)
    table, faults = parse_pairs(_lines(problem))
    assert faults == []
    assert {len(q.chain) - 1 for q in problem.queries} <= {1, 2, 4}
    assert any(q.offset > 0 for q in problem.queries)
    for q in problem.queries:
        assert q.hops == 1 and table[q.start] == q.answer


def test_decoys_share_a_long_prefix_or_suffix_but_are_not_problem_hashes():
    spec = Spec(size=10_000, hops=2, queries=2, distractors=2)
    problem, _ = build(spec)
    table, faults = parse_pairs(_lines(problem))
    assert faults == []
    decoys = [problem.hashes.table[d].tobytes().decode() for d in problem.decoy_digits]
    assert len(decoys) == 2 * 2 * 2
    real = {h for q in problem.queries for h in q.path[:-1]}
    for d in decoys:
        assert d in table and d not in real
        assert any(d[:14] == r[:14] or d[2:] == r[2:] for r in real)
        assert problem.locate_hash(d).role == "decoy_key"
    for q in problem.queries:  # chains still resolve to the right target
        assert tuple(walk(table, q.start, 2)) == q.path


def test_locate_hash_finds_every_line_of_the_prompt():
    problem, _ = build(Spec(size=5_000, hops=3, queries=2, distractors=1))
    for pos, line in enumerate(_lines(problem)):
        key, value = line.split(" = ")
        assert problem.locate_hash(key).key_line == pos
        assert problem.locate_hash(value.strip("'")).value_line == pos
    assert problem.locate_hash("Z" * 16) is None or problem.locate_hash("Z" * 16).role


def test_three_character_hashes_give_correct_chains_in_20_of_20_samples():
    # The reference generator merges duplicate keys here and corrupts all 20 samples.
    for seed in range(20):
        problem, _ = build(Spec(size=3_000, hops=3, queries=5, hash_len=3, seed=seed, format="magic"))
        lines = _lines(problem)
        table, faults = parse_pairs(lines)
        assert faults == [], seed
        all_hashes = [h for line in lines for h in line.replace("'", "").split(" = ")]
        heads = set(table) - set(table.values())
        assert len(set(all_hashes)) == len(lines) + len(heads)  # every hash distinct
        for q in problem.queries:
            assert tuple(walk(table, q.start, 9)) == q.path


def test_samples_differ_by_index_and_seed_but_repeat_exactly():
    a = build(Spec(size=2000, seed=1), 0)[0].prompt()
    assert a == build(Spec(size=2000, seed=1), 0)[0].prompt()
    assert a != build(Spec(size=2000, seed=1), 1)[0].prompt()
    assert a != build(Spec(size=2000, seed=2), 0)[0].prompt()
