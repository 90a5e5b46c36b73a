"""Rendering prompt lines to bytes, vectorised: positions -> line indices -> hashes -> text.

Each batch is built as one (lines, width) array of symbol numbers (hash symbols, then the codes of
' ', '=', quote and newline appended to the alphabet) and turned into bytes with one table lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from hashhop.generator.hashes import Digits
from hashhop.generator.layout import I64Array

if TYPE_CHECKING:  # problem.py imports this module lazily, to render
    from hashhop.generator.problem import Problem

BoolArray = NDArray[np.bool_]


def _line_kinds(problem: Problem, lines: I64Array) -> tuple[BoolArray, BoolArray, BoolArray]:
    is_chain = lines < problem.n_chain_lines
    is_decoy = (~is_chain) & (lines < problem.n_chain_lines + problem.n_decoys)
    return is_chain, is_decoy, ~(is_chain | is_decoy)


def fill_rows(problem: Problem, lines: I64Array, rows: Digits, key_col: int, value_col: int) -> BoolArray:
    """Write key and value symbols of each line into `rows`; return which lines end a chain."""
    n, length = len(lines), problem.hashes.length
    key_idx = np.zeros(n, dtype=np.int64)
    last = np.ones(n, dtype=bool)
    is_chain, is_decoy, is_fill = _line_kinds(problem, lines)
    if is_chain.all():  # the common case: no masks needed
        _, _, key_idx, last = problem.chains.locate(lines)
    else:
        _, _, key_idx[is_chain], last[is_chain] = problem.chains.locate(lines[is_chain])
        fill = lines[is_fill] - problem.n_chain_lines - problem.n_decoys
        key_idx[is_fill] = problem.fill_pair(fill)
    val_idx = key_idx + 1
    if is_decoy.any():
        decoy = lines[is_decoy] - problem.n_chain_lines
        val_idx[is_decoy] = problem.decoy_base + decoy
        plain = ~is_decoy
        rows[plain, key_col : key_col + length] = problem.hashes.digits(key_idx[plain])
        rows[is_decoy, key_col : key_col + length] = problem.decoy_digits[decoy]
    else:
        problem.hashes.digits(key_idx, out=rows[:, key_col : key_col + length])
    problem.hashes.digits(val_idx, out=rows[:, value_col : value_col + length])
    return last


def render_lines(problem: Problem, start: int, stop: int) -> bytes:
    """Bytes of prompt lines [start, stop): `KEY = VALUE\n`, quoted terminal values in magic format."""
    if stop <= start:
        return b""
    hashes = problem.hashes
    table = np.concatenate([hashes.table, np.frombuffer(b" ='\n", dtype=np.uint8)])
    space, equals, quote, newline = (hashes.base + i for i in range(4))
    length, quoted = hashes.length, problem.spec.format == "magic"
    width = 2 * length + (6 if quoted else 4)
    lines = problem.placement.lines_at(np.arange(start, stop, dtype=np.int64))
    rows = np.empty((len(lines), width), dtype=np.uint8)
    value_col = length + 3 + (1 if quoted else 0)
    last = fill_rows(problem, lines, rows, 0, value_col)
    rows[:, length], rows[:, length + 1], rows[:, length + 2] = space, equals, space
    rows[:, -1] = newline
    if quoted:
        rows[:, length + 3] = quote
        rows[:, value_col + length] = quote
        keep = np.ones(rows.shape, dtype=bool)
        keep[~last, length + 3] = False
        keep[~last, value_col + length] = False
        out = table[rows[keep]].tobytes()
    else:
        out = table[rows].tobytes()
    return out[:-1] if stop == problem.n_lines else out
