"""A dependency-free progress bar on stderr that appears only for work longer than a second, and the
eval runner's bar with running accuracy."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, total: float, desc: str = "", unit: str = "", stream=None, delay: float = 1.0):
        self.total, self.desc, self.unit = max(total, 1e-9), desc, unit
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.done = 0.0
        self.delay = delay
        self._last_draw = 0.0
        self.shown = False
        self.postfix = ""

    def update(self, amount: float = 1, postfix: str | None = None):
        self.done += amount
        if postfix is not None:
            self.postfix = postfix
        now = time.monotonic()
        if now - self.start >= self.delay and now - self._last_draw >= 0.2:
            self._draw(now)

    def _draw(self, now: float):
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        eta = elapsed / frac - elapsed if frac > 0 else float("inf")
        bar = "#" * int(frac * 24)
        eta_text = f"{eta:5.0f}s" if eta != float("inf") else "    ?"
        line = f"\r{self.desc} [{bar:<24}] {frac * 100:5.1f}% ETA {eta_text} {self.postfix}"
        self.stream.write(line[:160])
        self.stream.flush()
        self._last_draw = now
        self.shown = True

    def close(self):
        if self.shown:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EvalProgress:
    """The eval runner's bar: records done, with running accuracy, errors and over-length counts.

    Reads only `status` and `correct` of each record (duck-typed: this module imports nothing)."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total, self.enabled = total, enabled
        self.done = self.correct = self.scored = self.errors = self.over = 0
        # --progress asked for it: draw from the first record, not after the usual second.
        self.bar = Progress(total, "eval", stream=stream if enabled else open(os.devnull, "w"), delay=0.0)

    def update(self, record) -> None:  # a store.Record
        self.done += 1
        self.scored += record.status == "ok"
        self.correct += bool(record.correct)
        self.errors += record.status == "error"
        self.over += record.status == "over_length"
        if self.enabled:
            self.bar.update(1, postfix=self.line())

    def line(self) -> str:
        acc = f"{self.correct / self.scored:.3f}" if self.scored else "-"
        return f"{self.done}/{self.total} acc {acc} err {self.errors} over {self.over}"

    def close(self):
        self.bar.close()
