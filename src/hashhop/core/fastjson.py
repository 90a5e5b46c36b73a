"""JSON on the hot paths (stored records and samples, HTTP request and response bodies).

orjson (a core dependency) is about 10x faster than the standard library, which at thousands of
queries per second is the difference between the harness and the JSON encoder being the
bottleneck. Without it (an install that skipped dependencies) the standard library writes the
same compact UTF-8 JSON values (a float may be spelled differently: 1.25e-05 or 0.0000125).
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised by test_fastjson with orjson hidden
    orjson = None  # type: ignore[assignment]  # the stdlib fallback below checks for None


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON; values JSON has no type for are written as their str()."""
    if orjson is not None:
        return orjson.dumps(obj, default=str)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def loads(data: bytes | str) -> Any:  # Any: whatever JSON the bytes hold
    """Parse JSON; raises ValueError on anything that is not (orjson's error is a ValueError)."""
    return orjson.loads(data) if orjson is not None else json.loads(data)
