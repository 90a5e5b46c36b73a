"""The dense twin refuses what it cannot hold, as over_length with the reason; the sparse model reads on."""

import asyncio

import pytest

pytest.importorskip("torch")

from hashhop.backends.base import Request
from hashhop.core.errors import OverLength
from hashhop_train.backend import create

PROMPT = "\n".join(f"k{i:04d}aaaa = v{i:04d}bbbb" for i in range(40)) + "\n\nStart at k0001aaaa and follow 1 link(s)."


def _request(text: str) -> Request:
    return Request("s", 0, ({"role": "user", "content": text},), "", 64)


def test_a_prompt_over_the_dense_limit_is_over_length_with_the_reason():
    backend = create("builtin", attention="dense", max_dense_segments=50)
    with pytest.raises(OverLength, match=r"dense attention over \d+ segments .* limit is 50 segments"):
        asyncio.run(backend.generate(_request(PROMPT)))


def test_the_sparse_model_has_no_such_limit():
    backend = create("builtin", max_dense_segments=50)
    assert asyncio.run(backend.generate(_request(PROMPT))).text
