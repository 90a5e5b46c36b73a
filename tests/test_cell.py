"""Cells: typed in memory, written exactly as hashhop 0.1.0 wrote them (same keys, same order,
`filler` and `suite` only when set), and read back from that form."""

import json

from hashhop.bench.suites import Grid
from hashhop.prompt.cell import Cell, cell_key


def test_a_cell_is_written_with_the_keys_and_order_of_0_1_0():
    cell = Cell(1000, "chars", 2, True, None, 3, 8, "hex", "plain")
    assert list(cell.to_dict()) == [
        "tokens",
        "tokenizer",
        "hops",
        "cot",
        "depth",
        "seed",
        "hash_len",
        "alphabet",
        "format",
    ]
    assert cell.key == json.dumps(cell.to_dict(), sort_keys=True, separators=(",", ":"))


def test_filler_and_suite_are_written_only_when_set():
    d = Cell(1000, "chars", 1, False, filler=False, suite="quick@1").to_dict()
    assert list(d)[-2:] == ["filler", "suite"] and d["filler"] is False and d["suite"] == "quick@1"


def test_order_is_written_only_when_not_shuffled_and_reaches_the_spec():
    assert "order" not in Cell(1000, "chars", 2, False, order="shuffled").to_dict()
    cell = Cell(1000, "chars", 2, False, order="backward")
    assert cell.to_dict()["order"] == "backward" and cell.spec(queries=1).order == "backward"
    assert Cell.from_dict({"tokens": 1000}).order == "shuffled"  # absent (any earlier record): shuffled
    assert Cell.of_spec(cell.spec(queries=1)) == Cell(1000, "chars", 2, False, order="backward")


def test_a_written_cell_reads_back_as_the_same_cell():
    grid = Grid((1000, 3000), (1, 2), depths=(None, 0.5), filler=False, orders=("shuffled", "forward"))
    for cell in grid.cells("chars", "sweep:t"):
        assert Cell.from_dict(json.loads(json.dumps(cell.to_dict()))) == cell
        assert cell_key(json.loads(json.dumps(cell.to_dict()))) == cell.key


def test_the_written_form_cannot_be_changed_through_to_dict():
    cell = Cell(1000, "chars", 1, False)
    cell.to_dict()["tokens"] = 5
    assert cell.to_dict()["tokens"] == 1000
