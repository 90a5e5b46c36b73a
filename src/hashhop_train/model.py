"""The HopModel: character-composed segments, a local mixer, and a pointer retrieval read.

One module, two architectures (`ModelConfig.attention`), the same parameters:
- `sparse`: each mixer position attends to a window of `window` segments (itself and the ones
  before it); at inference the global retrieval scores every key exactly, chunk by chunk, and
  attends only to the top-k (see infer.py). Cost is linear in context length.
- `dense`: the mixer is full causal `scaled_dot_product_attention` over every segment (the
  window's learned relative biases inside it, one learned bias beyond), and retrieval is a full
  softmax over every key. Cost is quadratic.

A retrieval step scores a query vector against the keys of every context segment. Its answer is
a pointer: the segment it points at is copied out character by character. For skip steps the
same step is applied `hops` times: the read (attention-weighted segment embeddings) becomes the
next query, so h hops are h retrieval steps inside the model and nothing is written in between.

Re-ranking (`rerank_dim` > 0): a key is a sum over character positions, so two hashes that differ
in a few symbols (a decoy, or near neighbours among 100K 8-digit hashes) score almost alike. Each
step therefore re-scores its best candidates (top_k in training, rerank_k at inference, steps.py)
position by position: every (position, byte) has a
learned unit vector, a query carries one per position (read softly in skip steps), a candidate's
key segment one per position (weighted by the key's own window selection), and the candidate's
logit gains `scale * (sum over positions of their dot products - positions)`: 0 for a candidate
whose key agrees everywhere, less for every position that differs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .question import QuestionLogits, QuestionReader


class MixerBlock(nn.Module):
    """Pre-norm attention (relative biases by offset) + MLP over the segment sequence."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads, self.window = cfg.heads, cfg.window
        self.norm1, self.norm2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.dim)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.dim, cfg.mlp_ratio * cfg.dim), nn.GELU(), nn.Linear(cfg.mlp_ratio * cfg.dim, cfg.dim)
        )
        # Head h starts out reading offset h % window, so the block begins as a set of shifts
        # (a convolution) and learns content-based weights from there: it trains much faster.
        bias = torch.full((cfg.heads, cfg.window), -2.0)
        bias[torch.arange(cfg.heads), torch.arange(cfg.heads) % cfg.window] = 2.0
        self.rel_bias = nn.Parameter(bias)
        self.far_bias = nn.Parameter(torch.full((cfg.heads,), -4.0))  # dense mode only

    def forward(self, x: torch.Tensor, dense: bool, fast: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed = self._dense(q, k, v) if dense else self._shifted(q, k, v) if fast else self._local(q, k, v)
        x = x + self.out(mixed.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))

    def _local(self, q, k, v):
        """Window attention: W shifted copies of k and v, so memory is O(n * W)."""
        w, n = self.window, q.shape[2]
        kp, vp = (F.pad(t, (0, 0, w - 1, 0)) for t in (k, v))
        ks = torch.stack([kp[:, :, w - 1 - o : w - 1 - o + n] for o in range(w)], dim=3)
        vs = torch.stack([vp[:, :, w - 1 - o : w - 1 - o + n] for o in range(w)], dim=3)
        scores = torch.einsum("bhnd,bhnwd->bhnw", q, ks) / math.sqrt(q.shape[-1])
        before_start = torch.arange(n, device=q.device)[:, None] < torch.arange(w, device=q.device)[None, :]
        scores = (scores + self.rel_bias[None, :, None, :]).masked_fill(before_start, float("-inf"))
        return torch.einsum("bhnw,bhnwd->bhnd", scores.softmax(-1), vs)

    def _shifted(self, q, k, v):
        """_local as W shifted products (no (n, W, d) copies): the readers' kernel, about 40% faster;
        equal to _local up to float rounding. Training keeps _local, so retraining stays bit-exact."""
        w, n, q = self.window, q.shape[2], q.contiguous()  # q is a view of the qkv projection: copy once
        kp, vp = (F.pad(t, (0, 0, w - 1, 0)) for t in (k, v))
        shift = [slice(w - 1 - o, w - 1 - o + n) for o in range(w)]
        scores = torch.stack([torch.linalg.vecdot(q, kp[:, :, sh]) for sh in shift], -1) / math.sqrt(q.shape[-1])
        before_start = torch.arange(n, device=q.device)[:, None] < torch.arange(w, device=q.device)[None, :]
        p = (scores + self.rel_bias[None, :, None, :]).masked_fill(before_start, float("-inf")).softmax(-1)
        out = p[..., 0, None] * vp[:, :, shift[0]]
        for o in range(1, w):
            out = out + p[..., o, None] * vp[:, :, shift[o]]
        return out  # (b, h, n, d / h); scores above are (b, h, n, w)

    def _dense(self, q, k, v):
        n = q.shape[2]
        offset = torch.arange(n, device=q.device)[:, None] - torch.arange(n, device=q.device)[None, :]
        near = self.rel_bias[:, offset.clamp(0, self.window - 1)]
        bias = torch.where(offset < self.window, near, self.far_bias[:, None, None])
        bias = bias.masked_fill(offset < 0, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias[None])


class HopModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        # One row per (character position, byte): a segment's embedding is the sum of its rows.
        rows = cfg.max_seg_len * 256 + 1
        self.char_embed = nn.Parameter(torch.randn(rows, cfg.dim) / math.sqrt(16))
        self.blocks = nn.ModuleList(MixerBlock(cfg) for _ in range(cfg.layers))
        if cfg.keys == "content":
            # Keys are the content embedding (a second, wider character composition) of one
            # window segment, picked by a learned selection over the window (plus "none").
            self.content_embed = nn.Parameter(torch.randn(rows, cfg.key_dim) / math.sqrt(cfg.key_dim))
            self.select = nn.Linear(cfg.dim, cfg.window + 1)
            nn.init.zeros_(self.select.weight)
            nn.init.zeros_(self.select.bias)
            self.to_q = nn.Linear(cfg.key_dim, cfg.key_dim)
            with torch.no_grad():
                self.to_q.weight.copy_(torch.eye(cfg.key_dim))
                self.to_q.bias.zero_()
        else:  # "mixed": keys are a projection of the mixer state
            self.norm_k, self.norm_q = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
            self.to_k = nn.Linear(cfg.dim, cfg.key_dim)
            self.to_q = nn.Linear(cfg.dim, cfg.key_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(4.0)))
        if cfg.rerank_dim:  # one vector per (position, byte) row, the pad row included: see chars()
            self.rerank_embed = nn.Parameter(torch.randn(rows, cfg.rerank_dim))
            self.rerank_log_scale = nn.Parameter(torch.tensor(0.0))
        self.question = QuestionReader(cfg)

    @property
    def dense(self) -> bool:
        return self.cfg.attention == "dense"

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(..., max_seg_len) ids -> (..., dim): sum of per-position character embeddings."""
        flat = ids.reshape(-1, ids.shape[-1])
        out = F.embedding_bag(flat, self.char_embed, mode="sum", padding_idx=0)
        return out.view(*ids.shape[:-1], -1)

    def content(self, ids: torch.Tensor) -> torch.Tensor:
        """What queries and reads are made of: the content embedding (or the segment embedding)."""
        if self.cfg.keys != "content":
            return self.embed(ids)
        flat = ids.reshape(-1, ids.shape[-1])
        out = F.embedding_bag(flat, self.content_embed, mode="sum", padding_idx=0)
        return out.view(*ids.shape[:-1], -1)

    def keys(self, x: torch.Tensor, c: torch.Tensor, fast: bool = False) -> torch.Tensor:
        """Segment embeddings x (B, n, dim) and contents c -> retrieval keys (B, n, key_dim)."""
        return self.key_parts(x, c, fast)[0]

    def key_parts(self, x: torch.Tensor, c: torch.Tensor, fast: bool = False):
        """(keys (B, n, key_dim), window selection (B, n, w + 1) or None for "mixed" keys)."""
        h = x
        for block in self.blocks:
            h = block(h, self.dense, fast)
        if self.cfg.keys != "content":
            return self.to_k(self.norm_k(h)), None
        w, n = self.cfg.window, x.shape[1]
        a = self.selection(h)
        cp = F.pad(c, (0, 0, w - 1, 0))
        shifted = torch.stack([cp[:, w - 1 - o : w - 1 - o + n] for o in range(w)], dim=2)  # (B, n, w, k)
        return torch.einsum("bnw,bnwk->bnk", a[..., :w], shifted), a

    def selection(self, h: torch.Tensor) -> torch.Tensor:
        """Mixer states (B, n, dim) -> (B, n, w + 1): which window segment (offsets 0..w-1, then
        "none") a position's key is; offsets before the sequence's start get 0."""
        w, n = self.cfg.window, h.shape[1]
        logits = self.select(h)
        before_start = torch.arange(n, device=h.device)[:, None] < torch.arange(w + 1, device=h.device)[None, :]
        before_start[:, w] = False
        return logits.masked_fill(before_start, float("-inf")).softmax(-1)

    # -- re-ranking (rerank_dim > 0) --------------------------------------------------------
    @property
    def reranks(self) -> bool:
        return bool(self.cfg.rerank_dim)

    @property
    def candidates_k(self) -> int:
        """How many of a step's best keys the readers keep: the re-ranked ones, or the top-k."""
        return max(self.cfg.top_k, self.cfg.rerank_k) if self.reranks else self.cfg.top_k

    @property
    def rerank_span(self) -> int:
        """Rows that decide a position's key selection: itself and the mixer's reach before it."""
        return self.cfg.layers * (self.cfg.window - 1) + 1

    def chars(self, ids: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """(..., L) ids -> (..., L, rerank_dim): a unit vector per character position (pads too,
        so a longer hash with the same prefix differs where the shorter one has pads). `table`:
        the unit rows, when a caller looks up many times."""
        return F.embedding(ids, self.unit_chars() if table is None else table)

    def unit_chars(self) -> torch.Tensor:
        """(rows, rerank_dim) the character table, each row scaled to length 1."""
        return F.normalize(self.rerank_embed, dim=-1)

    def rerank(self, qr: torch.Tensor, kr: torch.Tensor) -> torch.Tensor:
        """Query (..., L, r) and candidate (..., k, L, r) characters -> (..., k) logit bonus, 0
        where every position agrees, about -scale per position that differs."""
        agree = torch.einsum("...lr,...klr->...k", qr, kr)
        return self.rerank_log_scale.exp() * (agree - qr.shape[-2])

    def key_chars(self, ids: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Window rows (..., w, L) ending at a candidate (offset o at index w-1-o) and its
        selection (..., w + 1) -> (..., L, r): its key segment's characters."""
        w = self.cfg.window
        flipped = self.chars(ids.flip(-2))  # (..., w, L, r), offset o at index o
        return torch.einsum("...w,...wlr->...lr", a[..., :w], flipped)

    @torch.no_grad()
    def segment_keys(self, ids: torch.Tensor) -> torch.Tensor:
        """(n, L) segment ids -> (n, key_dim) keys: what every reader stores. keys(embed, content)
        computed for inference: embedding bags over the characters only (the same sums, without
        the pads) and the window attention as shifted products (equal up to float rounding)."""
        x = _char_bags(self.char_embed, ids)  # (n, dim)
        c = _char_bags(self.content_embed, ids) if self.cfg.keys == "content" else x  # (n, key_dim)
        return self.keys(x[None], c[None], fast=True)[0]

    def query(self, v: torch.Tensor) -> torch.Tensor:
        return self.to_q(v) if self.cfg.keys == "content" else self.to_q(self.norm_q(v))

    def logits(self, q: torch.Tensor, keys: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """(B, m, key_dim) x (B, n, key_dim) -> (B, m, n) pointer logits; pads get -inf."""
        s = torch.einsum("bmk,bnk->bmn", q, keys) * (self.logit_scale.exp() / math.sqrt(q.shape[-1]))
        return s if pad is None else s.masked_fill(pad[:, None, :], float("-inf"))

    def read_question(self, tail_ids: torch.Tensor, tail_pad: torch.Tensor) -> QuestionLogits:
        """tail_ids (B, T, L) the prompt's last segments, tail_pad (B, T) -> the question reader's logits."""
        return self.question(self.embed(tail_ids), tail_pad)

    def forward(self, ctx_ids, pad, q_ids, hops, skip, tail_ids, tail_pad):
        """Training forward: (pointer logits at each query's final hop, question logits per tail).

        ctx_ids (B, n, L), pad (B, n) bool, q_ids (B, m, L), hops (B, m), skip (B, m) bool,
        tail_ids (B * r, T, L), tail_pad (B * r, T). Rows with skip=False are single hops with the
        true query hash (teacher forcing: the chain-of-thought model reads its own previous answer,
        here the true one); the question reader is trained on its own (it picks that hash).
        """
        x, c = self.embed(ctx_ids), self.content(ctx_ids)
        keys, a = self.key_parts(x, c)
        q = self.query(self.content(q_ids))
        table = self.unit_chars() if self.reranks else None
        qr = self.chars(q_ids, table) if table is not None else None  # (B, m, L, r)
        ctx_chars = self.chars(ctx_ids, table) if table is not None else None  # (B, n, L, r)
        steps = torch.where(skip, hops, torch.ones_like(hops))
        final = None
        for t in range(int(steps.max())):
            logits = self.logits(q, keys, pad)
            if qr is not None:
                logits, idx, cand = self._reranked(logits, qr, ctx_chars, a)
            final = logits if final is None else torch.where((steps == t + 1)[..., None], logits, final)
            if t + 1 < int(steps.max()):
                q = self.query(torch.einsum("bmn,bnd->bmd", logits.softmax(-1), c))  # soft read of the pointed segment
                if qr is not None:  # and of its characters, over the top-k as at inference
                    qr = torch.einsum("bmk,bmklr->bmlr", logits.gather(-1, idx).softmax(-1), cand)
        return final, self.read_question(tail_ids, tail_pad)

    def _reranked(self, logits, qr, ctx_chars, a):
        """Training: (B, m, n) logits with each query's top-k re-ranked by its characters qr
        (B, m, L, r) against the key segments' (ctx_chars (B, n, L, r), selections a (B, n, w + 1));
        also the top-k positions (B, m, k) and the candidates' own characters (B, m, k, L, r)."""
        idx = logits.detach().topk(min(self.cfg.top_k, logits.shape[-1]), dim=-1).indices  # (B, m, k)
        kr, own = self.candidate_chars(ctx_chars, a, idx)
        return logits.scatter_add(-1, idx, self.rerank(qr, kr)), idx, own

    def candidate_chars(self, ctx_chars, a, idx):
        """Training: context characters (B, n, L, r), selections a (B, n, w + 1), candidates idx
        (B, m, k) -> (their key segments' characters, their own), each (B, m, k, L, r)."""
        w = self.cfg.window
        pos = idx[..., None] - torch.arange(w)  # (B, m, k, w): offset o at index o
        b = torch.arange(len(idx))[:, None, None, None]
        chars = ctx_chars[b, pos.clamp(min=0)]  # (B, m, k, w, L, r); rows before 0 get selection weight 0
        kr = torch.einsum("bmkw,bmkwlr->bmklr", a[b[..., 0], idx][..., :w], chars)
        return kr, chars[..., 0, :, :]


def _char_bags(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(n, L) ids -> (n, width) sums of their rows, pads (0) skipped: embed()'s sums, without
    visiting the pads (most of a row: a hash is 8-32 of 33 positions, `=` or a newline 1)."""
    real = ids != 0  # (n, L)
    starts = torch.zeros(len(ids), dtype=torch.long)
    starts[1:] = real.sum(1).cumsum(0)[:-1]
    return F.embedding_bag(ids[real], table, starts, mode="sum")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
