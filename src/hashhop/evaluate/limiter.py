"""The runner's concurrency limit: adaptive on 429s, and cheap when many queries wait on it.

A run at concurrency 64 keeps hundreds of queries waiting (every context sends its queries
together), so a release hands its slot to exactly one waiter, first come first served, instead of
waking them all to race for it (asyncio.Condition.notify_all: O(waiters) per request).
"""

from __future__ import annotations

import asyncio
import collections
import time


class AdaptiveLimiter:
    """A concurrency limit that drops x0.8 on a 429 and grows back by one per success after a cooldown."""

    def __init__(self, limit: int, cooldown: float):
        self.max, self.limit, self.cooldown = limit, float(limit), cooldown
        self.active, self.min_seen, self.cuts = 0, limit, 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._last_cut = -1e9

    def _room(self) -> bool:
        return self.active < max(1, int(self.limit))

    async def acquire(self):
        if self._room() and not self._waiters:
            self.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the slot is counted in `active` by whoever woke us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # woken and cancelled at once: pass the slot on
            elif waiter in self._waiters:  # _wake may have dropped it already
                self._waiters.remove(waiter)
            raise

    def release(self):
        self.active -= 1
        self._wake()

    def _wake(self):
        while self._waiters and self._room():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)

    def rate_limited(self):
        now = time.monotonic()
        if now - self._last_cut > 0.5:  # one burst of 429s is one signal, not one cut per request
            self.limit = max(1.0, self.limit * 0.8)
            self.min_seen = min(self.min_seen, int(self.limit))
            self.cuts += 1
        self._last_cut = now

    def succeeded(self):
        if self.limit < self.max and time.monotonic() - self._last_cut > self.cooldown:
            self.limit = min(float(self.max), self.limit + 1)
            self._wake()
