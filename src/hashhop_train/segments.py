"""What the model reads: text cut into whitespace-separated segments of character codes.

Cutting at whitespace is a tokenizer (byte models cut patches at spaces the same way); it
knows nothing about hashes, `=` or lines. Each segment becomes a row of ids
`pos * 256 + byte + 1` (0 pads), which the model embeds and sums: a learned character
composition, with no vocabulary and no per-sample table.
"""

from __future__ import annotations

import numpy as np

_WHITESPACE = np.array([9, 10, 11, 12, 13, 32], dtype=np.uint8)


def segment_ids(text: str | bytes, max_len: int) -> np.ndarray:
    """(n_segments, max_len) int64 ids of the whitespace-separated segments of `text`."""
    data = np.frombuffer(text.encode("utf-8") if isinstance(text, str) else text, dtype=np.uint8)
    if data.size == 0:
        return np.zeros((0, max_len), dtype=np.int64)
    is_char = ~np.isin(data, _WHITESPACE)
    starts = is_char & ~np.concatenate([[False], is_char[:-1]])
    seg = np.cumsum(starts) - 1  # segment of every byte (valid where is_char)
    start_at = np.flatnonzero(starts)
    where = np.flatnonzero(is_char)
    pos = where - start_at[seg[where]]
    keep = pos < max_len  # characters past max_len are cut
    ids = np.zeros((len(start_at), max_len), dtype=np.int64)
    w = where[keep]
    ids[seg[w], pos[keep]] = pos[keep] * 256 + data[w].astype(np.int64) + 1
    return ids


def segment_text(ids_row: np.ndarray) -> str:
    """The characters of one segment, back from its ids (the model's output copy)."""
    row = ids_row[ids_row > 0]
    return bytes(((row - 1) % 256).astype(np.uint8).tolist()).decode("utf-8", errors="replace")


def line_value_segment(line: int) -> int:
    """Segment index of the value in prompt line `line` of a plain-format context.

    Training labels only (a plain line is `KEY = VALUE`: three segments); the model never calls it.
    """
    return 3 * line + 2
