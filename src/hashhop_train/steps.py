"""A retrieval step over any reader's view, and the loop that follows a chain with it.

Every reader (infer.Reader, batch.PrefixGroup, questions.Asked over a sharded file) offers the
same view (`RetrievalView`): `candidates(q)`, the best keys for each query (the top-k, or every
key for the dense architecture), best first; and `rows(idx)`, the segments at positions. The step
itself is here once: fetch the rows ending at each candidate (what its key was made of), re-rank
the best keys by their characters (model.rerank), point at the best, read softly what the next
skip step asks with, and hand back the pointed segment, which chain of thought writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .segments import segment_ids, segment_text


class RetrievalView(Protocol):
    """What a reader offers the retrieval loop over m prompts (query j asks prompt j)."""

    model: torch.nn.Module
    n: int  # segments of the longest prompt

    def candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> (scores, positions), each (m, c), best first."""
        ...

    def rows(self, idx: torch.Tensor) -> np.ndarray:
        """(m, …) positions, row j in prompt j -> (m, …, L) int64 ids."""
        ...


def window_positions(idx: torch.Tensor, span: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(…) positions -> ((…, span) the positions of the rows ending at each, clamped at 0; (…)
    how many of them exist (the context starts before the others))."""
    pos = idx[..., None] - torch.arange(span - 1, -1, -1)
    return pos.clamp(min=0), (idx + 1).clamp(max=span)


@torch.no_grad()
def window_chars(model, windows: torch.Tensor, have: torch.Tensor) -> torch.Tensor:
    """(N, W, L) rows ending at each candidate, W = model.rerank_span (the reach of its key's
    selection), of which the last `have` (N,) exist -> (N, L, r) its key segment's characters, as
    training computes them over the whole context (model.candidate_chars). Windows are grouped by
    `have`, so one near the context's start is read as the start is."""
    n, span, L = windows.shape
    w = model.cfg.window
    out = torch.zeros(n, L, model.cfg.rerank_dim)
    for h in have.unique().tolist():
        sel = have == h
        rows = windows[sel][:, span - h :]  # (s, h, L)
        hidden = model.embed(rows)
        for block in model.blocks:
            hidden = block(hidden, model.dense)
        a = model.selection(hidden)[:, -1]  # (s, w + 1)
        last = F.pad(rows, (0, 0, max(0, w - h), 0))[:, -w:]  # (s, w, L), pads before the start
        out[sel] = model.key_chars(last, a)
    return out


def retrieval_step(view: RetrievalView, q: torch.Tensor, qr: torch.Tensor | None):
    """(m, key_dim) queries and their characters qr (m, L, r), or None without re-ranking ->
    (pointed positions (m,), reads (m, key_dim), character reads (m, L, r) or None, the pointed
    segments' ids (m, L))."""
    model: Any = view.model
    scores, idx = view.candidates(q)  # (m, c): c = model.candidates_k, or every key (dense), best first
    k = min(model.candidates_k, idx.shape[1])
    rows = None
    if qr is not None:
        pos, have = window_positions(idx[:, :k], model.rerank_span)
        windows = view.rows(pos)  # (m, k, W, L) the rows ending at each candidate; have (m, k) of them exist
        kr = window_chars(model, torch.from_numpy(windows).flatten(0, 1), have.flatten())
        bonus = model.rerank(qr, kr.view(*idx[:, :k].shape, *kr.shape[1:]))  # (m, k)
        scores = torch.cat([scores[:, :k] + bonus, scores[:, k:]], 1)
        rows = windows[:, :, -1] if k == idx.shape[1] else None
    rows = torch.from_numpy(view.rows(idx) if rows is None else rows)  # (m, c, L)
    p = scores.softmax(-1)
    read = torch.einsum("mc,mcd->md", p, model.content(rows))
    read_r = torch.einsum("mc,mclr->mlr", p, model.chars(rows)) if qr is not None else None
    best = p.argmax(-1)  # (m,)
    pointed = rows[torch.arange(len(best)), best].numpy()  # (m, L)
    return idx.gather(1, best[:, None])[:, 0], read, read_r, pointed


def follow(
    view_of: Callable[[list[int]], RetrievalView], start_rows: np.ndarray, steps: list[int], cots: list[bool]
) -> list[list[str]]:
    """The retrieval loop of every reader from (m, L) start segments, query j taking steps[j] steps
    in mode cots[j]: chain of thought writes each pointed segment and reads it back as the next
    query; skip steps feed each step's soft read back in and write only the last. All queries go
    in lockstep, so step t scans the keys once for every query still going. `view_of(indices)` is
    the retrieval view of those queries' prompts."""
    m = len(start_rows)
    everyone = view_of(list(range(m)))
    model = everyone.model
    if everyone.n == 0:
        return [[] for _ in range(m)]
    ids = torch.from_numpy(start_rows.astype(np.int64))
    q = model.query(model.content(ids))  # (m, key_dim)
    qr = model.chars(ids) if model.reranks else None  # (m, L, r)
    written: list[list[str]] = [[] for _ in range(m)]
    for t in range(max(steps, default=0)):
        active = [j for j in range(m) if steps[j] > t]
        _, read, read_r, pointed = retrieval_step(view_of(active), q[active], None if qr is None else qr[active])
        for i, j in enumerate(active):
            if cots[j] or t == steps[j] - 1:  # chain of thought writes every step, skip steps the last
                written[j].append(segment_text(pointed[i]))
        q, qr = q.clone(), None if qr is None else qr.clone()
        for i, j in enumerate(active):
            if cots[j]:  # the model reads back the characters it just wrote
                back = torch.from_numpy(segment_ids(written[j][-1], model.cfg.max_seg_len).astype(np.int64))
                q[j] = model.query(model.content(back))[0]
                if qr is not None:
                    qr[j] = model.chars(back)[0]
            else:  # skip steps: the read itself is the next query, nothing is written
                q[j] = model.query(read[i : i + 1])[0]
                if qr is not None:
                    qr[j] = read_r[i]
    return written
