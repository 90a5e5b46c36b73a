"""Fuzzing sweep files: any TOML/YAML text or parsed table gives a Sweep or a one-line SweepError.

Sweep files are hand-written, so every mistake must name the file, the key and the fix. A YAML
file can hold keys that are not strings (`1: x`), which TOML cannot; both paths are fuzzed.
"""

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.bench.model_entry import MODEL_KEYS
from hashhop.bench.sweep import GRID_KEYS, Sweep, load_sweep, parse_sweep
from hashhop.core.errors import HashhopError

# benchmarks/fuzz.py sets HASHHOP_FUZZ_EXAMPLES for a long, randomized run; CI runs the fixed examples.
EXAMPLES = int(os.environ.get("HASHHOP_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not EXAMPLES,
    max_examples=EXAMPLES or 250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["4K", "1M", "1G", "cot", "skip", "both", "any", "letters", "hex", "oracle", "../x", "1e9"])
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
KEY = st.text(max_size=8) | st.integers() | st.none() | st.booleans()  # YAML allows any scalar key


def grid_tables():
    return st.dictionaries(st.sampled_from(GRID_KEYS) | st.text(max_size=6), VALUE, max_size=5)


def model_tables():
    return st.dictionaries(st.sampled_from(MODEL_KEYS) | st.text(max_size=6), VALUE, max_size=5) | VALUE


def sweep_tables():
    return st.fixed_dictionaries(
        {},
        optional={
            "name": VALUE,
            "suite": st.sampled_from(["quick", "quick@2", "nope"]) | VALUE,
            "grid": grid_tables() | VALUE,
            "models": st.lists(model_tables(), max_size=3) | VALUE,
        },
    ) | st.dictionaries(KEY, VALUE, max_size=4)


def _parse_or_typed_error(data, path="fuzz.toml"):
    try:
        sweep = parse_sweep(data, path)
    except HashhopError as exc:
        assert str(exc) and "\n" not in str(exc)
        return exc
    assert isinstance(sweep, Sweep)
    return sweep


@FUZZ
@given(sweep_tables())
def test_any_parsed_table_gives_a_sweep_or_a_one_line_sweep_error(data):
    out = _parse_or_typed_error(data)
    if isinstance(out, Sweep):
        for m in out.models:  # a run folder name is one plain path component under -o
            assert m.folder not in ("", ".", "..") and "/" not in m.folder and "\\" not in m.folder


def _load_text(text: str, suffix: str):
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        return load_sweep(path)
    except HashhopError as exc:
        assert str(exc) and "\n" not in str(exc)
        return exc
    finally:
        os.unlink(path)


TOML_PIECES = [
    'name = "x"\n',
    "[grid]\n",
    'lengths = ["1K"]\n',
    "hops = [1, 2]\n",
    'cot = "both"\n',
    "[[models]]\n",
    'model = "oracle"\n',
    'api_key = "sk-1"\n',
    "depth = [0.5, 2]\n",
    "= \n",
    "samples = 0\n",
    'hash_len = ["x"]\n',
    'alphabet = "custom:="\n',
    'lengths = "1e999"\n',
    "options = 3\n",
    'name = "../../etc"\n',
    "[grid.x]\n",
    "\x00",
    '"""',
    "[[grid]]\n",
]


@FUZZ
@given(st.lists(st.sampled_from(TOML_PIECES) | st.text(max_size=10), max_size=14))
def test_any_toml_text_gives_a_sweep_or_a_one_line_sweep_error(pieces):
    _load_text("".join(pieces), ".toml")


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "1: 2\n",
                "grid:\n",
                "  lengths: [1K]\n",
                "  hops: 1\n",
                "models:\n",
                "  - oracle\n",
                "  - {model: x, name: ..}\n",
                "- a\n",
                "? [1]\n: 2\n",
                "!!python/x\n",
                "&a [*a]\n",
                "null: 1\n",
                "true: 1\n",
            ]
        )
        | st.text(max_size=8),
        max_size=10,
    )
)
def test_any_yaml_text_gives_a_sweep_or_a_one_line_sweep_error(pieces):
    pytest.importorskip("yaml")
    _load_text("".join(pieces), ".yaml")


def test_a_yaml_table_with_a_number_key_is_a_sweep_error():
    with pytest.raises(HashhopError, match="unknown key"):
        parse_sweep({1: "x", "grid": {"lengths": ["1K"], "hops": [1]}}, "f.yaml")


@pytest.mark.parametrize("name", ["..", "../../etc", "/etc", "a/../../b", ".", "x\\..\\y"])
def test_a_model_name_cannot_point_its_run_folder_outside_the_bench_folder(name):
    data = {"grid": {"lengths": ["1K"], "hops": [1]}, "models": [{"model": "oracle", "name": name}]}
    out = _parse_or_typed_error(data)
    if isinstance(out, Sweep):
        folder = out.models[0].folder
        assert folder not in (".", "..") and "/" not in folder and "\\" not in folder
