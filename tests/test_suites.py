"""Shipped suites: their grids match what they promise, every cell is buildable, tags are recorded."""

import pytest

from hashhop.bench.suites import FALLBACK_TOKENIZER, SUITES, Grid, get_suite, list_suites
from hashhop.core.errors import SpecError, SuiteError
from hashhop.generator.spec import parse_size


def test_the_named_suites_are_shipped_with_versions():
    assert set(SUITES) == {"quick", "standard", "magic", "invariance", "extreme", "niah-vs-hashhop"}
    for suite in SUITES.values():
        assert suite.tag == f"{suite.name}@{suite.version}" and suite.version >= 1


def test_standard_is_1k_to_128k_hops_1_2_4_8_both_modes_3_seeds():
    g = get_suite("standard").grid
    assert min(g.lengths) == 1000 and max(g.lengths) == parse_size("128K")
    assert g.hops == (1, 2, 4, 8) and set(g.cot) == {True, False} and len(g.seeds) == 3


def test_magic_uses_the_reference_layout_with_16_char_hashes_sized_in_characters():
    g = get_suite("magic").grid
    assert g.format == "magic" and g.hash_lens == (16,) and g.tokenizer == "chars"


def test_extreme_reaches_100m_tokens():
    assert max(get_suite("extreme").grid.lengths) == parse_size("100M")


def test_invariance_crosses_every_order_with_depths_at_3_lengths_and_hops_1_2_4():
    g = get_suite("invariance").grid
    assert g.orders == ("shuffled", "forward", "backward") and len(g.depths) >= 3 and None not in g.depths
    assert len(g.lengths) == 3 and g.hops == (1, 2, 4)
    cells = g.cells("x", "invariance@2")
    assert {c.order for c in cells} == set(g.orders) and {c.depth for c in cells} == set(g.depths)
    assert {c.to_dict().get("order") for c in cells} == {None, "forward", "backward"}  # shuffled is not written
    per_order = g.n_queries // len(g.orders) * 2 // 3  # queries of 2 or 4 hops at one order
    assert per_order >= 200 and g.n_queries <= 1200


def test_a_grid_of_shuffled_alone_records_no_orders_and_its_cells_are_unchanged():
    g = get_suite("quick").grid
    assert "orders" not in g.to_dict()
    assert all("order" not in c.to_dict() for c in g.cells("x"))
    assert Grid((1000,), (2,), orders=("forward",)).to_dict()["orders"] == ["forward"]


def test_an_unknown_order_in_a_grid_is_refused():
    with pytest.raises(SpecError, match="unknown order 'sideways'"):
        Grid((1000,), (2,), orders=("sideways",))


def test_quick_stays_small_enough_for_minutes_on_two_cores():
    g = get_suite("quick").grid
    # Shared contexts: one context per length and sample, so the text to read is the sum of the lengths.
    context_tokens = sum(g.lengths) * g.samples
    assert max(g.lengths) <= parse_size("1M") and len(g.seeds) == 1 and g.samples == 1
    assert g.n_queries <= 300 and context_tokens <= 1_500_000 and g.tokenizer == FALLBACK_TOKENIZER


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_cell_of_every_suite_is_a_valid_spec_and_carries_the_suite_tag(name):
    suite = get_suite(name)
    cells = suite.grid.cells(FALLBACK_TOKENIZER, suite.tag)
    assert len(cells) == suite.grid.n_cells == len(set(cells))
    for cell in cells:
        assert cell.suite == suite.tag and cell.tokenizer == FALLBACK_TOKENIZER
        spec = cell.spec(suite.grid.queries)
        assert spec.size == cell.tokens and spec.format == suite.grid.format


def test_cells_come_shortest_context_first():
    tokens = [c.tokens for c in get_suite("standard").grid.cells("chars")]
    assert tokens == sorted(tokens)


def test_a_version_can_be_insisted_on_and_a_wrong_one_is_refused():
    assert get_suite("quick@3") is SUITES["quick"]
    with pytest.raises(SuiteError, match="not 99"):
        get_suite("quick@99")


def test_unknown_suite_names_the_known_ones():
    with pytest.raises(SuiteError, match="quick, standard, magic, invariance, extreme"):
        get_suite("fast")


def test_empty_grid_axes_and_bad_counts_are_refused():
    with pytest.raises(Exception, match="hops is empty"):
        Grid(lengths=(1000,), hops=())
    with pytest.raises(Exception, match="samples and queries"):
        Grid(lengths=(1000,), hops=(1,), samples=0)


def test_listing_shows_each_suite_with_its_grid():
    text = list_suites()
    for suite in SUITES.values():
        assert suite.tag in text and suite.grid.describe() in text
