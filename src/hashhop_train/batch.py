"""Answering many prompts that share a context at once: one scan of the shared keys per step.

The prompts of one benchmark cell are one context with different questions. Their Readers come
from one ReaderCache, so their first segments are views of one origin reader's blocks. A
`PrefixGroup` scans those shared keys once for every query of a retrieval step, and each
reader's own few segments (its question) for its own query only, then merges the two top-k lists
exactly as one reader's scan would. `answer_all` gives the same Answers as `answer` per reader.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .infer import Answer, merge_top_k, render_answer, scan_top_k
from .question import decide
from .steps import follow


class PrefixGroup:
    """The retrieval view `follow` needs, over readers sharing one origin's first `shared` segments."""

    def __init__(self, readers):
        origin = readers[0].origin
        if any(r.origin is not origin for r in readers):
            raise ValueError("PrefixGroup needs readers built over one shared prefix (one ReaderCache origin)")
        self.readers, self.origin = readers, origin
        self.model, self.cfg = origin.model, origin.cfg
        self.shared = min(r.kept for r in readers)
        self.n = max(r.n for r in readers)

    def candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries, query j for reader j -> top-k (scores, positions), each (m, k)."""
        k = self.model.candidates_k
        base = self.model.logit_scale.exp() / math.sqrt(q.shape[-1])
        factor = base * torch.tensor([r.scale for r in self.readers])[:, None]  # (m, 1)
        s, i = scan_top_k(self.origin.keys_between(0, self.shared), q, k, factor)  # (m, k)
        best_s, best_i = [], []
        for j, r in enumerate(self.readers):
            own_s, own_i = scan_top_k(r.keys_between(self.shared, r.n), q[j : j + 1], k, factor[j])
            ms, mi = merge_top_k(
                torch.cat([s[j : j + 1], own_s], 1), torch.cat([i[j : j + 1], own_i + self.shared], 1), k
            )
            best_s.append(ms)
            best_i.append(mi)
        return torch.cat(best_s), torch.cat(best_i)

    def rows(self, idx: torch.Tensor) -> np.ndarray:
        """(m, …) positions, row j in reader j's prompt -> (m, …, L) int64 ids."""
        return np.stack([r.rows(idx[j]) for j, r in enumerate(self.readers)])


@torch.no_grad()
def answer_all(readers) -> list[Answer]:
    """Every reader's Answer; every step scans the shared keys once for all readers still going."""
    return answer_views(
        readers[0].model, [r.tail() for r in readers], lambda which: PrefixGroup([readers[j] for j in which])
    )


@torch.no_grad()
def answer_views(model, tails: list, view_of) -> list[Answer]:
    """The Answer of each prompt from its question reader's `tails` (tail ids, pad flags);
    `view_of(indices)` is the retrieval view of those prompts (PrefixGroup, questions.Asked)."""
    tail_ids, tail_pad = torch.stack([t[0] for t in tails]), torch.stack([t[1] for t in tails])
    readings = decide(model.read_question(tail_ids, tail_pad))
    starts = np.stack([tail_ids[j, rd.start].numpy() for j, rd in enumerate(readings)])  # (m, L)
    written = follow(view_of, starts, [rd.steps for rd in readings], [rd.cot for rd in readings])
    return [Answer(render_answer(h, rd), tuple(h), rd) for h, rd in zip(written, readings, strict=True)]
