"""The model's tokenizer: text cut into segments of character codes, by one fixed rule.

Rule: a segment is a maximal run of characters of one class: *word* (ASCII letters, digits, `_`,
any non-ASCII byte), *punctuation* (every other printable ASCII character) or *layout* (tab,
newline, vertical tab, form feed, carriage return); spaces only separate. So `A=B` is `A`, `=`,
`B`; `A -> 'B'` is `A`, `->`, `'`, `B`, `'`; `A<tab>B<newline>` is `A`, tab, `B`, newline;
`link(s).` is `link`, `(`, `s`, `).`. Byte-level models cut patches the same way (GPT-2's
pre-tokenizer splits letters from punctuation, and newlines and tabs are tokens of every LLM
vocabulary). Layout segments keep a tab-separated line readable: without them `A<tab>B<newline>C`
would be three segments with nothing to say which one starts a line. The rule knows nothing about
hashes, `=`, lines or questions: what a segment means, the model learns.

Each segment becomes a row of ids `pos * 256 + byte + 1` (0 pads), which the model embeds and
sums: a learned character composition, with no vocabulary. Characters past `max_len` are cut;
`longest_segment` tells a caller that this happened, so it can refuse instead of copying a prefix.
"""

from __future__ import annotations

import numpy as np

SPACE, WORD, PUNCT, LAYOUT = 0, 1, 2, 3
_CLASS = np.full(256, PUNCT, dtype=np.uint8)
_CLASS[32] = SPACE
_CLASS[[9, 10, 11, 12, 13]] = LAYOUT
_CLASS[[*range(48, 58), *range(65, 91), *range(97, 123), 95]] = WORD
_CLASS[128:] = WORD  # UTF-8 sequences stay whole


def _bytes(text: str | bytes) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8") if isinstance(text, str) else text, dtype=np.uint8)


def _cut(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class of every byte, bool: a segment starts at this byte)."""
    cls = _CLASS[data]
    prev = np.concatenate([[SPACE], cls[:-1]]).astype(np.uint8)
    return cls, (cls != SPACE) & (cls != prev)


def segment_starts(text: str | bytes) -> np.ndarray:
    """Byte offset of the first character of every segment (training labels and prefix reuse)."""
    return np.flatnonzero(_cut(_bytes(text))[1])


def count_segments(text: str | bytes) -> int:
    """How many segments the model reads: its own token count."""
    return int(_cut(_bytes(text))[1].sum())


def segment_pieces(text: str | bytes) -> list[str]:
    """The text of every segment, in order: the model's tokens as a tokenize endpoint lists them."""
    data = _bytes(text)
    cls, starts = _cut(data)
    nxt = np.concatenate([cls[1:], [SPACE]]).astype(np.uint8)
    ends = np.flatnonzero((cls != SPACE) & (nxt != cls)) + 1  # a segment ends where its class does
    raw = data.tobytes()
    return [raw[s:e].decode("utf-8", errors="replace") for s, e in zip(np.flatnonzero(starts), ends, strict=True)]


def segment_ids(text: str | bytes, max_len: int) -> np.ndarray:
    """(n_segments, max_len) int64 ids of the segments of `text`."""
    return segment_rows(text, max_len)[0]


def segment_rows(text: str | bytes, max_len: int, dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    """((n_segments, max_len) ids of `dtype`, (n_segments,) byte offset where each segment starts).
    Ids are below 2^14 (33 positions x 256 bytes), so int16 holds them."""
    data = _bytes(text)
    if data.size == 0:
        return np.zeros((0, max_len), dtype=dtype), np.zeros(0, dtype=np.int64)
    cls, starts = _cut(data)
    seg = np.cumsum(starts) - 1  # segment of every byte (valid where a character)
    start_at = np.flatnonzero(starts)
    where = np.flatnonzero(cls != SPACE)
    pos = where - start_at[seg[where]]
    keep = pos < max_len  # characters past max_len are cut
    ids = np.zeros((len(start_at), max_len), dtype=dtype)
    w = where[keep]
    ids[seg[w], pos[keep]] = pos[keep] * 256 + data[w].astype(np.int64) + 1
    return ids, start_at


def longest_segment(text: str | bytes) -> int:
    """Characters (bytes) of the longest segment: over `max_len`, the model would see a cut copy."""
    data = _bytes(text)
    cls, starts = _cut(data)
    if not starts.any():
        return 0
    seg = np.cumsum(starts)[cls != SPACE] - 1
    return int(np.bincount(seg).max())


def _class_of(ch: str) -> int:
    return int(_CLASS[ord(ch)]) if ord(ch) < 128 else WORD


def boundary(text: str, i: int) -> bool:
    """Whether no segment spans characters i-1 and i (a place to cut `text` without changing its segments)."""
    before, at = _class_of(text[i - 1]), _class_of(text[i])
    return at == SPACE or before != at


def segment_text(ids_row: np.ndarray) -> str:
    """The characters of one segment, back from its ids (the model's output copy)."""
    row = ids_row[ids_row > 0]
    return bytes(((row - 1) % 256).astype(np.uint8).tolist()).decode("utf-8", errors="replace")


def is_word(ids_row: np.ndarray) -> bool:
    """Whether a segment is of the word class (training labels only)."""
    return bool(_CLASS[int((ids_row[0] - 1) % 256)] == WORD) if ids_row[0] > 0 else False
