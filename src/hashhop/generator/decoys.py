"""Hard distractors: decoy keys that share a long prefix or suffix with a queried hash.

A model that matches only part of a hash is caught by them. Every decoy is checked against the
problem's hash injection (by inverting it), so a decoy never equals a real hash, and against the
other decoys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hashhop.core.errors import SpecError
from hashhop.generator.hashes import Digits
from hashhop.generator.keyed import derive_key, mix64, subkeys

if TYPE_CHECKING:  # problem.py imports this module lazily, when a problem asks for decoys
    from hashhop.generator.problem import Problem

MAX_TRIES = 10_000


def changed_symbols(length: int) -> int:
    """How many symbols a decoy changes: 2 for hashes of 8 or more symbols, else 1."""
    return 2 if length >= 8 else 1


def make_decoys(problem: Problem, targets: list[str], per_target: int) -> Digits:
    hashes = problem.hashes
    length, base = hashes.length, hashes.base
    d = changed_symbols(length)
    (salt,) = subkeys(derive_key(problem.key.hex(), "decoys"), "salt", 1)
    out = np.empty((len(targets) * per_target, length), dtype=np.uint8)
    seen: set[bytes] = set(hashes.encode(t).tobytes() for t in targets)
    counter = 0
    # Named, not inline: numpy's stubs type `array + np.arange(...)` as float64 (the sum is uint64).
    offsets = np.arange(d, dtype=np.uint64)
    for row, (target, t) in enumerate((h, t) for h in targets for t in range(per_target)):
        original = hashes.encode(target)
        cols = np.arange(length - d, length) if t % 2 == 0 else np.arange(d)  # keep prefix / keep suffix
        for _ in range(MAX_TRIES):
            counter += 1
            z = mix64(np.array([salt ^ counter] * d, dtype=np.uint64) + offsets)
            candidate = original.copy()
            candidate[cols] = (z % np.uint64(base)).astype(np.uint8)
            blob = candidate.tobytes()
            if blob in seen:
                continue
            index = hashes.index_of(candidate)
            if index is not None and problem.is_used_hash(index):
                continue
            seen.add(blob)
            out[row] = candidate
            break
        else:
            raise SpecError(
                f"cannot find {per_target} distinct decoys for {target!r}: "
                "use longer hashes, a larger alphabet or fewer --distractors"
            )
    return out
