"""The backend contract: every hook the runner and the executors use is declared on `Backend`, with a
default; every backend derives from it; nothing probes a backend with getattr/hasattr; which backends
compute in-process is declared by their classes and read without opening a model."""

import ast
from pathlib import Path

import pytest

from hashhop.backends import BUILTIN, Backend, BackendError, get_backend, runs_in_process
from hashhop.backends.base import Completion

SRC = Path(__file__).resolve().parent.parent / "src"


class Minimal(Backend):
    name = "minimal"

    async def generate(self, request):
        return Completion(text="")


def test_a_backend_that_has_only_generate_gets_every_other_hook_from_its_defaults():
    import asyncio

    b = Minimal()
    assert b.count_tokens("x") is None and b.context_window is None and b.options() == {}
    assert b.chat is False and b.chat_overhead == 0 and b.cap_timeout(5.0) is False and not b.in_process
    assert asyncio.run(b.check()) is None and asyncio.run(b.aclose()) is None


def test_a_backend_without_generate_cannot_be_made():
    class Empty(Backend):
        name = "empty"

    with pytest.raises(TypeError):
        Empty()


def test_every_backend_class_in_the_sources_derives_from_backend():
    classes = []
    for path in [*(SRC / "hashhop" / "backends").glob("*.py"), SRC / "hashhop_train" / "backend.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Backend") and node.name != "Backend":
                classes.append((path.name, node.name, [ast.unparse(b) for b in node.bases]))
    assert len(classes) >= 7, classes
    assert all("Backend" in bases for _, _, bases in classes), classes


def _probes_a_backend(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
        return False
    if node.func.id not in ("getattr", "hasattr"):
        return False
    return "backend" in ast.unparse(node.args[0]).lower()


def test_nothing_probes_a_backend_with_getattr_or_hasattr():
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if _probes_a_backend(node):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found


def test_the_probe_scan_would_see_a_probe():
    assert _probes_a_backend(ast.parse('getattr(self.backend, "check", None)').body[0].value)


@pytest.mark.parametrize(
    "spec,local",
    [
        ("ltm:builtin", True),
        ("hf:gpt2", True),
        ("llamacpp:m.gguf", True),
        ("openai:gpt-4o-mini", False),
        ("anthropic:claude", False),
        ("oracle", False),
        ("random", False),
    ],
)
def test_which_backends_compute_in_process_is_read_from_their_classes(spec, local):
    assert runs_in_process(spec) is local


def test_every_builtin_backend_is_known_to_the_registry():
    assert {"openai", "anthropic", "hf", "llamacpp", "oracle", "random"} == set(BUILTIN)


def test_a_registered_factory_that_makes_no_backend_is_refused_in_one_line(monkeypatch):
    import hashhop.backends as registry

    monkeypatch.setattr(registry, "_load_factory", lambda name: lambda model, **options: object())
    with pytest.raises(BackendError, match="not a hashhop.backends.Backend"):
        get_backend("plugin:x")
