"""Retrieval keys as stored by a reader: float16, or quantised to int8 or int4 with a per-row scale.

A key row is symmetric-quantised: `scale = max|k| / qmax` (float16), `code = round(k / scale)`.
int8 keeps one byte per dimension (qmax 127); int4 packs two dimensions into a byte (qmax 7,
codes offset by 8). With the built-in 128-wide keys that is 256, 130 and 66 bytes per segment.
Scores are computed from the codes in blocks: `(q @ codes.T) * scale`, equal (up to float
rounding) to scoring the dequantised keys. `bits=16` keeps the float16 tensor itself, so a reader's default is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

KEY_BITS = (16, 8, 4)
_QMAX = {8: 127, 4: 7}


@dataclass(frozen=True)
class QuantKeys:
    """(n, key_dim) keys as codes: int8 (n, key_dim) or packed int4 uint8 (n, key_dim / 2), and
    float16 scales (n,)."""

    codes: torch.Tensor
    scale: torch.Tensor
    bits: int

    def __len__(self) -> int:
        return len(self.scale)

    def __getitem__(self, rows: slice) -> QuantKeys:
        return QuantKeys(self.codes[rows], self.scale[rows], self.bits)

    def float(self) -> torch.Tensor:
        """(n, key_dim) float32 dequantised keys."""
        return self.levels() * self.scale.float()[:, None]

    def levels(self) -> torch.Tensor:
        """(n, key_dim) float32 integer levels (codes without their offset)."""
        if self.bits == 8:
            return self.codes.float()
        low, high = self.codes & 15, self.codes >> 4  # dims 2i and 2i + 1
        return torch.stack([low, high], -1).flatten(1).float() - 8.0

    @property
    def nbytes(self) -> int:
        return self.codes.numel() * self.codes.element_size() + self.scale.numel() * 2


def store_keys(keys: torch.Tensor, bits: int = 16):
    """(n, key_dim) keys -> what a reader keeps: float16, or QuantKeys of `bits` (8 or 4)."""
    if bits == 16:
        return keys.to(torch.float16)
    if bits not in _QMAX:
        raise ValueError(f"key bits must be one of {KEY_BITS}, not {bits}")
    qmax = _QMAX[bits]
    scale = (keys.abs().amax(-1) / qmax).clamp_min(1e-8).to(torch.float16)  # (n,)
    codes = (keys / scale.float()[:, None]).round().clamp(-qmax, qmax)  # (n, key_dim)
    if bits == 8:
        return QuantKeys(codes.to(torch.int8), scale, 8)
    c = (codes + 8).to(torch.uint8)
    return QuantKeys(c[:, 0::2] | (c[:, 1::2] << 4), scale, 4)  # (n, key_dim / 2)


def empty_keys(n: int, key_dim: int, bits: int = 16):
    """Storage for n rows of keys, filled with `put_keys`: one allocation, codes and scales in the
    same buffer. A reader keeps a few large blocks instead of many small ones: small long-lived
    blocks between the forward pass's large short-lived buffers fragment glibc's heap (measured:
    290 bytes of RSS per segment for 66 bytes of int4 keys)."""
    if bits == 16:
        return torch.empty((n, key_dim), dtype=torch.float16)
    width = key_dim if bits == 8 else key_dim // 2
    buf = torch.empty(n * (width + 2), dtype=torch.uint8)  # every row's codes, then every scale
    codes = buf[: n * width].view(n, width)  # contiguous rows: the scan reads them in blocks
    return QuantKeys(codes.view(torch.int8) if bits == 8 else codes, buf[n * width :].view(torch.float16), bits)


def put_keys(dest, start: int, keys: torch.Tensor) -> None:
    """Store (m, key_dim) keys into rows [start, start + m) of `empty_keys` storage."""
    stored = store_keys(keys, dest.bits if isinstance(dest, QuantKeys) else 16)
    if isinstance(dest, QuantKeys):
        dest.codes[start : start + len(keys)] = stored.codes
        dest.scale[start : start + len(keys)] = stored.scale
    else:
        dest[start : start + len(keys)] = stored


def scores(q: torch.Tensor, keys) -> torch.Tensor:
    """(m, key_dim) queries x a block of stored keys (n rows) -> (m, n) dot products."""
    if not isinstance(keys, QuantKeys):
        return q @ keys.float().T
    if keys.bits == 8:
        return (q @ keys.codes.float().T) * keys.scale.float()[None, :]
    # int4: even dims from the low nibbles, odd from the high ones, without unpacking to (n, key_dim);
    # the codes' offset of 8 comes out as 8 * sum(q)
    low, high = (keys.codes & 15).float(), (keys.codes >> 4).float()  # (n, key_dim / 2) each
    dots = torch.addmm(q[:, 0::2] @ low.T, q[:, 1::2], high.T) - 8.0 * q.sum(-1, keepdim=True)  # (m, n)
    return dots * keys.scale.float()[None, :]


def key_nbytes(keys) -> int:
    """Bytes a block of stored keys holds."""
    return keys.nbytes if isinstance(keys, QuantKeys) else keys.numel() * keys.element_size()
