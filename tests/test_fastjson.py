"""Hot-path JSON: orjson and the standard-library fallback write what reads back to the same values."""

import json

import pytest

from hashhop.core import fastjson

RECORD = {
    "sample_id": "hh-0123456789abcdef",
    "query_index": 3,
    "cell": {"tokens": 2000, "depth": None, "cot": False},
    "completion": 'Der Hash ist «abc» — 答え: abcdefghijklmnop\n"quoted"\t\\',
    "path": ["aB", "cD"],
    "credit": 0.5,
    "latency_s": 1.25e-05,
    "cost_usd": 0.0,
    "broke_at": None,
    "correct": True,
}


def test_orjson_and_the_fallback_write_compact_utf8_json_of_the_same_values(monkeypatch):
    pytest.importorskip("orjson")
    fast = fastjson.dumps(RECORD)
    monkeypatch.setattr(fastjson, "orjson", None)
    slow = fastjson.dumps(RECORD)
    assert json.loads(fast) == json.loads(slow) == RECORD == fastjson.loads(fast)
    for data in (fast, slow):  # one line, no spaces between tokens, non-ASCII as UTF-8 (not \u escapes)
        assert b"\n" not in data and b'", "' not in data and "答え".encode() in data


def test_values_json_cannot_hold_are_written_as_text_either_way(monkeypatch):
    class Odd:
        def __str__(self):
            return "odd"

    assert json.loads(fastjson.dumps({"x": Odd()})) == {"x": "odd"}
    monkeypatch.setattr(fastjson, "orjson", None)
    assert json.loads(fastjson.dumps({"x": Odd()})) == {"x": "odd"}


def test_garbage_is_a_value_error_either_way(monkeypatch):
    with pytest.raises(ValueError):
        fastjson.loads(b"{not json")
    monkeypatch.setattr(fastjson, "orjson", None)
    with pytest.raises(ValueError):
        fastjson.loads(b"{not json")
