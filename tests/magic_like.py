"""Reference-format samples made in the tests from the layout of shared/reference/magic-format.md.

`make_one` mimics Magic's `MultiHopEval.make_one`, defects included (no collision check), but seeded,
so short hashes give the corrupted samples a real reference file can hold.
"""

import math
import random
import string


def make_one(n_chars: int, num_queries: int, hops: int, length: int, cot: bool, seed: int) -> dict:
    rng = random.Random(seed)
    n_chains = math.ceil(n_chars / ((2 * length + 3) * hops))
    chains = [["".join(rng.choices(string.ascii_letters, k=length)) for _ in range(hops + 1)] for _ in range(n_chains)]
    lines = []
    for chain in chains:
        for i in range(hops):
            value = f"'{chain[i + 1]}'" if i == hops - 1 else chain[i + 1]
            lines.append(f"{chain[i]} = {value}")
    rng.shuffle(lines)
    targets = {c[0]: (" = ".join(c[1:]) if cot else c[-1]) for c in chains}  # a repeated head merges, as there
    queries = list(targets)[:num_queries]
    completion = f"COMPLETION:\nHops={hops}\n\nCoT={cot}\n\n" + "".join(f"{h} = '{targets[h]}'\n" for h in queries)
    params = {
        "n_chars_problem": n_chars,
        "num_queries": num_queries,
        "hops": hops,
        "hash_pair_str_length": length,
        "chain_of_thought": cot,
    }
    return {"params": params, "prompt": "\n".join(lines), "completion": completion, "targets": targets}
