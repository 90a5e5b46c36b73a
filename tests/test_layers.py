"""The folder tree is the pipeline: a module imports only from its own stage or earlier ones, and the
core never imports the training package (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "hashhop"
# Data-flow order. `core` serves every stage; the package root (the public API) and __main__ sit on top.
STAGES = ("core", "generator", "prompt", "backends", "evaluate", "report", "bench", "integrations", "cli")
TOP = len(STAGES)


def stage_of(module: str) -> int:
    """Stage index of a dotted module name under hashhop (`hashhop.evaluate.store` -> 4)."""
    parts = module.split(".")
    if parts[0] != "hashhop":
        raise ValueError(module)
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return TOP
    return STAGES.index(parts[1])


def imported_modules(source: str, module: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, imported names) of every import in `source`, top-level or inside functions."""
    found = []
    package = module.split(".")[:-1]  # for a package's __init__ too: its own package
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base, tuple(alias.name for alias in node.names)))
    return found


def violations(source: str, module: str) -> list[str]:
    """Imports of `source` (the module `module`) that reach a later stage or the training package."""
    own = stage_of(module)
    bad = []
    for line, target, names in imported_modules(source, module):
        if target.split(".")[0] == "hashhop_train":
            bad.append(f"{module}:{line} imports {target} (training is never imported by the core)")
        elif target == "hashhop" and own < TOP and set(names) - {"__version__"}:
            bad.append(f"{module}:{line} imports the package root ({', '.join(names)}); import the stage module")
        elif target.startswith("hashhop.") and stage_of(target) > own:
            bad.append(f"{module}:{line} imports {target}, a later stage")
    return bad


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        out.append((".".join(rel.parts), path))
    return out


def test_every_module_belongs_to_a_stage():
    strays = [
        name for name, _ in _modules() if name.count(".") == 1 and name not in ("hashhop.__init__", "hashhop.__main__")
    ]
    assert strays == [], f"modules outside the stage packages: {strays}"
    for name, _ in _modules():
        stage_of(name)  # raises for a package that is not a stage


@pytest.mark.parametrize("name,path", _modules(), ids=[name for name, _ in _modules()])
def test_a_module_imports_only_its_own_or_earlier_stages(name, path):
    assert violations(path.read_text(), name) == []


@pytest.mark.parametrize(
    "module,source",
    [
        ("hashhop.generator.spec", "from hashhop.evaluate.score import score_query"),
        ("hashhop.generator.spec", "def f():\n    from hashhop.report import build\n"),
        ("hashhop.prompt.planner", "import hashhop.backends.openai"),
        ("hashhop.evaluate.runner", "from hashhop_train import checkpoint"),
        ("hashhop.cli.train", "import hashhop_train.train"),
        ("hashhop.generator.dataset", "from hashhop import Spec"),
        ("hashhop.generator.sample", "from ..evaluate import store"),
    ],
)
def test_the_layer_check_catches_a_later_stage_or_the_training_package(module, source):
    assert violations(source, module)


def test_the_layer_check_accepts_earlier_stages_and_the_version():
    source = "from hashhop.core.errors import SpecError\nfrom hashhop import __version__\nfrom . import spec\n"
    assert violations(source, "hashhop.generator.card") == []
