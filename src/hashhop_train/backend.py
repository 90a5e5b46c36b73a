"""The `ltm` evaluation backend: `ltm:builtin` (the shipped checkpoint) or `ltm:PATH`.

It renders each Request in the model's own training format: the context block
(`request.context`) as segments, the start hash (`request.start`), the hop count
(`request.hops`, the number of retrieval steps) and the mode (`request.cot`). It never reads
the instruction text around them. The answer is the pointed-at segments' characters:
`H2 = H3 = ...` with chain of thought, the final hash without.
Options: -M top_k=N, -M attention=dense|sparse, -M length_scale=false, -M threads=N.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.core.errors import BackendError, HashhopError, require


class LtmBackend(Backend):
    in_process = True  # computes in this process: a process (or GPU actor) of its own
    context_window = None  # no limit: the sparse model reads any length in linear memory

    def __init__(
        self,
        path: str,
        top_k: int | None = None,
        attention: str | None = None,
        length_scale: bool = True,
        threads: int | None = None,
    ):
        torch = require("torch", "train")
        from . import checkpoint

        overrides = {k: v for k, v in (("top_k", top_k), ("attention", attention)) if v is not None}
        try:
            self.model, self.run, self.meta = checkpoint.load(path or "builtin", **overrides)
        except HashhopError as exc:
            raise BackendError(str(exc)) from exc
        if threads:
            torch.set_num_threads(int(threads))
        self.name = f"ltm:{path or 'builtin'}"
        self.length_scale = bool(length_scale)
        # The last few contexts' Readers: queries of one context share its keys, and the runner
        # interleaves a few samples at a time.
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # one forward at a time: memory stays that of one context

    def _reader(self, request: Request):
        from .infer import Reader

        key = (request.sample_id, len(request.context), hash(request.context))
        if key not in self._cache:
            self._cache[key] = Reader(self.model, request.context, self.length_scale)
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def _answer(self, request: Request) -> list[str]:
        with self._lock:
            return self._reader(request).answer([request.start], max(1, request.hops), request.cot)[0]

    async def generate(self, request: Request) -> Completion:
        from .infer import render_answer

        t0 = time.perf_counter()
        # In a thread, so the runner's event loop (timeouts, progress) stays responsive.
        written = await asyncio.to_thread(self._answer, request)
        text = render_answer(written, request.cot)
        return Completion(
            text=text,
            completion_tokens=len(written),
            latency_s=time.perf_counter() - t0,
            finish_reason="stop",
            model=self.name,
        )

    def count_tokens(self, text: str) -> int | None:
        return None

    async def aclose(self) -> None:
        self._cache.clear()


def create(model: str = "", **options) -> LtmBackend:
    known = {"top_k", "attention", "length_scale", "threads"}
    check_options("ltm", options, known)
    return LtmBackend(model, **options)
