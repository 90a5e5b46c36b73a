"""The size guide: small obvious modules (at most 300 lines) and functions (at most 40 lines)."""

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 40


def _modules():
    return sorted(SRC.rglob("*.py"))


def _long_functions(path: pathlib.Path) -> list[str]:
    """Functions longer than the guide: `def` line to last line, decorators excluded."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_the_guide_sees_every_module():
    assert len(_modules()) > 50


def test_every_module_is_at_most_300_lines():
    long = [
        f"{p.relative_to(SRC)} ({n} lines)"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def test_every_function_is_at_most_40_lines():
    assert [f for p in _modules() for f in _long_functions(p)] == []
