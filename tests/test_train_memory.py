"""The ltm backend's per-query memory: the resident set's rise while a query is answered."""

import sys

import numpy as np
import pytest

from hashhop_train.backend import PeakMemory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")


def test_memory_held_inside_the_block_counts_even_once_freed():
    with PeakMemory() as peak:
        block = np.ones(200 << 20, dtype=np.uint8)  # 200 MB, touched
        del block
    assert peak.added is not None and peak.added >= 150 << 20


def test_a_block_that_allocates_little_adds_little():
    with PeakMemory() as peak:
        sum(range(1000))
    assert peak.added is not None and peak.added < 20 << 20


def test_each_ltm_completion_reports_the_memory_its_query_added():
    import asyncio

    pytest.importorskip("torch")
    from hashhop.backends.base import Request
    from hashhop_train.backend import create

    backend = create("builtin")
    context = "\n".join(f"k{i:06d}x = v{i:06d}y" for i in range(20_000))
    request = Request("s", 0, ({"role": "user", "content": f"{context}\n\nWhat is 1 hop from k000007x?"},), "", 16)
    completion = asyncio.run(backend.generate(request))
    assert completion.peak_memory_bytes is not None and completion.peak_memory_bytes > 0
