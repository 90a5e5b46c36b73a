"""Command plugins: `hashhop train` comes from hashhop_train through the `hashhop.commands` entry points."""

import ast
import pathlib
from importlib import metadata

import pytest

import hashhop.cli as cli

TRAIN = metadata.EntryPoint(name="train", value="hashhop_train.cli:register", group=cli.COMMAND_GROUP)
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _with_plugins(monkeypatch, *entry_points):
    monkeypatch.setattr(cli, "command_entry_points", lambda: {ep.name: ep for ep in entry_points})


def test_pyproject_declares_the_train_and_serve_plugins():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"][cli.COMMAND_GROUP] == {
        "train": TRAIN.value,
        "serve": "hashhop_train.serve_cli:register",
    }


def _imported_modules(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_hashhop_never_imports_hashhop_train():
    imports = {
        f"{path.name}: {name}"
        for path in (ROOT / "src" / "hashhop").rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] == "hashhop_train"
    }
    assert imports == set()


def test_an_installed_plugin_adds_its_command_with_its_help_line(monkeypatch, capsys):
    _with_plugins(monkeypatch, TRAIN)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "train the long-context HashHop model (needs hashhop[train])" in capsys.readouterr().out


def test_an_installed_plugin_runs_with_its_own_flags(monkeypatch, capsys, tmp_path):
    _with_plugins(monkeypatch, TRAIN)
    assert cli.main(["train", "--out", str(tmp_path), "--model.bogus=1"]) == 2
    assert "unknown override 'model.bogus'" in capsys.readouterr().err  # the plugin's own config check ran


def test_an_absent_plugin_is_a_one_line_install_hint(monkeypatch, capsys):
    _with_plugins(monkeypatch)
    assert cli.main(["train", "--config", "x.toml", "--train.lr=1"]) == 2
    err = capsys.readouterr().err
    assert err == "error: the train command is not installed: pip install 'hashhop[train]'\n"


def test_a_plugin_that_cannot_be_imported_says_so_in_one_line(monkeypatch, capsys):
    broken = metadata.EntryPoint(name="train", value="hashhop_no_such_module:register", group=cli.COMMAND_GROUP)
    _with_plugins(monkeypatch, broken)
    assert cli.main(["train"]) == 2
    assert "cannot be imported" in capsys.readouterr().err


def test_without_any_plugin_the_cli_lists_every_command(monkeypatch):
    _with_plugins(monkeypatch)
    help_text = cli.build_parser().format_help()
    assert all(name in help_text for name in ("generate", "eval", "bench", "export", "train"))
    assert "not available" in help_text
