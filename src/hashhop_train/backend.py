"""The `ltm` evaluation backend: `ltm:builtin` (the shipped checkpoint) or `ltm:PATH`.

The model reads the text any chat model gets: the contents of `Request.messages` joined by
newlines (its chat template), or `Request.prompt` when a request has no messages. It never reads
the harness's side fields (`start`, `hops`, `cot`, `context`): the question reader inside the
model finds the start hash, the step count, the mode and the layout in the text itself.
Readers of recent prompts are kept (up to `cache_bytes`), and a prompt that shares a prefix with
one of them reuses its keys, as llama.cpp's `cache_prompt` does.
Options: -M top_k=N, -M attention=dense|sparse, -M length_scale=false, -M threads=N, -M cache_bytes=N,
-M max_dense_segments=N (the dense twin refuses longer prompts as over_length, with the reason).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.core.errors import BackendError, HashhopError, OverLength, require

DEFAULT_CACHE_BYTES = 2 << 30
# Dense attention holds heads x n x n scores per mixer layer (float32): 16K segments are about 4 GB.
DEFAULT_MAX_DENSE_SEGMENTS = 16384


class PeakMemory:
    """`with PeakMemory() as p: ...` -> p.added: how far the resident set rose above its level at the
    start, sampled every 2 ms by a thread (Linux /proc; None elsewhere). Memory freed and reused
    inside the block is counted once: this is the block's peak, what a machine must have free."""

    _PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, every_s: float = 0.002):
        self.every_s, self.added = every_s, None
        self._stop = threading.Event()

    @classmethod
    def rss(cls) -> int | None:
        try:
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * cls._PAGE
        except (OSError, ValueError, IndexError):
            return None

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self._peak = max(self._peak, self.rss() or 0)

    def __enter__(self):
        self._start = self.rss()
        self._peak = self._start or 0
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self._start is not None:
            self.added = max(0, max(self._peak, self.rss() or 0) - self._start)
        return False


def prompt_text(request: Request) -> str:
    """The model's input: its chat template is the messages' contents joined by newlines."""
    if request.messages:
        return "\n".join(str(m.get("content", "")) for m in request.messages)
    return request.prompt


class LtmBackend(Backend):
    in_process = True  # computes in this process: a process (or GPU actor) of its own
    chat = True  # reads the messages' contents; count_tokens counts its own segments of them
    context_window = None  # no limit: the sparse model reads any length in linear memory

    def __init__(
        self,
        path: str,
        top_k: int | None = None,
        attention: str | None = None,
        length_scale: bool = True,
        threads: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        max_dense_segments: int = DEFAULT_MAX_DENSE_SEGMENTS,
    ):
        torch = require("torch", "train")
        from . import checkpoint
        from .cache import ReaderCache

        overrides = {k: v for k, v in (("top_k", top_k), ("attention", attention)) if v is not None}
        try:
            self.model, self.run, self.meta = checkpoint.load(path or "builtin", **overrides)
        except HashhopError as exc:
            raise BackendError(str(exc)) from exc
        if threads:
            torch.set_num_threads(int(threads))
        self.name = f"ltm:{path or 'builtin'}"
        self.readers = ReaderCache(self.model, int(cache_bytes), bool(length_scale))
        self.max_dense_segments = int(max_dense_segments)
        self._lock = threading.Lock()  # one forward at a time: memory stays that of one context

    def answer_text(self, text: str):
        """The model's Answer to one prompt text."""
        return self.answer_measured(text)[0]

    def answer_measured(self, text: str):
        """(Answer, memory the answer added at its peak, seconds it took): measured inside the lock, so
        a query waiting for another one is charged with neither that one's memory nor its time."""
        from .infer import answer, refuse_over_long

        self._check_dense_fits(text)
        with self._lock, PeakMemory() as peak:
            t0 = time.perf_counter()
            reader = self.readers.get(text)
            refuse_over_long(reader)
            written = answer(reader)
            seconds = time.perf_counter() - t0
        return written, peak.added, seconds  # added: set when the block closed

    def _check_dense_fits(self, text: str) -> None:
        """The dense twin is quadratic: refuse (over_length, with the reason) what would not fit."""
        if not self.model.dense:
            return
        from .segments import count_segments

        n = count_segments(text)
        if n > self.max_dense_segments:
            gb = self.model.cfg.heads * n * n * 4 / 1e9
            raise OverLength(
                f"dense attention over {n} segments needs about {gb:.0f} GB of scores per layer; the limit is "
                f"{self.max_dense_segments} segments (-M max_dense_segments=N), or use the sparse model"
            )

    async def generate(self, request: Request) -> Completion:
        # In a thread, so the runner's event loop (timeouts, progress) stays responsive. The latency is
        # the model's own time: concurrent queries wait for the model's lock, which is not its cost.
        written, added, seconds = await asyncio.to_thread(self.answer_measured, prompt_text(request))
        return Completion(
            text=written.text,
            prompt_tokens=None,
            completion_tokens=len(written.hashes),
            latency_s=seconds,
            finish_reason="stop",
            model=self.name,
            peak_memory_bytes=added,
        )

    def count_tokens(self, text: str) -> int | None:
        """The model's own units: segments of its tokenizer."""
        from .segments import count_segments

        return count_segments(text)

    async def aclose(self) -> None:
        self.readers.clear()


def create(model: str = "", **options) -> LtmBackend:
    known = {"top_k", "attention", "length_scale", "threads", "cache_bytes", "max_dense_segments"}
    check_options("ltm", options, known)
    return LtmBackend(model, **options)
