"""The `random` backend: answers a random hash of the context (seeded): the chance baseline."""

from __future__ import annotations

import hashlib
import random as _random
import time

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.backends.oracle import ContextCache
from hashhop.generator.lines import index_context


def _hash_pool(context: str) -> list[str]:
    table = index_context(context)
    return sorted(set(table) | set(table.values()))


class RandomBackend(Backend):
    """Per query, a generator seeded by (seed, sample id, query index): order-independent."""

    def __init__(self, model: str = "", seed: int = 0):
        self.name = "random" + (f":{model}" if model else "")
        self.seed = int(seed)
        self._pools = ContextCache(_hash_pool)

    async def generate(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        key = f"{self.seed}|{request.sample_id}|{request.query_index}".encode()
        rng = _random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
        pool = self._pools.get(request)
        n = request.hops if request.cot else 1
        text = " = ".join(rng.choice(pool) for _ in range(n)) if pool else ""
        return Completion(text=text, latency_s=time.perf_counter() - t0, finish_reason="stop", model=self.name)


def create(model: str = "", **options) -> RandomBackend:
    check_options("random", options, {"seed"})
    return RandomBackend(model, **options)
