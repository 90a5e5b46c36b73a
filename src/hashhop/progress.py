"""A dependency-free progress bar on stderr that appears only for work longer than a second."""

from __future__ import annotations

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
