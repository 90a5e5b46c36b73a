"""Fuzzing the dataset reader: any file handed to `read_samples` yields samples or a DatasetError.

A dataset can come from anywhere (a download, a hand edit, a truncated copy); the reader must
name the bad line, never crash with a traceback, and never accept an edited sample as genuine.
"""

import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.core.errors import HashhopError
from hashhop.generator.build import make_sample
from hashhop.generator.dataset import read_samples
from hashhop.generator.sample import Sample
from hashhop.generator.spec import Spec

# benchmarks/fuzz.py sets HASHHOP_FUZZ_EXAMPLES for a long, randomized run; CI runs the fixed examples.
EXAMPLES = int(os.environ.get("HASHHOP_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not EXAMPLES,
    max_examples=EXAMPLES or 200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

GOOD = make_sample(Spec(size=300, hops=2, queries=2, hash_len=8, seed=3), 0).to_dict(with_prompt=True)
GOOD_LINE = json.dumps(GOOD).encode() + b"\n"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _read(data: bytes, suffix: str = ".jsonl") -> list[Sample]:
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return list(read_samples(path))
    finally:
        os.unlink(path)


def _read_or_typed_error(data: bytes, suffix: str = ".jsonl"):
    try:
        return _read(data, suffix)
    except HashhopError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line, as the CLI prints it
        return exc


def test_a_genuine_file_reads_back_the_same_sample():
    (sample,) = _read(GOOD_LINE)
    assert sample.id == GOOD["id"]


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_samples_or_a_dataset_error(data):
    _read_or_typed_error(data)


@FUZZ
@given(st.integers(0, len(GOOD_LINE)), st.binary(max_size=8))
def test_a_truncated_or_spliced_sample_never_crashes(cut, junk):
    out = _read_or_typed_error(GOOD_LINE[:cut] + junk)
    if isinstance(out, list):  # only whitespace survived, or the line was left whole
        assert all(s.id == GOOD["id"] for s in out)


@FUZZ
@given(st.sampled_from(sorted(GOOD)), JSON)
def test_a_sample_with_one_field_replaced_is_refused_or_identical(key, value):
    edited = {**GOOD, key: value}
    out = _read_or_typed_error(json.dumps(edited).encode() + b"\n")
    if isinstance(out, list):
        # Accepted only if the change does not alter the sample's content (its id still matches).
        assert [s.id for s in out] == [GOOD["id"]]


@FUZZ
@given(st.sampled_from(["spec", "queries", "shape"]), st.data())
def test_nested_fields_with_hostile_values_are_refused(field, data):
    edited = json.loads(json.dumps(GOOD))
    target = edited[field]
    if isinstance(target, list):
        target = target[0] if target else {}
    if isinstance(target, dict) and target:
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(JSON)
    out = _read_or_typed_error(json.dumps(edited).encode() + b"\n")
    if isinstance(out, list):
        assert [s.id for s in out] == [GOOD["id"]]


@FUZZ
@given(JSON)
def test_any_json_line_gives_a_dataset_error_naming_the_line(value):
    out = _read_or_typed_error(GOOD_LINE + json.dumps(value).encode() + b"\n")
    if isinstance(out, HashhopError):
        assert ":2:" in str(out)


@FUZZ
@given(st.binary(max_size=3000))
def test_a_corrupt_parquet_file_is_a_dataset_error(data):
    pytest.importorskip("pyarrow")
    _read_or_typed_error(b"PAR1" + data + b"PAR1", ".parquet")


def test_a_missing_file_and_a_folder_are_dataset_errors(tmp_path):
    for path in (tmp_path / "nope.jsonl", tmp_path):
        with pytest.raises(HashhopError, match="no dataset"):
            list(read_samples(str(path)))


def test_a_query_whose_chain_is_empty_is_a_dataset_error():
    edited = json.loads(json.dumps(GOOD))
    edited["queries"][0]["chain"] = []
    with pytest.raises(HashhopError, match=":1: "):
        _read(json.dumps(edited).encode() + b"\n")


def test_a_spec_field_name_with_a_newline_still_gives_a_one_line_error():
    edited = {**GOOD, "spec": {**GOOD["spec"], "\nboom": 1}}
    out = _read_or_typed_error(json.dumps(edited).encode() + b"\n")
    assert isinstance(out, HashhopError)
