import pytest

from hashhop.core.errors import SpecError
from hashhop.generator.spec import Spec, format_size, parse_size


@pytest.mark.parametrize(
    "text,value",
    [
        ("4K", 4000),
        ("1M", 10**6),
        ("100M", 10**8),
        ("1.5K", 1500),
        ("2000", 2000),
        (" 3k ", 3000),
        ("1G", 10**9),
        (7, 7),
    ],
)
def test_sizes_parse_with_suffixes(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "K", "-1K", "1.2345K", "abc", "1T"])
def test_bad_sizes_are_rejected_with_a_hint(text):
    with pytest.raises(SpecError, match="K, M or G|whole number"):
        parse_size(text)


@pytest.mark.parametrize("n", [1, 999, 1000, 4000, 1_000_000, 1_500_000, 10**9])
def test_format_size_round_trips(n):
    assert parse_size(format_size(n)) == n


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"hops": 0}, "hops must be at least 1"),
        ({"queries": 0}, "queries must be at least 1"),
        ({"hash_len": 0}, "hash length"),
        ({"size": 0}, "size must be positive"),
        ({"format": "xml"}, "unknown format"),
        ({"alphabet": "klingon"}, "unknown alphabet"),
        ({"depth": 1.5}, "depth must be a fraction"),
        ({"query_hops": 5, "hops": 2}, "exceeds the longest chain"),
        ({"hop_mix": (1, 0)}, "hop_mix"),
        ({"distractors": 1, "hash_len": 3}, "at least 4 symbols"),
        ({"hops": True}, "must be an integer"),
    ],
)
def test_impossible_specs_fail_with_the_fix(fields, message):
    with pytest.raises(SpecError, match=message):
        Spec(**fields)


def test_spec_round_trips_through_dict():
    spec = Spec(size=1234, hops=3, hop_mix=(1, 2), depth=0.25, distractors=2, cot=True, format="magic")
    assert Spec.from_dict(spec.to_dict()) == spec


def test_unknown_spec_fields_are_named():
    with pytest.raises(SpecError, match="unknown spec field.*colour"):
        Spec.from_dict({"size": 10, "colour": "red"})
