"""A Reader sharded over the ranks of a torch.distributed group (issue 17, first step).

`ShardedReader(model, path, rank, world)` owns, on each rank: the cut of a UTF-8 prompt file into
`world` contiguous byte ranges at whitespace (no segment is split), the read of its own range plus
the `overlap` segments before it that the key window needs (no rank holds the whole text), the
keys of its own segments, the file check every rank agrees on before reading (size + checksum),
and the collectives of a retrieval step: a merge of per-rank top-k lists that gives the
single-process `Reader`'s result, soft reads summed across ranks, and the pointed segment's
characters supplied by its owner. Every rank reads the question from the file's last segments. Collectives that fail (a dead rank, a timeout) raise
`ShardError` naming the rank. With world 1 no process group is needed.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os

import numpy as np
import torch
import torch.distributed as dist

from hashhop.core.errors import HashhopError

from .infer import KEY_CHUNK, Reader, merge_top_k, scan_top_k
from .question import tail_rows
from .segments import segment_ids, segment_text

_WS = frozenset(b" \t\n\v\f\r")
_LAYOUT = frozenset(b"\t\n\v\f\r")  # runs of these are segments (segments.py): never cut inside one
_MB = 1 << 20


class ShardError(HashhopError):
    """A sharded read that cannot go on: a rank died or timed out, or the ranks' files differ."""


def file_digest(path: str) -> tuple[int, bytes]:
    """(size, sha256 of size + first MB + last MB): what every rank must agree on."""
    size = os.path.getsize(path)
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_MB))
        f.seek(max(0, size - _MB))
        h.update(f.read(_MB))
    return size, h.digest()


def cut_at(f, pos: int, size: int) -> int:
    """The first whitespace byte at or after `pos` that does not continue a layout run (or `size`):
    a cut that splits no segment."""
    if pos <= 0:
        return 0
    f.seek(pos - 1)
    prev = f.read(1)[0]
    while pos < size:
        block = f.read(4096)
        for i, b in enumerate(block):
            if b in _WS and prev not in _LAYOUT:
                return pos + i
            prev = b
        pos += len(block)
    return size


def read_before(f, start: int, want: int, max_len: int) -> np.ndarray:
    """(<= want, max_len) ids of the last `want` whole segments before byte `start`."""
    back = 4096
    while True:
        lo = max(0, start - back)
        f.seek(lo)
        ids = segment_ids(f.read(start - lo), max_len)  # (s, max_len)
        whole = ids if lo == 0 else ids[1:]  # the first may be cut by lo
        if len(whole) >= want or lo == 0:
            return whole[len(whole) - want :] if want else whole[:0]
        back *= 2


class ShardedReader(Reader):
    """Rank `rank` of `world`: keys of its slice of the prompt file at `path`; answers as Reader."""

    def __init__(self, model, path: str, rank: int = 0, world: int = 1, length_scale: bool = True):
        self.model, self.cfg, self.rank, self.world = model, model.cfg, rank, world
        if model.dense:
            raise ShardError("ShardedReader reads the sparse architecture only: run -M attention=sparse")
        self.device = torch.device("cuda", torch.cuda.current_device()) if _nccl() else torch.device("cpu")
        self._seq = 0
        self._check_file(path)
        overlap = (self.cfg.layers + 1) * (self.cfg.window - 1)  # the mixer's and the key selection's reach
        before, self.ids = self._read_slice(path, overlap)  # (b, L), (n_local, L) int16
        with open(path, "rb") as f:  # every rank reads the question: the file's last segments
            self._tail = read_before(f, self.size, self.cfg.tail, self.cfg.max_seg_len)  # (<= T, L)
        self.n_local = len(self.ids)
        counts = self._gather(torch.tensor([self.n_local], dtype=torch.long), "segment counts")  # (world, 1)
        self.offset = int(counts[: self.rank].sum())
        self.n = int(counts.sum())
        self.scale = max(1.0, math.log(max(self.n, 2)) / math.log(self.cfg.train_len_segments)) if length_scale else 1.0
        with torch.no_grad():
            self.keys = self._slice_keys(before)  # (n_local, key_dim) float16

    def _check_file(self, path: str):
        size, digest = file_digest(path)
        mine = torch.tensor([size, *np.frombuffer(digest, dtype=np.int64).tolist()], dtype=torch.long)  # (5,)
        every = self._gather(mine, "file checks")  # (world, 5)
        for r, row in enumerate(every.tolist()):
            if row != mine.tolist():
                raise ShardError(
                    f"rank {self.rank}: prompt file {path} ({size} bytes) differs from rank {r}'s "
                    f"({row[0]} bytes, other checksum): every rank must read the same file; refused before reading"
                )
        self.size = size

    def _read_slice(self, path: str, overlap: int) -> tuple[np.ndarray, np.ndarray]:
        """(overlap segments before the slice, the slice's segments), ids as int16 (., max_seg_len)."""
        L = self.cfg.max_seg_len
        with open(path, "rb") as f:
            start = cut_at(f, self.rank * self.size // self.world, self.size)
            stop = cut_at(f, (self.rank + 1) * self.size // self.world, self.size)
            before = read_before(f, start, overlap, L) if start > 0 else np.zeros((0, L), np.int64)
            f.seek(start)
            ids = segment_ids(f.read(stop - start), L)
        return before.astype(np.int16), ids.astype(np.int16)

    def _slice_keys(self, before: np.ndarray) -> torch.Tensor:
        """Keys of the slice's segments, chunk by chunk, each chunk with the segments before it."""
        overlap, b = (self.cfg.layers + 1) * (self.cfg.window - 1), len(before)
        rows = np.concatenate([before, self.ids])  # (b + n_local, L)
        out = torch.empty((self.n_local, self.cfg.key_dim), dtype=torch.float16)
        for s in range(b, len(rows), KEY_CHUNK):
            lo, e = max(0, s - overlap), min(len(rows), s + KEY_CHUNK)
            k = self.model.keys(*self._embed_rows(rows[lo:e], both=True))[0]  # (e - lo, key_dim)
            out[s - b : e - b] = k[s - lo :].to(torch.float16)
        return out

    # -- collectives -------------------------------------------------------------------------
    def _call(self, what: str, fn, *tensors):
        """Run one collective on `tensors` (moved to the backend's device); failures name the rank."""
        self._seq += 1
        if self.world == 1:
            return tensors
        moved = [t.to(self.device) for t in tensors]
        try:
            _store().set(f"hashhop_shard/{self.rank}", str(self._seq))  # how far this rank got
            fn(*moved)
        except RuntimeError as exc:  # DistBackendError, gloo timeouts and resets
            raise ShardError(self._failure(what, exc)) from None
        return [t.cpu() for t in moved]

    def _failure(self, what: str, exc: Exception) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return (
            f"rank {self.rank} of {self.world}: {what} failed: {self._suspects()} died or did not answer "
            f"within the process group's timeout ({first}); see that rank's log"
        )

    def _suspects(self) -> str:
        """The ranks that did not reach this collective, from the rendezvous store's progress keys."""
        try:
            store = _store()
            store.set_timeout(datetime.timedelta(seconds=2))
            behind = []
            for r in range(self.world):
                key = f"hashhop_shard/{r}"
                if r != self.rank and (not store.check([key]) or int(store.get(key)) < self._seq):
                    behind.append(str(r))
        except Exception:  # the store itself is gone: rank 0 (or torchrun's agent) holds it
            return "rank 0 (it holds the rendezvous store)" if self.rank else "another rank"
        return f"rank {', '.join(behind)}" if behind else "another rank"

    def _gather(self, t: torch.Tensor, what: str) -> torch.Tensor:
        """(…) on each rank -> (world, …) stacked in rank order."""
        if self.world == 1:
            return t[None]
        parts = [torch.empty_like(t, device=self.device) for _ in range(self.world)]
        self._call(what, lambda x: dist.all_gather(parts, x), t)
        return torch.stack([p.cpu() for p in parts])

    def _sum(self, t: torch.Tensor, what: str) -> torch.Tensor:
        return self._call(what, lambda x: dist.all_reduce(x), t)[0]

    # -- retrieval ---------------------------------------------------------------------------
    def top_k(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> global top-k (scores, global positions), each (m, k)."""
        factor = self.model.logit_scale.exp() / math.sqrt(q.shape[-1]) * self.scale
        s, i = scan_top_k([self.keys], q, k, factor)  # local: (m, min(k, n_local)), positions in the slice
        m, kk = q.shape[0], min(k, self.n)
        pad = k - s.shape[1]  # ranks with fewer than k segments pad with -inf at position n
        s = torch.cat([s, torch.full((m, pad), float("-inf"))], 1)
        i = torch.cat([i + self.offset, torch.full((m, pad), self.n, dtype=torch.long)], 1)
        all_s = self._gather(s.contiguous(), "top-k scores").permute(1, 0, 2).reshape(m, -1)  # (m, world*k)
        all_i = self._gather(i.contiguous(), "top-k positions").permute(1, 0, 2).reshape(m, -1)
        return merge_top_k(all_s, all_i, kk)

    def _step(self, q: torch.Tensor):
        """One retrieval step: (pointed global position, read vector) per query; same on every rank."""
        scores, idx = self.top_k(q, self.cfg.top_k)  # (m, k)
        p = scores.softmax(-1)
        local = idx - self.offset
        own = (local >= 0) & (local < self.n_local)  # (m, k): positions this rank owns
        if self.n_local:
            rows = self._embed_rows(self.ids[local.clamp(0, self.n_local - 1).flatten().numpy()]).view(*idx.shape, -1)
        else:  # an empty slice owns nothing
            rows = torch.zeros(*idx.shape, self.cfg.key_dim)  # (m, k, d)
        read = torch.einsum("mk,mkd->md", p * own, rows)  # (m, d): this rank's share of the soft read
        read = self._sum(read.contiguous(), "soft read")
        return idx.gather(1, p.argmax(-1, keepdim=True))[:, 0], read

    def texts_at(self, positions: list[int]) -> list[str]:
        """The characters of each pointed segment, supplied by the rank that owns it (m,) -> m strings."""
        rows = torch.zeros((len(positions), self.cfg.max_seg_len), dtype=torch.long)  # (m, L)
        for j, pos in enumerate(positions):
            if 0 <= pos - self.offset < self.n_local:
                rows[j] = torch.from_numpy(self.ids[pos - self.offset].astype(np.int64))
        rows = self._sum(rows, "pointed characters")  # one owner per row: the sum is the owner's row
        return [segment_text(r) for r in rows.numpy()]

    def tail(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The question reader's input, the same on every rank: (T, L) rows and (T,) pad flags."""
        return tail_rows(torch.from_numpy(self._tail.astype(np.int64)), self.cfg.tail)

    @property
    def over_long(self) -> bool:
        local = bool(self.n_local and (self.ids[:, -1] != 0).any())
        return bool(self._sum(torch.tensor([int(local)]), "segment lengths").item())


def _store():
    return dist.distributed_c10d._get_default_store()


def _nccl() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl"


__all__ = ["ShardError", "ShardedReader", "cut_at", "file_digest", "merge_top_k", "read_before"]
