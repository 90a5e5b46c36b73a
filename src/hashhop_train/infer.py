"""Answering a prompt over a long context, in bounded memory and linear time (sparse model).

`Reader(model, text)` segments the whole prompt (the model's tokenizer, segments.py) and computes
its retrieval keys chunk by chunk (each chunk carries the few segments before it that the local
mixer needs), keeping only the keys (float16) and the segment ids (int16): O(n) memory. A
second prompt that shares a prefix with a first one (the same context, another question) reuses
the first's keys up to that prefix, as llama.cpp's `cache_prompt` reuses a prefix (`reuse=`).
A retrieval step (steps.py) scans the keys in chunks with a running top-k, re-ranks the top-k by
their characters and attends to them only.
The dense architecture computes everything in one piece (quadratic): the baseline to compare.

Readers do not keep the text: the cache that finds a shared prefix holds its prompts.

`answer(reader)` is the whole generation: the question reader reads the prompt's last segments
and decides start, step count, mode and layout; the retrieval steps run; the pointed segments'
characters are written out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .keystore import key_nbytes, store_keys
from .keystore import scores as key_scores
from .question import Reading, decide, tail_rows
from .segments import boundary, count_segments, segment_ids
from .steps import follow

KEY_CHUNK = 1 << 16  # segments per chunk when computing keys
SCAN_CHUNK = 1 << 14  # keys per chunk when scoring (their float copy stays in cache)
_COMPARE_BLOCK = 1 << 20  # characters compared at a time when looking for a shared prefix
_LAYOUT = frozenset("\t\n\v\f\r")  # runs of these are segments of their own (segments.py)


def text_pieces(text: str, size: int = 1 << 23, start: int = 0):
    """Pieces of about `size` characters from `start`, cut at whitespace so no segment is split."""
    while start < len(text):
        stop = min(len(text), start + size)
        while stop < len(text) and not (text[stop].isspace() and text[stop - 1] not in _LAYOUT):
            stop += 1  # a cut before whitespace that does not continue a layout run splits no segment
        yield text[start:stop]
        start = stop


def shared_prefix(a: str, b: str) -> int:
    """Characters at the start of `a` and `b` that are equal (block compares, then a bisection)."""
    n, i = min(len(a), len(b)), 0
    while i < n and a[i : i + _COMPARE_BLOCK] == b[i : i + _COMPARE_BLOCK]:
        i += _COMPARE_BLOCK
    lo, hi = i, min(n, i + _COMPARE_BLOCK)  # equal before lo; a mismatch (or the end) before hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def scan_top_k(blocks: list[torch.Tensor], q: torch.Tensor, k: int, factor) -> tuple[torch.Tensor, torch.Tensor]:
    """Key blocks (n_b, key_dim) in order, (m, key_dim) queries -> running top-k (scores, positions
    over the blocks' concatenation), each (m, min(k, n))."""
    best_s = torch.full((q.shape[0], 0), float("-inf"))
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
    base = 0
    for keys in blocks:
        for s in range(0, len(keys), SCAN_CHUNK):
            scores = key_scores(q, keys[s : s + SCAN_CHUNK]) * factor
            top = scores.topk(min(k, scores.shape[1]), dim=1)
            # merged as merge_top_k does (ties by lower position), so blocks cut anywhere agree
            best_s, best_i = merge_top_k(
                torch.cat([best_s, top.values], 1), torch.cat([best_i, top.indices + base + s], 1), k
            )
        base += len(keys)
    return best_s, best_i


def merge_top_k(scores: torch.Tensor, positions: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, c) candidates -> (m, k) best by score, ties by lower position (as a single scan keeps them)."""
    by_pos = positions.argsort(dim=1, stable=True)
    s, i = scores.gather(1, by_pos), positions.gather(1, by_pos)
    by_score = (-s).argsort(dim=1, stable=True)[:, :k]
    return s.gather(1, by_score), i.gather(1, by_score)


class Reader:
    """One prompt read: its segment ids (int16) and keys (float16) in blocks of KEY_CHUNK segments.

    Blocks are shared, not copied, with the reader whose prefix this one reuses (views of them)."""

    def __init__(
        self, model, text: str, length_scale: bool = True, reuse: Reader | None = None, shared: int = 0, key_bits=16
    ):
        """Read `text`; `reuse` is a reader of another text whose first `shared` characters equal
        this one's (the cache finds it): the segments wholly inside them are not computed again.
        `key_bits` 16, 8 or 4: how the keys are stored (keystore.py)."""
        self.model, self.cfg, self.n_chars, self.key_bits = model, model.cfg, len(text), key_bits
        cut, kept = self._reusable(text, reuse, shared)
        # The reader whose blocks this one's first `kept` segments are (views of), for batching.
        self.origin: Reader = reuse.origin if reuse is not None and kept else self
        self.kept = min(kept, reuse.kept) if reuse is not None and kept else 0
        self.id_blocks: list[np.ndarray] = reuse._head_ids(kept) if reuse is not None and kept else []
        self.key_blocks: list[torch.Tensor] = reuse._head_keys(kept) if reuse is not None and kept else []
        # (character offset, segment index) where each piece starts: counting a prefix starts there.
        head_marks = [m for m in reuse.marks if m[0] < cut] if reuse is not None and kept else []
        self.marks = [*head_marks, (cut if kept else 0, kept)]
        pieces = []
        for piece in text_pieces(text, start=cut):
            pieces.append(segment_ids(piece, self.cfg.max_seg_len).astype(np.int16))
            self.marks.append((self.marks[-1][0] + len(piece), kept + sum(len(p) for p in pieces)))
        new_ids = np.concatenate(pieces) if pieces else np.zeros((0, self.cfg.max_seg_len), np.int16)
        self.n = kept + len(new_ids)
        # Sharper pointers on longer contexts (log-length scaling), so the soft read of a skip
        # step stays as peaked as at training length.
        self.scale = max(1.0, math.log(max(self.n, 2)) / math.log(self.cfg.train_len_segments)) if length_scale else 1.0
        with torch.no_grad():
            if model.dense:
                self.id_blocks, self.key_blocks = [new_ids], [self._keys_of(new_ids, 0, len(new_ids))]
            else:
                self._append(new_ids)
        self.offsets = np.cumsum([0, *(len(b) for b in self.id_blocks)])
        if self.origin is self:
            self.kept = self.n

    def _reusable(self, text: str, reuse: Reader | None, shared: int) -> tuple[int, int]:
        """(characters, segments) at the start of `text` whose ids and keys `reuse` already holds:
        the segments wholly inside the shared prefix (keys are local: a key depends on its own
        segment and the few before it only)."""
        if reuse is None or self.model.dense or reuse.model is not self.model or shared <= 0:
            return 0, 0
        if reuse.key_bits != self.key_bits:  # its keys are stored another way
            return 0, 0
        if shared == len(text) == reuse.n_chars:
            return shared, reuse.n
        cut = min(shared, len(text), reuse.n_chars) - 1  # text[cut] is shared too: a boundary there is one in both
        while cut > 0 and not boundary(text, cut):
            cut -= 1
        char, seg = max(m for m in reuse.marks if m[0] <= cut)  # count from the last mark before it
        return cut, seg + count_segments(text[char:cut])

    def _head_ids(self, kept: int) -> list[np.ndarray]:
        return [b[: max(0, kept - o)] for b, o in zip(self.id_blocks, self.offsets, strict=False) if o < kept]

    def _head_keys(self, kept: int) -> list[torch.Tensor]:
        return [b[: max(0, kept - o)] for b, o in zip(self.key_blocks, self.offsets, strict=False) if o < kept]

    def _append(self, new_ids: np.ndarray) -> None:
        """Blocks of keys for `new_ids`, each computed with the segments before it the window needs."""
        overlap = (self.cfg.layers + 1) * (self.cfg.window - 1)  # the mixer's and the key selection's reach
        before = self.rows_between(max(0, self.n - len(new_ids) - overlap), self.n - len(new_ids))
        rows = np.concatenate([before, new_ids])  # (b + new, L)
        for s in range(len(before), len(rows), KEY_CHUNK):
            e = min(len(rows), s + KEY_CHUNK)
            self.id_blocks.append(rows[s:e])
            self.key_blocks.append(self._keys_of(rows, s, e))

    def _keys_of(self, rows: np.ndarray, s: int, e: int) -> torch.Tensor:
        """(e - s, key_dim) stored keys of rows[s:e], read with the window before s."""
        return store_keys(window_keys(self.model, rows, s, e), self.key_bits)

    def rows_between(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, L) ids of segments [lo, hi) across blocks."""
        out = _between(self.id_blocks, lo, hi)
        return np.concatenate(out) if out else np.zeros((0, self.cfg.max_seg_len), np.int16)

    def keys_between(self, lo: int, hi: int) -> list[torch.Tensor]:
        """Views of the key blocks covering segments [lo, hi)."""
        return _between(self.key_blocks, lo, hi)

    def rows_at(self, positions: np.ndarray) -> np.ndarray:
        """(m,) positions -> (m, L) ids of those segments."""
        block = np.searchsorted(self.offsets, positions, side="right") - 1
        out = np.empty((len(positions), self.cfg.max_seg_len), np.int16)
        for b in np.unique(block):
            at = block == b
            out[at] = self.id_blocks[b][positions[at] - self.offsets[b]]
        return out

    @property
    def over_long(self) -> bool:
        """Whether a segment fills every embedded position: it may have been cut, so a copy of it
        could be a silent prefix. Segments up to max_seg_len - 1 characters are read whole."""
        return any(bool((b[:, -1] != 0).any()) for b in self.id_blocks)

    @property
    def nbytes(self) -> int:
        """What this reader holds in memory: ids, keys and the prompt text (for the cache bound)."""
        keys = sum(key_nbytes(b) for b in self.key_blocks)
        return sum(b.nbytes for b in self.id_blocks) + keys + self.n_chars

    def tail(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The question reader's input: the last `tail` segment rows (T, L) and pad flags (T,)."""
        last = self.rows_between(max(0, self.n - self.cfg.tail), self.n)
        return tail_rows(torch.from_numpy(last.astype(np.int64)), self.cfg.tail)

    def candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> (scores, positions), each (m, c), best first: the top-k; every
        key for the dense architecture (its read is a softmax over all of them)."""
        factor = self.model.logit_scale.exp() / math.sqrt(q.shape[-1]) * self.scale
        if not self.model.dense:
            return scan_top_k(self.key_blocks, q, self.model.candidates_k, factor)
        return (key_scores(q, self.key_blocks[0]) * factor).sort(dim=1, descending=True, stable=True)

    def rows(self, idx: torch.Tensor) -> np.ndarray:
        """(…) positions -> (…, L) int64 ids."""
        return self.rows_at(idx.flatten().numpy()).astype(np.int64).reshape(*idx.shape, -1)


def window_keys(model, rows: np.ndarray, s: int, e: int) -> torch.Tensor:
    """(e - s, key_dim) float keys of rows[s:e], read with the (layers + 1) * (window - 1) rows before s."""
    lo = max(0, s - (model.cfg.layers + 1) * (model.cfg.window - 1))
    return model.segment_keys(torch.from_numpy(rows[lo:e].astype(np.int64)))[s - lo :]  # (e - s, key_dim)


def _between(blocks: list, lo: int, hi: int) -> list:
    out, o = [], 0
    for b in blocks:
        if o < hi and o + len(b) > lo:
            out.append(b[max(0, lo - o) : hi - o])
        o += len(b)
    return out


def refuse_over_long(reader) -> None:
    """Raise OverLength when a segment of the prompt may have been cut: its copy would be a silent
    prefix of a longer hash (every reader: this one, ShardedReader)."""
    if reader.over_long:
        from hashhop.core.errors import OverLength

        limit = reader.cfg.max_seg_len - 1
        raise OverLength(
            f"the prompt holds a segment (a hash) longer than the model's {limit} characters: "
            f"it would copy a cut hash; use hashes of at most {limit} characters"
        )


@dataclass(frozen=True)
class Answer:
    text: str  # the completion the model writes
    hashes: tuple[str, ...]  # what it copied, one per written step
    reading: Reading  # what it decided from the question


@torch.no_grad()
def answer(reader) -> Answer:
    """Read the question at the end of the prompt, follow the chain, write the answer."""
    tail_ids, tail_pad = reader.tail()
    reading = decide(reader.model.read_question(tail_ids[None], tail_pad[None]))[0]
    start_row = tail_ids[reading.start].numpy()[None]  # (1, L): the segment the reader pointed at
    hashes = follow(lambda _: reader, start_row, [reading.steps], [reading.cot])[0]
    return Answer(render_answer(hashes, reading), tuple(hashes), reading)


def render_answer(hashes: list[str], reading: Reading) -> str:
    """The completion text: `H2 = H3 = ...` with chain of thought, else the final hash; then the
    closing quote when the prompt opened one (Magic's layout)."""
    text = " = ".join(hashes) if reading.cot else (hashes[-1] if hashes else "")
    return text + ("'" if reading.quote else "")
