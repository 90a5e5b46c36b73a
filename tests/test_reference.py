"""The drop-in MultiHopEval: same fields and meaning as Magic's reference generator."""

import json
import math
import re
from pathlib import Path

import pytest

from hashhop import MultiHopEval, MultiHopSample

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "magic-samples.jsonl"


def reference_checks(prompt: str, completion: str, targets: dict, hops: int, num_queries: int):
    """The reference's own test, as described in shared/reference/magic-format.md."""
    table = {}
    for line in prompt.split("\n"):
        if " = " in line:
            key, value = line.split(" = ")
            assert key not in table, f"duplicate key {key}"
            table[key] = value.strip("'")
    found = 0
    for head, answer in targets.items():
        node, steps = head, 0
        while node in table:
            node = table[node]
            steps += 1
        assert steps == hops
        final = answer.split(" = ")[-1]
        assert node == final
        if f"{head} = '{answer}'" in completion:
            found += 1
    assert found == num_queries


@pytest.mark.parametrize("hops,cot,length", [(1, False, 16), (2, True, 16), (3, False, 8), (4, True, 3)])
def test_make_one_passes_the_reference_checks(hops, cot, length):
    for seed in range(5):
        s = MultiHopEval.make_one(3000, 3, hops, length, cot, seed=seed)
        assert isinstance(s, MultiHopSample)
        reference_checks(s.prompt, s.completion, s.targets, hops, 3)


def test_make_one_has_the_reference_layout():
    s = MultiHopEval.make_one(2000, 3, 2, 16, True, seed=7)
    n_chains = math.ceil(2000 / ((2 * 16 + 3) * 2))
    lines = s.prompt.split("\n")
    assert len(lines) == n_chains * 2 and not s.prompt.endswith("\n")
    assert all(re.fullmatch(r"[a-zA-Z]{16} = '?[a-zA-Z]{16}'?", line) for line in lines)
    assert len(s.targets) == n_chains
    assert s.completion.startswith("COMPLETION:\nHops=2\n\nCoT=True\n\n") and s.completion.endswith("\n")
    assert len(s.completion.strip().split("\n")) == 5 + 3  # header lines, then one line per query


def test_three_char_hashes_never_collide_in_20_samples():
    for seed in range(20):
        s = MultiHopEval.make_one(2000, 5, 3, 3, False, seed=seed)
        reference_checks(s.prompt, s.completion, s.targets, 3, 5)


def test_seeded_samples_repeat_and_unseeded_follow_python_random():
    import random

    a = MultiHopEval.make_one(1000, 2, 2, 8, False, seed=3)
    assert a == MultiHopEval.make_one(1000, 2, 2, 8, False, seed=3)
    random.seed(11)
    b = MultiHopEval.make_one(1000, 2, 2, 8, False)
    random.seed(11)
    assert b == MultiHopEval.make_one(1000, 2, 2, 8, False)


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/reference beside the checkout (CI has it)")
def test_the_published_reference_samples_pass_the_same_checks_and_match_our_layout():
    rows = [json.loads(line) for line in SHARED.read_text().splitlines() if line.strip()]
    assert len(rows) == 5
    for row in rows:
        p = row["params"]
        reference_checks(row["prompt"], row["completion"], row["targets"], p["hops"], p["num_queries"])
        ours = MultiHopEval.make_one(
            p["n_chars_problem"], p["num_queries"], p["hops"], p["hash_pair_str_length"], p["chain_of_thought"], seed=0
        )
        assert len(ours.prompt.split("\n")) == len(row["prompt"].split("\n"))
        assert ours.completion.split("\n")[:4] == row["completion"].split("\n")[:4]
        assert len(ours.targets) == len(row["targets"])
