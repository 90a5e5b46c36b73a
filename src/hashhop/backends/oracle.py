"""The `oracle` backend: answers every query exactly by indexing the context's lines.

A reference point (100% by construction) and the backend most tests use. It reads only the
context text it is sent, like a model would (generator/lines.py), plus the query's start and hop count.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.generator.lines import index_context, walk

Index = TypeVar("Index")  # what `build` makes of a context


class ContextCache(Generic[Index]):
    """The last few indexed contexts: queries of one context are sent together, contexts interleave."""

    def __init__(self, build: Callable[[str], Index], size: int = 16):
        self.build, self.size = build, size
        self._items: OrderedDict[str, Index] = OrderedDict()

    def get(self, request: Request) -> Index:
        key = request.sample_id
        if key in self._items:
            self._items.move_to_end(key)
        else:
            self._items[key] = self.build(request.context)
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return self._items[key]


class OracleBackend(Backend):
    """Solves every query; `delay` (seconds) simulates a slow model for tests."""

    def __init__(self, model: str = "", delay: float = 0.0):
        self.name = "oracle" + (f":{model}" if model else "")
        self.delay = float(delay)
        self._tables = ContextCache(index_context)

    async def generate(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        if self.delay:
            await asyncio.sleep(self.delay)
        hashes = walk(self._tables.get(request), request.start, request.hops)[1:]  # the start is not an answer
        text = " = ".join(hashes) if request.cot else (hashes[-1] if hashes else "")
        return Completion(text=text, latency_s=time.perf_counter() - t0, finish_reason="stop", model=self.name)


def create(model: str = "", **options) -> OracleBackend:
    check_options("oracle", options, {"delay"})
    return OracleBackend(model, **options)
