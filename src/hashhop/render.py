"""Rendering prompt lines to bytes, vectorised: positions -> line indices -> hashes -> text."""

from __future__ import annotations

import numpy as np

_EQ = np.frombuffer(b" = ", dtype=np.uint8)
_QUOTE, _NL = ord("'"), ord("\n")


def line_hashes(problem, lines: np.ndarray):
    """(key symbols (n, L), value hash indices (n,), is_terminal (n,)) for line indices."""
    n = len(lines)
    key_idx = np.zeros(n, dtype=np.int64)
    val_idx = np.zeros(n, dtype=np.int64)
    last = np.ones(n, dtype=bool)
    is_chain = lines < problem.n_chain_lines
    is_decoy = (~is_chain) & (lines < problem.n_chain_lines + problem.n_decoys)
    is_fill = ~(is_chain | is_decoy)
    _, _, key_idx[is_chain], last[is_chain] = problem.chains.locate(lines[is_chain])
    val_idx[is_chain] = key_idx[is_chain] + 1
    decoy = lines[is_decoy] - problem.n_chain_lines
    val_idx[is_decoy] = problem.decoy_base + decoy
    fill = lines[is_fill] - problem.n_chain_lines - problem.n_decoys
    key_idx[is_fill] = problem.fill_pair(fill)
    val_idx[is_fill] = key_idx[is_fill] + 1
    plain_keys = ~is_decoy
    digits = problem.hashes.digits(np.concatenate([key_idx[plain_keys], val_idx]))
    key_digits = np.empty((n, problem.hashes.length), dtype=np.uint8)
    key_digits[plain_keys] = digits[: int(plain_keys.sum())]
    if is_decoy.any():
        key_digits[is_decoy] = problem.decoy_digits[decoy]
    return key_digits, digits[int(plain_keys.sum()):], last


def render_lines(problem, start: int, stop: int) -> bytes:
    """Bytes of prompt lines [start, stop): `KEY = VALUE\\n`, quoted terminal values in magic format."""
    if stop <= start:
        return b""
    lines = problem.placement.lines_at(np.arange(start, stop, dtype=np.int64))
    key_digits, val_digits, last = line_hashes(problem, lines)
    table, length = problem.hashes.table, problem.hashes.length
    quoted = problem.spec.format == "magic"
    width = 2 * length + (6 if quoted else 4)
    rows = np.empty((len(lines), width), dtype=np.uint8)
    rows[:, :length] = table[key_digits]
    rows[:, length:length + 3] = _EQ
    v0 = length + 3 + (1 if quoted else 0)
    rows[:, v0:v0 + length] = table[val_digits]
    rows[:, -1] = _NL
    if quoted:
        rows[:, length + 3] = _QUOTE
        rows[:, v0 + length] = _QUOTE
        keep = np.ones_like(rows, dtype=bool)
        keep[~last, length + 3] = False
        keep[~last, v0 + length] = False
        out = rows[keep].tobytes()
    else:
        out = rows.tobytes()
    return out[:-1] if stop == problem.n_lines else out
