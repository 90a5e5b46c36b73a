"""Progress bars (core/progress.py, on tqdm): shown on stderr only for work past the delay, silenced
by progress=False, the finished bar drawn once, and the eval bar's running accuracy."""

from types import SimpleNamespace

import pytest

from hashhop.cli import main
from hashhop.core import progress
from hashhop.core.progress import Bar, EvalProgress
from hashhop.generator.dataset import write_jsonl
from hashhop.generator.spec import Spec

SPEC = Spec(size=2000, hops=2)


@pytest.fixture
def eager(monkeypatch):
    """Bars drawn from the start and on every update, as on a slow machine past the delay."""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "MININTERVAL", 0.0)


def test_generate_draws_its_finished_bar_once(tmp_path, capsys, eager):
    # The last update and close() both drew 2/2: a captured stderr showed the bar twice.
    assert main(["generate", "--tokens", "2K", "--samples", "2", "-o", str(tmp_path / "d.jsonl")]) == 0
    err = capsys.readouterr().err
    assert err.count("2/2") == 1 and "generate" in err and "1/2" in err


def test_quick_work_prints_no_bar(tmp_path, capsys):
    write_jsonl(SPEC, 2, str(tmp_path / "d.jsonl"))  # a few milliseconds: under the one-second delay
    assert capsys.readouterr().err == ""


def test_progress_false_prints_nothing_even_past_the_delay(tmp_path, capsys, eager):
    write_jsonl(SPEC, 2, str(tmp_path / "d.jsonl"), progress=False)
    assert capsys.readouterr().err == ""


def test_a_bar_closed_early_shows_where_it_stopped(capsys, eager):
    with Bar(4, "work") as bar:
        bar.update(1)
    err = capsys.readouterr().err
    assert "1/4" in err and "4/4" not in err and err.endswith("\n")


def test_the_eval_bar_shows_running_accuracy_errors_and_over_length(capsys):
    bar = EvalProgress(4, enabled=True)
    rows = (("ok", True, True), ("ok", True, False), ("error", False, False), ("over_length", False, False))
    for status, correct, strict in rows:  # the running accuracy is strict, the headline
        bar.update(SimpleNamespace(status=status, correct=correct, strict=strict))
    bar.close()
    err = capsys.readouterr().err
    assert "4/4" in err and "acc 0.500 err 1 over 1" in err and "ETA" in err


def test_a_disabled_eval_bar_writes_nothing(capsys):
    bar = EvalProgress(1, enabled=False)
    bar.update(SimpleNamespace(status="ok", correct=True, strict=True))
    bar.close()
    assert capsys.readouterr().err == ""
