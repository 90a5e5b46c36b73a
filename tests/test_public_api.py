"""The public API: `hashhop.__all__` is pinned (a change is deliberate: update PUBLIC here), every
name in it imports and is documented, and so is every public function of the integration modules."""

from __future__ import annotations

import importlib
import inspect

import pytest

import hashhop

PUBLIC = {
    "HashhopError",
    "MultiHopEval",
    "MultiHopSample",
    "Query",
    "Sample",
    "Spec",
    "SpecError",
    "__version__",
    "build",
    "generate",
    "load_run",
    "make_sample",
    "parse_size",
}
# Modules whose every public function, class and method must carry a docstring.
DOCUMENTED_MODULES = (
    "hashhop.generator.card",
    "hashhop.cli.export",
    "hashhop.integrations.documents",
    "hashhop.integrations.lm_eval",
    "hashhop.integrations.lm_eval.utils",
    "hashhop.integrations.inspect_task",
)


def test_all_is_pinned():
    assert set(hashhop.__all__) == PUBLIC


def test_every_public_name_imports_from_the_package():
    for name in hashhop.__all__:
        assert hasattr(hashhop, name), f"hashhop.{name} is in __all__ but not importable"


def test_version_matches_the_installed_distribution():
    from importlib import metadata

    assert hashhop.__version__ == metadata.version("hashhop")


@pytest.mark.parametrize("name", sorted(PUBLIC - {"__version__"}))
def test_every_public_name_has_a_docstring(name):
    obj = getattr(hashhop, name, None)
    assert obj is not None, f"hashhop.{name} is missing"
    assert (obj.__doc__ or "").strip(), f"hashhop.{name} has no docstring"


def _public_callables(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    yield f"{name}.{attr}", member


@pytest.mark.parametrize("module_name", DOCUMENTED_MODULES)
def test_integration_modules_document_every_public_function(module_name):
    if module_name.endswith(("inspect_task", "lm_eval.utils")):
        pytest.importorskip("inspect_ai" if module_name.endswith("inspect_task") else "datasets")
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no module docstring"
    undocumented = [name for name, obj in _public_callables(module) if not (obj.__doc__ or "").strip()]
    assert not undocumented, f"{module_name}: no docstring on {', '.join(undocumented)}"


def test_load_run_gives_a_dataframe_of_a_run(tmp_path):
    pytest.importorskip("pandas")
    from hashhop.cli import main

    run = str(tmp_path / "run")
    assert main(["eval", "--model", "oracle", "--tokens", "1K", "--hops", "1", "--samples", "2", "-o", run]) == 0
    df = hashhop.load_run(run)
    assert len(df) == 2 and df["correct"].all()
    assert {"sample_id", "query_index", "kind", "credit", "cell_tokens", "cell_hops"} <= set(df.columns)
