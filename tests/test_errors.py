"""The exception tree: one module holds every hashhop error, each a HashhopError."""

import ast
import pathlib

import pytest

import hashhop
from hashhop.cli import main
from hashhop.core import errors

SRC = pathlib.Path(hashhop.__file__).parent


def _exception_classes_outside_core() -> list[str]:
    found = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "core" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and (base.id.endswith(("Error", "Exception")) or base.id == "OverLength")
                for base in node.bases
            ):
                found.append(f"{path.relative_to(SRC)}:{node.name}")
    return found


def test_every_exception_class_lives_in_core_errors():
    assert _exception_classes_outside_core() == []


def test_every_error_in_the_tree_is_a_hashhop_error():
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) >= 17
    assert all(issubclass(c, errors.HashhopError) for c in classes)


def test_runner_signals_are_hashhop_errors_and_keep_their_meaning():
    assert issubclass(errors.RateLimited, errors.TransientError)
    assert errors.RateLimited("slow down", retry_after=3.0).retry_after == 3.0
    assert set(errors.RUNNER_SIGNALS) == {errors.TransientError, errors.OverLength}


def test_the_documented_reexports_are_the_core_classes():
    from hashhop import backends

    assert backends.BackendError is errors.BackendError
    assert backends.TransientError is errors.TransientError
    assert backends.OverLength is errors.OverLength


@pytest.mark.parametrize("signal", [errors.TransientError("flaky"), errors.OverLength("too long")])
def test_cli_lets_a_runner_signal_escape_as_before(monkeypatch, signal):
    """A transient error or over-length that escapes the runner is a bug: shown whole, not as a user error."""

    def escape(args):
        raise signal

    monkeypatch.setattr("hashhop.cli.build_parser", lambda: _parser(escape))
    with pytest.raises(type(signal)):
        main(["boom"])


def test_cli_prints_a_user_error_in_one_line(monkeypatch, capsys):
    def fail(args):
        raise errors.SweepError("bad sweep\nfix it")

    monkeypatch.setattr("hashhop.cli.build_parser", lambda: _parser(fail))
    assert main(["boom"]) == 2
    assert capsys.readouterr().err == "error: bad sweep fix it\n"


def _parser(func):
    import argparse

    parser = argparse.ArgumentParser(prog="hashhop")
    sub = parser.add_subparsers()
    sub.add_parser("boom").set_defaults(func=func)
    return parser
