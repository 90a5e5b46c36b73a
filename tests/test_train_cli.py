"""`hashhop train` and the `ltm` backend through the command line and the eval harness."""

import asyncio
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from hashhop.backends.base import Request
from hashhop.cli import main
from hashhop.core.errors import MissingExtraError

TINY = """
[model]
dim = 16
heads = 2
layers = 1
window = 3
key_dim = 16
max_seg_len = 16
tail = 32
reader_layers = 1
[train]
batch = 2
queries = 2
warmup = 1
log_every = 1
stages = [{name = "pairs", steps = 3, hops = [1, 1], lines = [12, 16]}]
"""


@pytest.fixture
def tiny_checkpoint(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "ckpt"
    assert main(["train", "--config", str(config), "--out", str(out), "--train.lr=0.01"]) == 0
    return out


def test_train_command_writes_weights_config_and_log(tiny_checkpoint):
    meta = json.loads((tiny_checkpoint / "config.json").read_text())
    assert meta["train"]["lr"] == 0.01 and meta["steps_done"] == 3
    assert (tiny_checkpoint / "model.safetensors").stat().st_size > 0
    assert (tiny_checkpoint / "train_log.jsonl").read_text().count('"step"') == 3


def test_train_command_without_torch_names_the_extra(monkeypatch, capsys, tmp_path):
    import hashhop_train.cli as cli_train

    def missing(module, extra):
        raise MissingExtraError(module, extra)

    monkeypatch.setattr(cli_train, "require", missing)
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "pip install 'hashhop[train]'" in capsys.readouterr().err


def test_train_command_rejects_an_unknown_override(capsys, tmp_path):
    assert main(["train", "--out", str(tmp_path), "--model.bogus=1"]) == 2
    assert "unknown override" in capsys.readouterr().err


def test_ltm_backend_answers_by_copying_context_segments(tiny_checkpoint):
    from hashhop.backends import get_backend
    from hashhop_train.data import make_problem
    from hashhop_train.dialects import Dialect
    from hashhop_train.segments import segment_ids, segment_text

    backend = get_backend(f"ltm:{tiny_checkpoint}")
    problem = make_problem(30, 3, 2, 3, seed=9, index=0, hash_len=12)
    q = problem.queries[0]
    prompt = Dialect().prompt(problem.prompt(), q.start, q.hops, True)
    req = Request("s", 0, ({"role": "user", "content": prompt},), "", 64)
    completion = asyncio.run(backend.generate(req))
    written = backend.answer_text(prompt)  # the same prompt again: what the (untrained) model decided
    assert completion.text == written.text and completion.completion_tokens == len(written.hashes) >= 1
    pieces = {segment_text(r) for r in segment_ids(prompt, backend.model.cfg.max_seg_len)}
    assert set(written.hashes) <= pieces  # a pointer: copied (a segment of the prompt), never invented


def test_ltm_backend_rejects_a_bad_checkpoint_path(tmp_path):
    from hashhop.backends import BackendError, get_backend

    with pytest.raises(BackendError, match="no checkpoint"):
        get_backend(f"ltm:{tmp_path}")


@pytest.mark.slow
def test_eval_command_scores_the_builtin_model(tmp_path):
    out = tmp_path / "run"
    assert (
        main(["eval", "--model", "ltm:builtin", "--tokens", "1K", "--hops", "1", "--samples", "2", "-o", str(out)]) == 0
    )
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
    assert all(r["correct"] for r in records)  # the shipped model solves 1-hop at 1K
