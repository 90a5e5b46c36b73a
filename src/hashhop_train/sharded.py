"""A Reader sharded over the ranks of a torch.distributed group (issue 17).

`ShardedReader(model, path, rank, world)` owns, on each rank: the cut of a UTF-8 context file into
`world` contiguous byte ranges at whitespace (no segment is split), the keys of its own range
(streamed in pieces, each with the `overlap` segments before it that the key window needs), the
file check every rank agrees on before reading (size + checksum), and the collectives of a
retrieval step: a merge of per-rank top-k lists that gives the single-process `Reader`'s result,
soft reads summed across ranks, and a pointed segment's characters supplied by its owner.

No rank holds the text: a rank keeps its keys (float16, or int8/int4 with `key_bits`, keystore.py)
and re-reads a pointed segment's characters from the file (slicefile.py). Questions are text that
follows the file (`ask`, questions.py): the prompt the model reads is the file's bytes, then the
question; a file that is a whole prompt is asked with the empty question. Collectives that fail
(a dead rank, a timeout) raise `ShardError` naming the rank. With world 1 no group is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import math

import numpy as np
import torch
import torch.distributed as dist

from hashhop.core.errors import HashhopError

from .infer import KEY_CHUNK, _between, merge_top_k, scan_top_k, window_keys
from .keystore import empty_keys, put_keys, store_keys
from .slicefile import SliceText, cut_at, file_digest, last_segment_start, read_before


class ShardError(HashhopError):
    """A sharded read that cannot go on: a rank died or timed out, or the ranks' files differ."""


class ShardedReader:
    """Rank `rank` of `world`: keys of its slice of the context file at `path`."""

    def __init__(self, model, path: str, rank: int = 0, world: int = 1, length_scale: bool = True, key_bits=16):
        self.model, self.cfg, self.rank, self.world = model, model.cfg, rank, world
        self.length_scale, self.key_bits = length_scale, key_bits
        if model.dense:
            raise ShardError("ShardedReader reads the sparse architecture only: run -M attention=sparse")
        self.device = torch.device("cuda", torch.cuda.current_device()) if _nccl() else torch.device("cpu")
        self._seq = 0
        self._check_file(path)
        self.overlap = (self.cfg.layers + 1) * (self.cfg.window - 1)  # the mixer's and key selection's reach
        L = self.cfg.max_seg_len
        with open(path, "rb") as f:
            start = cut_at(f, self.rank * self.size // self.world, self.size)
            stop = cut_at(f, (self.rank + 1) * self.size // self.world, self.size)
            before = read_before(f, start, self.overlap, L).astype(np.int16)  # (<= overlap, L)
            last = last_segment_start(f, self.size)  # questions re-read the last segment with them
            self.before_last = read_before(f, last, max(self.overlap, self.cfg.tail), L)  # (<= T, L)
            f.seek(last)
            self.last_bytes = f.read()
        self.text = SliceText(path, start, stop, L)
        with torch.no_grad():
            self.key_blocks, cut = self._slice_keys(before)
        self.n_local = self.text.n
        counts = self._gather(torch.tensor([self.n_local, int(cut)], dtype=torch.long), "segment counts")
        self.offset, self.n_ctx = int(counts[: self.rank, 0].sum()), int(counts[:, 0].sum())
        self.context_over_long = bool(counts[:, 1].any())
        owner = max((r for r in range(self.world) if counts[r, 0] > 0), default=0)  # holds the last segment
        self.n_shared = max(0, self.n_ctx - 1)  # the last segment is read again with each question
        self.n_own = self.n_local - int(self.rank == owner and self.n_ctx > 0)  # this rank's shared segments
        self.shared_keys = _between(self.key_blocks, 0, self.n_own)

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

    def _slice_keys(self, before: np.ndarray) -> tuple[list, bool]:
        """Key blocks of the slice's segments, one per piece, each chunk keyed with the segments
        before it; and whether a segment filled every position (it may have been cut)."""
        blocks, cut, carry = [], False, before  # carry: (<= overlap, L) rows before the piece
        for ids in self.text.stream():
            cut |= bool(len(ids) and (ids[:, -1] != 0).any())
            rows = np.concatenate([carry, ids])  # (c + s, L)
            block = empty_keys(len(ids), self.cfg.key_dim, self.key_bits)
            for s in range(len(carry), len(rows), KEY_CHUNK):
                e = min(len(rows), s + KEY_CHUNK)
                put_keys(block, s - len(carry), window_keys(self.model, rows, s, e))
            blocks.append(block)
            carry = rows[max(0, len(rows) - self.overlap) :] if self.overlap else rows[:0]
            del rows
            _trim_heap()
        return blocks, cut

    def keys_of(self, rows: np.ndarray, s: int, e: int):
        """Stored keys of rows[s:e] (e - s, key_dim), read with the window before s."""
        return store_keys(window_keys(self.model, rows, s, e), self.key_bits)

    def length_scale_of(self, n: int) -> float:
        """Sharper pointers on longer prompts (the single-process Reader's log-length scaling)."""
        if not self.length_scale:
            return 1.0
        return max(1.0, math.log(max(n, 2)) / math.log(self.cfg.train_len_segments))

    def ask(self, questions: list[str]):
        """The retrieval view of prompts `file + question` for each question (questions.py)."""
        from .questions import Asked

        return Asked(self, questions)

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

    def sum(self, t: torch.Tensor, what: str) -> torch.Tensor:
        """(…) on each rank -> the element-wise sum over ranks, on every rank."""
        return self._call(what, lambda x: dist.all_reduce(x), t.contiguous())[0]

    # -- retrieval over the shared segments -----------------------------------------------------
    def shared_top_k(self, q: torch.Tensor, k: int, factor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, key_dim) queries -> global top-k over the file's shared segments (scores, positions),
        each (m, min(k, n_shared)); `factor` scales the dot products (m, 1)."""
        s, i = scan_top_k(self.shared_keys, q, k, factor)  # local: (m, min(k, n_own))
        m, pad = q.shape[0], k - s.shape[1]  # ranks with fewer than k segments pad with -inf at n_shared
        s = torch.cat([s, torch.full((m, pad), float("-inf"))], 1)
        i = torch.cat([i + self.offset, torch.full((m, pad), self.n_shared, dtype=torch.long)], 1)
        all_s = self._gather(s.contiguous(), "top-k scores").permute(1, 0, 2).reshape(m, -1)  # (m, world*k)
        all_i = self._gather(i.contiguous(), "top-k positions").permute(1, 0, 2).reshape(m, -1)
        return merge_top_k(all_s, all_i, min(k, self.n_shared))

    def owned_rows(self, positions: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(…) global positions -> ((…, L) ids of the shared segments this rank owns, zeros
        elsewhere; (…) bool: which it owns)."""
        local = positions.numpy() - self.offset
        own = (local >= 0) & (local < self.n_own)
        rows = np.zeros((*positions.shape, self.cfg.max_seg_len), np.int64)
        if own.any():
            rows[own] = self.text.rows_at(local[own])
        return rows, own

    def close(self) -> None:
        self.text.close()


def _trim_heap() -> None:
    """Give the pages a piece's short-lived buffers freed back to the OS (glibc `malloc_trim`).
    Without it the heap keeps them, fragmented between the blocks that stay: measured on 6.7M
    segments, 122 bytes of RSS per segment for 66 bytes of int4 keys, against 72 with it."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl without the symbol): nothing to trim
        return None


_LIBC = _glibc()


def _store():
    return dist.distributed_c10d._get_default_store()


def _nccl() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl"


__all__ = ["ShardError", "ShardedReader", "cut_at", "file_digest", "merge_top_k", "read_before"]
