"""Questions asked over a sharded context: the prompt a model reads is the file, then the question.

The file's last segment is read again together with each question (a question may continue it:
a newline run, a word), so every prompt is segmented exactly as the single-process Reader
segments `file + question`. Every rank holds every question's few segments and their keys; the
file's other segments are shared by all questions and sharded over the ranks. A retrieval step
scans the shared keys once for all questions (one collective), each question's own segments for
its own query, and merges the lists as one scan would (batch.py does the same in one process).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .infer import merge_top_k, scan_top_k
from .keystore import QuantKeys
from .question import tail_rows
from .segments import segment_ids


@dataclass(frozen=True)
class Question:
    """One question's own segments: (r, L) ids, their stored keys, the question reader's tail, and
    the prompt's length in segments with its length scale."""

    rows: np.ndarray
    keys: torch.Tensor | QuantKeys
    tail: tuple[torch.Tensor, torch.Tensor]
    n: int
    scale: float

    @property
    def over_long(self) -> bool:
        return bool(len(self.rows) and (self.rows[:, -1] != 0).any())


def read_question(reader, text: str) -> Question:
    """Segment the file's last segment + `text`, key it with the window before it."""
    cfg = reader.cfg
    rows = segment_ids(reader.last_bytes + text.encode("utf-8"), cfg.max_seg_len)  # (r, L)
    window = reader.before_last[max(0, len(reader.before_last) - reader.overlap) :]  # (<= overlap, L)
    with torch.no_grad():
        keys = reader.keys_of(np.concatenate([window, rows]), len(window), len(window) + len(rows))
    both = torch.from_numpy(np.concatenate([reader.before_last, rows]))
    n = reader.n_shared + len(rows)
    return Question(rows, keys, tail_rows(both, cfg.tail), n, reader.length_scale_of(n))


class Asked:
    """The retrieval view `follow` needs over a sharded file and questions (query j asks question j)."""

    def __init__(self, reader, questions: list[str] | list[Question]):
        self.reader, self.model, self.cfg = reader, reader.model, reader.cfg
        self.questions = [q if isinstance(q, Question) else read_question(reader, q) for q in questions]
        self.n = max((q.n for q in self.questions), default=0)

    def subset(self, which: list[int]) -> Asked:
        return Asked(self.reader, [self.questions[j] for j in which])

    def tails(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [q.tail for q in self.questions]

    @property
    def over_long(self) -> bool:
        """Whether a segment of a prompt may have been cut (the file's, on any rank, or a question's)."""
        return self.reader.context_over_long or any(q.over_long for q in self.questions)

    def candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> top-k (scores, positions), each (m, k); the same on every rank."""
        k, shared = self.model.candidates_k, self.reader.n_shared
        base = self.model.logit_scale.exp() / q.shape[-1] ** 0.5
        factor = base * torch.tensor([qu.scale for qu in self.questions])[:, None]  # (m, 1)
        s, i = self.reader.shared_top_k(q, k, factor)  # (m, <= k) over the ranks
        best_s, best_i = [], []
        for j, qu in enumerate(self.questions):
            own_s, own_i = scan_top_k([qu.keys], q[j : j + 1], k, factor[j])
            ms, mi = merge_top_k(torch.cat([s[j : j + 1], own_s], 1), torch.cat([i[j : j + 1], own_i + shared], 1), k)
            best_s.append(ms)
            best_i.append(mi)
        return torch.cat(best_s), torch.cat(best_i)

    def rows(self, idx: torch.Tensor) -> np.ndarray:
        """(m, …) positions, row j in question j's prompt -> (m, …, L) int64 ids, the same on every
        rank: each rank fills the shared segments it owns, rank 0 the questions' own segments, and
        one sum over the ranks assembles them (every position has one owner)."""
        rows, _ = self.reader.owned_rows(idx)
        if self.reader.rank == 0:
            for j, qu in enumerate(self.questions):
                at = idx[j].numpy()
                mine = at >= self.reader.n_shared
                rows[j][mine] = qu.rows[at[mine] - self.reader.n_shared]
        return self.reader.sum(torch.from_numpy(rows), "segment rows").numpy()
