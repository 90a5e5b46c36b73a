"""The question reader: what the model learns from the end of its input.

It reads the last `tail` segments of the prompt (the question sits at the end in every HashHop
layout, with some context lines before it) with a few full-attention blocks over their
character-composed embeddings, plus one learned summary slot, and decides:
- `start`: which tail segment is the hash to start from (a pointer over the tail);
- `steps`: how many retrieval steps to take, a distribution over 1..max_steps (its median is
  where the model halts: skip steps run that many steps inside, chain of thought stops writing);
- `mode`: write every hash (chain of thought) or only the last (skip steps);
- `quote`: whether the answer closes a quote the prompt opened (Magic's completion layout).
Nothing here parses text: the same weights read every phrasing, layout and line form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig


@dataclass(frozen=True)
class QuestionLogits:
    start: torch.Tensor  # (B, T) over tail positions, -inf at pads
    steps: torch.Tensor  # (B, max_steps): index s means s + 1 steps
    mode: torch.Tensor  # (B, 2): 0 skip steps, 1 chain of thought
    quote: torch.Tensor  # (B, 2): 1 closes a quote


@dataclass(frozen=True)
class Reading:
    """What the model decided about one question (argmax / median of its own logits)."""

    start: int  # tail position of the start hash
    steps: int
    cot: bool
    quote: bool


class QuestionReader(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.tail = cfg.tail
        self.pos = nn.Parameter(torch.randn(cfg.tail + 1, cfg.dim) * 0.02)  # by distance from the end
        self.summary = nn.Parameter(torch.zeros(cfg.dim))
        layer = nn.TransformerEncoderLayer(
            cfg.dim, cfg.heads, cfg.mlp_ratio * cfg.dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.reader_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.start = nn.Linear(cfg.dim, 1)
        self.steps = nn.Linear(cfg.dim, cfg.max_steps)
        self.mode = nn.Linear(cfg.dim, 2)
        self.quote = nn.Linear(cfg.dim, 2)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> QuestionLogits:
        """x (B, T, dim) embeddings of the tail, left-padded; pad (B, T) bool."""
        b = x.shape[0]
        h = torch.cat([x, self.summary.expand(b, 1, -1)], 1) + self.pos  # (B, T + 1, dim)
        mask = torch.cat([pad, torch.zeros((b, 1), dtype=torch.bool, device=pad.device)], 1)
        h = self.norm(self.blocks(h, src_key_padding_mask=mask))
        start = self.start(h[:, :-1]).squeeze(-1).masked_fill(pad, float("-inf"))
        s = h[:, -1]
        return QuestionLogits(start, self.steps(s), self.mode(s), self.quote(s))


def tail_rows(ids: torch.Tensor, tail: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `tail` segment rows (n, L) -> left-padded (tail, L) rows and (tail,) pad flags."""
    last = ids[-tail:]
    rows = torch.zeros((tail, ids.shape[1]), dtype=ids.dtype)
    pad = torch.ones(tail, dtype=torch.bool)
    if len(last):
        rows[-len(last) :], pad[-len(last) :] = last, False
    return rows, pad


def decide(logits: QuestionLogits) -> list[Reading]:
    """The model's own choices: argmax pointer and modes, the median of the step distribution."""
    cdf = logits.steps.softmax(-1).cumsum(-1)
    steps = (cdf < 0.5).sum(-1) + 1
    starts, cots, quotes = logits.start.argmax(-1), logits.mode.argmax(-1), logits.quote.argmax(-1)
    return [
        Reading(int(s), int(n), bool(c), bool(q))
        for s, n, c, q in zip(starts.tolist(), steps.tolist(), cots.tolist(), quotes.tolist(), strict=True)
    ]
