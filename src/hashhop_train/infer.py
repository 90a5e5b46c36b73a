"""Answering queries over a long context, in bounded memory and linear time (sparse model).

`Reader(model, context_text)` segments the context and computes its retrieval keys chunk by
chunk (each chunk carries the few segments before it that the local mixer needs), keeping only
the keys (float16) and the segment ids (int16): O(n) memory, about 200 bytes per segment.
A retrieval step scans the keys in chunks with a running top-k and attends to the top-k only.
The dense architecture computes everything in one piece (quadratic): the baseline to compare.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .segments import segment_ids, segment_text

KEY_CHUNK = 1 << 16  # segments per chunk when computing keys
SCAN_CHUNK = 1 << 18  # keys per chunk when scoring


def _text_pieces(text: str, size: int = 1 << 23):
    """Pieces of about `size` characters, cut at whitespace so no segment is split."""
    start = 0
    while start < len(text):
        stop = min(len(text), start + size)
        while stop < len(text) and not text[stop].isspace():
            stop += 1
        yield text[start:stop]
        start = stop


def scan_top_k(keys: torch.Tensor, q: torch.Tensor, k: int, factor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, key_dim) keys, (m, key_dim) queries -> running top-k (scores, positions), each (m, min(k, n))."""
    best_s = torch.full((q.shape[0], 0), float("-inf"))
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
    for s in range(0, len(keys), SCAN_CHUNK):
        scores = (q @ keys[s : s + SCAN_CHUNK].float().T) * factor
        top = scores.topk(min(k, scores.shape[1]), dim=1)
        merged_s = torch.cat([best_s, top.values], 1)
        merged_i = torch.cat([best_i, top.indices + s], 1)
        keep = merged_s.topk(min(k, merged_s.shape[1]), dim=1).indices
        best_s, best_i = merged_s.gather(1, keep), merged_i.gather(1, keep)
    return best_s, best_i


class Reader:
    def __init__(self, model, context: str, length_scale: bool = True):
        self.model, self.cfg = model, model.cfg
        self.ids = np.concatenate(
            [segment_ids(p, self.cfg.max_seg_len).astype(np.int16) for p in _text_pieces(context)]
            or [np.zeros((0, self.cfg.max_seg_len), np.int16)]
        )
        self.n = len(self.ids)
        # Sharper pointers on longer contexts (log-length scaling), so the soft read of a skip
        # step stays as peaked as at training length.
        self.scale = max(1.0, math.log(max(self.n, 2)) / math.log(self.cfg.train_len_segments)) if length_scale else 1.0
        with torch.no_grad():
            self.keys = self._dense_keys() if model.dense else self._chunked_keys()

    def _embed_rows(self, rows: np.ndarray, both: bool = False):
        """Content embeddings of segment rows; with both, (segment, content) embeddings batched for keys()."""
        ids = torch.from_numpy(rows.astype(np.int64))
        if both:
            return self.model.embed(ids)[None], self.model.content(ids)[None]
        return self.model.content(ids)

    def _chunked_keys(self) -> torch.Tensor:
        overlap = (self.cfg.layers + 1) * (self.cfg.window - 1)  # the mixer's and the key selection's reach
        out = torch.empty((self.n, self.cfg.key_dim), dtype=torch.float16)
        for s in range(0, self.n, KEY_CHUNK):
            lo, e = max(0, s - overlap), min(self.n, s + KEY_CHUNK)
            k = self.model.keys(*self._embed_rows(self.ids[lo:e], both=True))[0]
            out[s:e] = k[s - lo :].to(torch.float16)
        return out

    def _dense_keys(self) -> torch.Tensor:
        return self.model.keys(*self._embed_rows(self.ids, both=True))[0]

    def top_k(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> top-k (scores, positions), each (m, k), scanning keys in chunks."""
        factor = self.model.logit_scale.exp() / math.sqrt(q.shape[-1]) * self.scale
        return scan_top_k(self.keys, q, k, factor)

    def _step(self, q: torch.Tensor):
        """One retrieval step: (pointed position, read vector) per query."""
        if self.model.dense:  # full softmax over every key
            factor = self.model.logit_scale.exp() / math.sqrt(q.shape[-1]) * self.scale
            p = ((q @ self.keys.T) * factor).softmax(-1)
            read = p @ self._embed_rows(self.ids)
            return p.argmax(-1), read
        scores, idx = self.top_k(q, self.cfg.top_k)
        p = scores.softmax(-1)
        rows = self._embed_rows(self.ids[idx.flatten().numpy()]).view(*idx.shape, -1)
        return idx.gather(1, p.argmax(-1, keepdim=True))[:, 0], torch.einsum("mk,mkd->md", p, rows)

    def texts_at(self, positions: list[int]) -> list[str]:
        """The characters of each pointed segment: (m,) positions -> m strings."""
        return [segment_text(self.ids[j].astype(np.int64)) for j in positions]

    @torch.no_grad()
    def answer(self, starts: list[str], hops: int, cot: bool) -> list[list[str]]:
        """For each start hash: the hashes written (cot: one per hop; skip: the final one)."""
        return answer_queries(self, starts, hops, cot)


def answer_queries(reader, starts: list[str], hops: int, cot: bool) -> list[list[str]]:
    """The answer loop of every reader (this one, and ShardedReader): `reader` gives `n`, `model`,
    `cfg`, `_step(q) -> (positions, reads)` and `texts_at(positions)`."""
    if reader.n == 0:
        return [[] for _ in starts]
    cfg, model = reader.cfg, reader.model
    q_ids = np.stack([segment_ids(s, cfg.max_seg_len)[0] for s in starts])
    q = model.query(model.content(torch.from_numpy(q_ids)))
    written: list[list[str]] = [[] for _ in starts]
    for t in range(hops):
        pos, read = reader._step(q)
        if cot or t == hops - 1:
            for i, text in enumerate(reader.texts_at(pos.tolist())):
                written[i].append(text)
        if cot:  # the model reads back the characters it just wrote
            out_ids = np.stack([segment_ids(w[-1], cfg.max_seg_len)[0] for w in written])
            q = model.query(model.content(torch.from_numpy(out_ids)))
        else:  # skip steps: the read itself is the next query, nothing is written
            q = model.query(read)
    return written


def render_answer(hashes: list[str], cot: bool) -> str:
    """The completion text: `H2 = H3 = ...` with chain of thought, else the final hash."""
    return " = ".join(hashes) if cot else (hashes[-1] if hashes else "")
