"""One rank's view of a prompt file: where its byte range starts and stops, its segments streamed in
pieces, and any segment's characters read back from the file when a retrieval step needs them.

A rank never holds its slice's text or segment ids: it keeps the byte offset of every `STRIDE`-th
segment (8 bytes per 64 segments) and re-segments a few KB from the nearest one to get a row back.
Cuts are made only where no segment is split (segments.py's rule), so a segment read back from
its recorded offset is the segment the rank keyed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import numpy as np

from .segments import segment_ids, segment_rows, segment_starts

STRIDE = 64  # segments between two recorded byte offsets
PIECE = 1 << 23  # bytes segmented and keyed at a time
_WS = frozenset(b" \t\n\v\f\r")
_LAYOUT = frozenset(b"\t\n\v\f\r")  # runs of these are segments (segments.py): never cut inside one
_MB = 1 << 20


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
        if not block:
            break
        for i, b in enumerate(block):
            if b in _WS and prev not in _LAYOUT:
                return min(pos + i, size)
            prev = b
        pos += len(block)
    return size


def read_before(f, start: int, want: int, max_len: int) -> np.ndarray:
    """(<= want, max_len) ids of the last `want` whole segments before byte `start`."""
    return segment_ids(_bytes_before(f, start, want), max_len)[-want:] if want else np.zeros((0, max_len), np.int64)


def last_segment_start(f, size: int) -> int:
    """Byte offset where the file's last segment starts (`size` when it holds none)."""
    data = _bytes_before(f, size, 1)
    starts = segment_starts(data)
    return size - len(data) + int(starts[-1]) if len(starts) else size


def _bytes_before(f, start: int, want: int) -> bytes:
    """Bytes before `start` from the beginning of its last `want` whole segments (or byte 0)."""
    back = 4096
    while True:
        lo = max(0, start - back)
        f.seek(lo)
        data = f.read(start - lo)
        starts = segment_starts(data)
        whole = starts if lo == 0 else starts[1:]  # the first may be cut by lo
        if len(whole) >= want or lo == 0:
            return data[int(whole[len(whole) - want]) :] if want and len(whole) >= want else data
        back *= 2


def pieces(f, start: int, stop: int, size: int = PIECE) -> Iterator[tuple[int, bytes]]:
    """(byte offset, bytes) pieces of [start, stop), each ending where no segment is split."""
    pos = start
    while pos < stop:
        end = cut_at(f, min(stop, pos + size), stop)
        f.seek(pos)
        yield pos, f.read(end - pos)
        pos = end


class SliceText:
    """The segments of bytes [start, stop) of a file, read back on demand from recorded offsets."""

    def __init__(self, path: str, start: int, stop: int, max_len: int):
        self.path, self.start, self.stop, self.max_len = path, start, stop, max_len
        self.n = 0
        self._marks: list[np.ndarray] = []  # byte offsets of segments 0, STRIDE, 2 * STRIDE, ...
        self._file = open(path, "rb")  # held for reads back; close() closes it

    def stream(self) -> Iterator[np.ndarray]:
        """(s, max_len) int16 ids of each piece of the slice, in order; records the offsets."""
        for offset, data in pieces(self._file, self.start, self.stop):
            ids, starts = segment_rows(data, self.max_len, np.int16)  # (s, L), (s,)
            first = (-self.n) % STRIDE  # the piece's first segment whose index is a multiple of STRIDE
            self._marks.append(offset + starts[first::STRIDE])
            self.n += len(ids)
            yield ids
        self._marks = [np.concatenate(self._marks)] if self._marks else [np.zeros(0, np.int64)]

    def rows_at(self, positions) -> np.ndarray:
        """(m, max_len) int64 ids of the slice's segments at `positions` (m,), read back from the file:
        each stretch between two marks is read and segmented once (a step asks for runs of rows)."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.zeros((len(positions), self.max_len), np.int64)
        stretch = positions // STRIDE
        for b in np.unique(stretch):
            at = np.nonzero(stretch == b)[0]
            skips = positions[at] % STRIDE
            out[at] = self._stretch_ids(int(b), int(skips.max()))[skips]
        return out

    def _stretch_ids(self, b: int, skip: int) -> np.ndarray:
        """Ids of the segments from mark b on, at least `skip` + 1 of them whole."""
        mark, want = int(self._marks[0][b]), 4096
        while True:
            data = self._read(mark, want)
            ids = segment_ids(data, self.max_len)
            if len(ids) > skip + 1 or mark + len(data) >= self.stop:  # segment `skip` is whole
                return ids
            want *= 2

    def _read(self, at: int, want: int) -> bytes:
        self._file.seek(at)
        return self._file.read(min(want, self.stop - at))

    def close(self) -> None:
        self._file.close()
