"""The reader cache: keys of recently read prompts, kept between requests under a byte bound.

A prompt seen before is answered from its Reader as is. A new prompt that shares a prefix with a
cached one (the same context, another question) gets a Reader that reuses the cached keys up to
that prefix and computes only the rest, as llama.cpp's `cache_prompt` reuses a prefix. Least
recently used readers are dropped once the cache holds more than `max_bytes` (ids, keys, text);
the reader just built is always kept, whatever its size.
"""

from __future__ import annotations

from collections import OrderedDict

from .infer import Reader, shared_prefix

_MIN_SHARED = 4096  # characters a cached prompt must share to be worth reusing


class ReaderCache:
    def __init__(self, model, max_bytes: int, length_scale: bool = True):
        self.model, self.max_bytes, self.length_scale = model, max_bytes, length_scale
        self._readers: OrderedDict[str, Reader] = OrderedDict()  # prompt text -> its reader (texts live here)
        self.hits = self.reuses = self.misses = 0

    def get(self, text: str) -> Reader:
        """The Reader of `text`: cached, built over the longest shared prefix, or built afresh."""
        reader = self._readers.get(text)
        if reader is not None:
            self.hits += 1
        else:
            base, shared = self._best_prefix(text)
            self.reuses, self.misses = self.reuses + (base is not None), self.misses + (base is None)
            reader = Reader(self.model, text, self.length_scale, reuse=base, shared=shared)
            self._readers[text] = reader
        self._readers.move_to_end(text)
        self._evict()
        return reader

    def _best_prefix(self, text: str) -> tuple[Reader | None, int]:
        """The cached reader sharing the longest prefix with `text` (at least _MIN_SHARED), and its length."""
        best, best_len = None, _MIN_SHARED - 1
        for cached, reader in self._readers.items():
            n = shared_prefix(cached, text)
            if n > best_len:
                best, best_len = reader, n
        return best, (best_len if best is not None else 0)

    def _evict(self) -> None:
        while len(self._readers) > 1 and self.nbytes > self.max_bytes:
            self._readers.popitem(last=False)

    @property
    def nbytes(self) -> int:
        """Bytes held: each reader's ids, keys and prompt characters (blocks shared by readers count once per reader)."""
        return sum(r.nbytes for r in self._readers.values())

    def __len__(self) -> int:
        return len(self._readers)

    def clear(self) -> None:
        self._readers.clear()
